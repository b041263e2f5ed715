# S7, the MQTT front end: sourced by bench/run, which provides the helpers
# (say, die, render, start_nginx, stop_nginx, wait_port) and the device
# sets ($hot, $herd, $fleet), and runs s7_mqtt after S6, or alone with
# BENCH_ONLY=mqtt.
#
# One mosquitto and one nginx (bench/conf/mqtt.conf.in) with two stream
# servers in front of it: "iot" (ngx_stream_iot_auth_module, credentials
# of all the bench's devices) and "plain" (proxy_pass only).  The load
# comes from bench/mqtt-connect (compiled here): connections that send a
# CONNECT, wait for the CONNACK, DISCONNECT and wait for the close.
#
#   rate        S7_ROUNDS rounds, iot and plain in turn (the order
#               alternates), S7_SECS seconds each, 32 connections at a
#               time, the $HOT devices (verified before: all HITs):
#               CONNECTs per second, CONNACK latency
#   herd        $HERD connections at once for one cold device: bcrypts,
#               time until the last CONNACK
#   cold storm  one connection per fleet device ($FLEET, none verified
#               yet), all at once: bcrypts, time until the last CONNACK
#   warm storm  the same again, every verdict cached; and the same
#               storm through plain, for reference
#
# Writes RES/s7-mqtt.md (a section bench/report appends to
# benchmarks.md) and RES/s7-*.out.  Ports 127.0.0.1:18520-18523.

S7_PORT_BROKER=18520
S7_PORT_IOT=18521
S7_PORT_PLAIN=18522
S7_PORT_STATUS=18523

STREAM_SO=${STREAM_SO:-$(dirname "$SO")/ngx_stream_iot_auth_module.so}

if [ "$QUICK" = 1 ]; then
    S7_ROUNDS=1; S7_SECS=2; S7_BOUND=120
else
    S7_ROUNDS=5; S7_SECS=5; S7_BOUND=180
fi


# bcrypts of the stream zone so far, from the HTTP status page
s7_bcrypts() {
    curl -sf -m 5 "http://127.0.0.1:$S7_PORT_STATUS/status" \
        | awk '/^iot_auth_bcrypt_total\{zone="mqtt"/ { s += $2 }
               END { print s + 0 }' \
        || die "S7: the status page did not answer"
}

# s7_load NAME PORT ARGS...: a run of mqtt-connect, its output kept in
# RES/s7-NAME.out
s7_load() {
    local name=$1 port=$2
    shift 2
    "$RUN/mqtt-connect" "$@" 127.0.0.1 "$port" >"$RES/s7-$name.out" \
        || die "S7: mqtt-connect failed ($name)"
}

s7_val() {      # s7_val NAME KEY: a value of RES/s7-NAME.out
    sed -n "s/^$2 //p" "$RES/s7-$1.out"
}

# s7_storm NAME PORT CREDS [ARGS...]: one connection per line of CREDS
# (or as -c says), all at once; records the bcrypts it cost
s7_storm() {
    local name=$1 port=$2 creds=$3 b0
    shift 3
    b0=$(s7_bcrypts)
    s7_load "$name" "$port" -s -t "$S7_BOUND" -f "$creds" "$@"
    echo "bcrypts $(($(s7_bcrypts) - b0))" >>"$RES/s7-$name.out"
}

s7_mqtt() {
    local p r setup order broker_pid

    command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] \
        || die "mosquitto not found (package mosquitto)"
    [ -f "$STREAM_SO" ] || die "$STREAM_SO not found; build it with \`make\`"
    for p in $S7_PORT_BROKER $S7_PORT_IOT $S7_PORT_PLAIN $S7_PORT_STATUS; do
        if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            die "127.0.0.1:$p is in use (S7 uses 18520-18523)"
        fi
    done

    cc -O2 -W -Wall -o "$RUN/mqtt-connect" "$bench/mqtt-connect.c" \
        || die "S7: cannot compile bench/mqtt-connect.c"

    # a storm opens a connection per device (nginx two, within its
    # worker_rlimit_nofile)
    if [ "$(ulimit -n)" -lt $((FLEET + 64)) ]; then
        ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
        [ "$(ulimit -n)" -ge $((FLEET + 64)) ] \
            || die "S7: $((FLEET + 64)) open files needed, ulimit -n says" \
                   "$(ulimit -n)"
    fi

    cat "$hot" "$herd" "$fleet" | awk '{ print $1 ":" $3 }' >"$RUN/s7.creds"
    chmod 644 "$RUN/s7.creds"

    mkdir -p "$RUN/s7-broker" "$RUN/s7/conf" "$RUN/s7/logs"
    cat >"$RUN/s7-broker/mosquitto.conf" <<EOF
listener $S7_PORT_BROKER 127.0.0.1
allow_anonymous true
persistence false
max_connections -1
log_dest stderr
log_type error
EOF
    /usr/sbin/mosquitto -c "$RUN/s7-broker/mosquitto.conf" \
        2>"$RUN/s7-broker/mosquitto.log" &
    broker_pid=$!
    bg_pids+=("$broker_pid")
    wait_port $S7_PORT_BROKER 10 || die "S7: mosquitto did not start"

    render "$bench/conf/mqtt.conf.in" "$RUN/s7/conf/nginx.conf" \
        "SO=$SO" "STREAM_SO=$STREAM_SO" "CREDS=$RUN/s7.creds" \
        "PORT_IOT=$S7_PORT_IOT" "PORT_PLAIN=$S7_PORT_PLAIN" \
        "PORT_STATUS=$S7_PORT_STATUS" "PORT_BROKER=$S7_PORT_BROKER"
    start_nginx s7 $S7_PORT_IOT

    say "S7 mqtt: $HOT devices verified, then CONNECT rate, iot and plain"
    s7_load warm $S7_PORT_IOT -s -t "$S7_BOUND" -f "$hot"

    for r in $(seq "$S7_ROUNDS"); do
        order="iot plain"
        [ $((r % 2)) = 0 ] && order="plain iot"
        for setup in $order; do
            p=$S7_PORT_IOT
            [ $setup = plain ] && p=$S7_PORT_PLAIN
            s7_load "rate-$setup-r$r" $p -c 32 -d "$S7_SECS" -f "$hot"
        done
    done

    say "S7 mqtt: herd of $HERD connections on one cold device"
    s7_storm herd $S7_PORT_IOT "$herd" -c "$HERD"

    say "S7 mqtt: reconnect storms of $FLEET devices, cold, then warm"
    s7_storm cold $S7_PORT_IOT "$fleet"
    s7_storm warm $S7_PORT_IOT "$fleet"
    s7_storm plain $S7_PORT_PLAIN "$fleet"

    stop_nginx "$RUN/s7"
    kill -TERM "$broker_pid" 2>/dev/null || true
    wait "$broker_pid" 2>/dev/null || true

    s7_report >"$RES/s7-mqtt.md"
}

# the median of the values of KEY over the rate runs of SETUP
s7_median() {
    local setup=$1 key=$2 r
    for r in $(seq "$S7_ROUNDS"); do
        s7_val "rate-$setup-r$r" "$key"
    done | sort -g | awk '{ v[NR] = $1 }
        END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
              print m }'
}

s7_report() {
    local iot plain ratio name

    iot=$(s7_median iot rate)
    plain=$(s7_median plain rate)
    ratio=$(awk -v a="$iot" -v b="$plain" \
                'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')

    cat <<EOF

## S7: MQTT

One mosquitto $(dpkg-query -W -f='${Version}' mosquitto 2>/dev/null) \
(anonymous clients allowed) behind one nginx (2 workers) with two stream
servers: **iot** (ngx_stream_iot_auth_module: the CONNECT is read in the
preread phase and verified before proxy_pass sends it on) and **plain**
(proxy_pass alone), on the same $(nproc) cores as the load generator
(bench/mqtt-connect: CONNECT, CONNACK, DISCONNECT, close; MQTT 3.1.1).
bcrypt cost $COST.

CONNECTs per second, $HOT devices whose verdicts are cached (all HITs),
32 connections at a time, median of $S7_ROUNDS runs of ${S7_SECS} s each:

| setup | CONNECTs/s | CONNACK p50 (ms) | CONNACK p99 (ms) |
|---|---|---|---|
| iot | $iot | $(s7_median iot p50_ms) | $(s7_median iot p99_ms) |
| plain | $plain | $(s7_median plain p50_ms) | $(s7_median plain p99_ms) |

iot / plain: **$ratio** (target ≥ 0.9).

Reconnect storms: every connection opened at once, time until the last
CONNACK arrived:

| storm | connections | accepted | refused | bcrypts | time to all connected (ms) |
|---|---|---|---|---|---|
EOF
    for name in herd cold warm plain; do
        printf '| %s | %s | %s | %s | %s | %s |\n' \
            "$(case $name in
                 herd) echo "one cold device, $HERD clients" ;;
                 cold) echo "$FLEET cold devices" ;;
                 warm) echo "the same $FLEET devices, cached" ;;
                 plain) echo "the same $FLEET, plain proxy_pass" ;;
               esac)" \
            "$(s7_val $name connects)" "$(s7_val $name accepted)" \
            "$(s7_val $name refused)" \
            "$([ $name = plain ] && echo - || s7_val $name bcrypts)" \
            "$(s7_val $name max_ms)"
    done
    cat <<EOF

A herd of clients with one device's credentials runs one bcrypt; a cold
storm of distinct devices runs one each, at the cores' bcrypt rate (the
server has \`iot_auth_max_pending 1024\`, so that none is refused); once
their verdicts are cached the same storm runs none. mosquitto listens
with a backlog of 100: in a storm of more connections than that, some of
nginx's connections to it wait for a SYN sent again after 1 s, through
either server.
EOF
}
