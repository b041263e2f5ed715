# shellcheck shell=bash
#
# Shell functions shared by bench/run and bench/check-openresty: the nginx
# configurations of the bench setups, starting and stopping them.
#
# The caller sets: bench (this directory), RUN (work directory), SO (the
# module), nginx (the binary), PORT_BACKEND, and the array servers=().
# shellcheck disable=SC2154

LUA_MODULES=/usr/lib/nginx/modules      # Debian's ndk and lua modules

die() {
    echo "bench: $*" >&2
    exit 1
}

say() {
    printf '%s bench: %s\n' "$(date +%H:%M:%S)" "$*"
}

now_us() {
    date +%s%6N
}

render() {      # render TEMPLATE OUT key=value...
    local tpl=$1 out=$2
    shift 2
    perl -e '
        my ($tpl, @kv) = @ARGV;
        my %v = map { /^([^=]+)=(.*)$/s ? ($1, $2) : () } @kv;
        local $/;
        open my $f, "<", $tpl or die "$tpl: $!";
        my $t = <$f>;
        $t =~ s/\@([A-Z_]+)\@/exists $v{$1} ? $v{$1} : ""/ge;
        print $t;' "$tpl" "$@" >"$out"
}

# setup_conf NAME PORT CREDS [cpu]: RUN/NAME/conf/nginx.conf for the setup
# that NAME starts with (iot, ceiling, basic, openresty); "cpu" makes the
# one-process form of the CPU count; iot_priority=VALUE in the environment
# sets iot's iot_auth_bcrypt_priority (default: the module's)
setup_conf() {
    local name=$1 port=$2 creds=$3 cpu=${4:-}
    local dir=$RUN/$name
    local main="" http="" auth="" auth_timed="" auth_lock="" auth_short=""
    local result="" status="" access
    local workers=2

    # the CPU count runs one process (with reuseport, a second worker's
    # socket would take connections nobody accepts)
    [ -n "$cpu" ] && workers=1
    mkdir -p "$dir/conf" "$dir/logs"

    case $name in
    iot*)
        main="load_module $SO;
thread_pool iot_auth threads=2;"
        http="
    iot_auth_zone zone=iot:16m ttl=10m;
    iot_auth_zone zone=short:1m ttl=2s;
    iot_auth_zone zone=short_norefresh:1m ttl=2s refresh=100%;
    iot_auth_credentials file=$creds;
${iot_priority:+    iot_auth_bcrypt_priority $iot_priority;
}"
        auth="iot_auth zone=iot;"
        auth_timed=$auth
        auth_lock="iot_auth zone=iot;
            iot_auth_lockout failures=3 window=60s duration=60s;"
        auth_short="iot_auth zone=short;"
        [ -n "$cpu" ] || result="add_header X-Auth-Result \$iot_auth_result always;"
        status="
        location = /status {
            iot_auth_status;
        }

        # S3 without refresh: verdicts run out and are revalidated
        location = /short_norefresh {
            iot_auth zone=short_norefresh;
            add_header X-Bench-T \$http_x_bench_t always;
            $result
            empty_gif;
        }
"
        ;;
    openresty*)
        main="load_module $LUA_MODULES/ndk_http_module.so;
load_module $LUA_MODULES/ngx_http_lua_module.so;
thread_pool openresty_bcrypt threads=2;"
        http=$(render "$bench/conf/openresty.conf.in" /dev/stdout \
                   "LUA=$bench/lua" "CREDS=$creds")
        access='access_by_lua_block { require("openresty_auth").access'
        auth="$access(\"iot\") }"
        auth_timed="$access(\"timed\") }"
        auth_lock="$access(\"lock\") }"
        auth_short="$access(\"short\") }"
        status="
        location = /status {
            content_by_lua_block { require(\"openresty_auth\").status() }
        }
"
        ;;
    basic*)
        auth="auth_basic bench;
            auth_basic_user_file $creds;"
        auth_timed=$auth
        auth_lock=$auth
        auth_short=$auth
        ;;
    esac

    render "$bench/conf/front.conf.in" "$dir/conf/nginx.conf" \
        "MAIN=$main" "HTTP=$http" "AUTH=$auth" "AUTH_TIMED=$auth_timed" \
        "AUTH_LOCK=$auth_lock" "AUTH_SHORT=$auth_short" "RESULT=$result" \
        "STATUS=$status" "PORT=$port" "BACKEND_PORT=$PORT_BACKEND" \
        "WORKERS=$workers"
}

backend_conf() {
    mkdir -p "$RUN/backend/conf" "$RUN/backend/logs"
    render "$bench/conf/backend.conf.in" "$RUN/backend/conf/nginx.conf" \
        "PORT=$PORT_BACKEND"
}

port_free() {   # port_free PORT...: dies when one is in use
    local port
    for port in "$@"; do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            die "127.0.0.1:$port is in use (the bench uses $*)"
        fi
    done
}

wait_port() {   # wait_port PORT SECONDS
    for _ in $(seq $(($2 * 20))); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

start_nginx() { # start_nginx NAME PORT
    local dir=$RUN/$1
    "$nginx" -t -q -p "$dir/" -c conf/nginx.conf -e "$dir/logs/error.log" \
        || die "nginx -t failed for $1: $dir/conf/nginx.conf"
    servers+=("$dir")
    "$nginx" -p "$dir/" -c conf/nginx.conf -e "$dir/logs/error.log"
    wait_port "$2" 10 || die "$1 did not start on port $2"
}

stop_nginx() {  # stop_nginx DIR: QUIT, then TERM and KILL after 5 s
    local dir=$1 pid
    [ -f "$dir/logs/nginx.pid" ] || return 0
    pid=$(cat "$dir/logs/nginx.pid" 2>/dev/null) || return 0
    [ -n "$pid" ] || return 0
    kill -QUIT "$pid" 2>/dev/null || return 0
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.05
    done
    kill -TERM "$pid" 2>/dev/null || true
    sleep 0.5
    kill -KILL "$pid" 2>/dev/null || true
}

workers() {     # pids of the worker processes of setup NAME
    ps -o pid= --ppid "$(cat "$RUN/$1/logs/nginx.pid")" | tr -d ' '
}
