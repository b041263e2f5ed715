# S6, fleet mode: sourced by bench/run, which provides the helpers (say,
# die, render, creds_set, headers, start_nginx, stop_nginx, once) and
# runs s6_fleet after its other scenarios, or alone with
# BENCH_ONLY=fleet.
#
# Three gateways, each nginx + ngx_iot_auth with the same credentials
# file and secret file and one redis-server, behind an nginx that
# spreads requests round-robin; run once with iot_auth_fleet off, once
# with it on:
#
#   cold start  S6_DEVICES cold devices, each sent three times through the
#               round robin (the list three times over, so that a device's
#               requests reach three gateways): bcrypts in all
#   herd        $HERD connections on one cold device through the round
#               robin: bcrypts in all
#   shared      (fleet on) S6_SHARED devices verified on gateway 1, then
#               asked of gateway 2 on one connection twice: the latency
#               of a SHARED answer and of a local HIT
#
# Writes RES/s6-fleet.md (a section bench/report appends to
# benchmarks.md) and RES/s6-*.{sum,samples,meta,status}.  Ports
# 127.0.0.1:18510-18514.

S6_PORT_REDIS=18510
S6_PORT_LB=18511
S6_PORT_GW=(18512 18513 18514)

if [ "$QUICK" = 1 ]; then
    S6_DEVICES=40; S6_SHARED=40; S6_BOUND=60
else
    S6_DEVICES=200; S6_SHARED=200; S6_BOUND=120
fi


# bcrypts of the three gateways of MODE, summed from their status pages
s6_bcrypts() {
    local mode=$1 i n=0 b
    for i in 0 1 2; do
        b=$(curl -sf -m 5 "http://127.0.0.1:${S6_PORT_GW[$i]}/status" \
            | awk '/^iot_auth_bcrypt_total\{/ { s += $2 } END { print s + 0 }') \
            || die "S6: the status page of gateway $((i + 1)) did not answer"
        n=$((n + b))
    done
    echo "$n"
}

# the results of the three gateways, "name count" for those seen
s6_results() {
    local i
    for i in 0 1 2; do
        curl -sf -m 5 "http://127.0.0.1:${S6_PORT_GW[$i]}/status"
    done | awk -F'"' '/^iot_auth_requests_total\{/ {
                          split($0, a, " "); n[$4] += a[2] }
                      END { for (r in n) if (n[r]) print r, n[r] }' \
         | sort | tr '\n' ' '
}

# median and p99 latency (µs) of the samples of NAME whose result is RESULT
s6_latency() {
    perl -e '
        my ($file, $want) = @ARGV;
        open my $f, "<", $file or die "$file: $!";
        my @l = sort { $a <=> $b }
                map { my @x = split; $x[3] eq $want ? $x[1] : () } <$f>;
        die "no $want in $file\n" unless @l;
        printf "%d %d %d\n", scalar @l, $l[int(@l / 2)],
               $l[int(@l * 0.99) < @l ? int(@l * 0.99) : $#l];' \
        "$RES/$1.samples" "$2"
}

s6_start() {    # s6_start MODE: the three gateways and the round robin
    local mode=$1 i fleet=""
    [ "$mode" = on ] && fleet="iot_auth_fleet on;"

    redis-cli -p $S6_PORT_REDIS FLUSHALL >/dev/null \
        || die "S6: redis-server does not answer"

    for i in 0 1 2; do
        mkdir -p "$RUN/s6-gw$i/conf" "$RUN/s6-gw$i/logs"
        render "$bench/conf/fleet.conf.in" "$RUN/s6-gw$i/conf/nginx.conf" \
            "SO=$SO" "CREDS=$RUN/s6.creds" "SECRET=$RUN/s6.secret" \
            "REDIS_PORT=$S6_PORT_REDIS" "FLEET=$fleet" \
            "PORT=${S6_PORT_GW[$i]}"
        start_nginx s6-gw$i "${S6_PORT_GW[$i]}"
        port[s6_gw$i]=${S6_PORT_GW[$i]}
    done

    mkdir -p "$RUN/s6-lb/conf" "$RUN/s6-lb/logs"
    render "$bench/conf/fleet-lb.conf.in" "$RUN/s6-lb/conf/nginx.conf" \
        "GW_A=${S6_PORT_GW[0]}" "GW_B=${S6_PORT_GW[1]}" \
        "GW_C=${S6_PORT_GW[2]}" "PORT=$S6_PORT_LB"
    start_nginx s6-lb $S6_PORT_LB
    port[s6_lb]=$S6_PORT_LB
}

s6_stop() {
    local dir
    for dir in s6-lb s6-gw0 s6-gw1 s6-gw2; do
        stop_nginx "$RUN/$dir"
    done
}

s6_run() {      # s6_run MODE
    local mode=$1 b0 t0 rc

    say "S6 fleet $mode: cold start of $S6_DEVICES devices over 3 gateways"
    s6_start "$mode"

    b0=$(s6_bcrypts "$mode")
    t0=$(now_us)
    rc=0
    once s6-$mode-cold s6_lb /timed s6-cold 2 32 $S6_BOUND || rc=1
    {
        echo "complete $((1 - rc))"
        echo "seconds $(( ($(now_us) - t0) / 1000 )) ms"
        echo "bcrypts $(($(s6_bcrypts "$mode") - b0))"
        echo "results $(s6_results)"
    } >"$RES/s6-$mode-cold.meta"

    say "S6 fleet $mode: herd of $HERD connections on one cold device"
    b0=$(s6_bcrypts "$mode")
    rc=0
    once s6-$mode-herd s6_lb /timed s6-herd 2 $HERD $S6_BOUND || rc=1
    {
        echo "complete $((1 - rc))"
        echo "bcrypts $(($(s6_bcrypts "$mode") - b0))"
    } >"$RES/s6-$mode-herd.meta"

    if [ "$mode" = on ]; then
        say "S6 fleet on: $S6_SHARED devices SHARED, then HIT, on gateway 2"
        once s6-verify s6_gw0 /timed s6-shared 1 4 $S6_BOUND \
            || die "S6: verifying on gateway 1 failed"
        once s6-shared s6_gw1 /timed s6-shared 1 1 $S6_BOUND \
            || die "S6: the SHARED run did not complete"
        once s6-hit s6_gw1 /timed s6-shared 1 1 $S6_BOUND \
            || die "S6: the HIT run did not complete"
        {
            echo "shared $(s6_latency s6-shared SHARED)"
            echo "hit $(s6_latency s6-hit HIT)"
        } >"$RES/s6-latency.meta"
    fi

    s6_stop
}

s6_fleet() {
    local all p i redis_pid

    command -v redis-server >/dev/null \
        || die "redis-server not found (package redis-server)"
    for p in $S6_PORT_REDIS $S6_PORT_LB "${S6_PORT_GW[@]}"; do
        if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            die "127.0.0.1:$p is in use (S6 uses 18510-18514)"
        fi
    done

    # devices of their own: cold ones, ones to share, the herd's
    all=$(creds_set fleet $COST $((S6_DEVICES + S6_SHARED + 1)))
    head -n $S6_DEVICES "$all" >"$RUN/s6-cold.txt"
    sed -n "$((S6_DEVICES + 1)),$((S6_DEVICES + S6_SHARED))p" "$all" \
        >"$RUN/s6-shared.txt"
    tail -n 1 "$all" >"$RUN/s6-herd.txt"

    awk '{ print $1 ":" $3 }' "$all" >"$RUN/s6.creds"
    head -c 48 /dev/urandom | base64 >"$RUN/s6.secret"
    chmod 644 "$RUN/s6.creds" "$RUN/s6.secret"

    headers iot repeat=3 <"$RUN/s6-cold.txt" >"$RUN/hdr/s6-cold"
    headers iot repeat=$HERD <"$RUN/s6-herd.txt" >"$RUN/hdr/s6-herd"
    headers iot <"$RUN/s6-shared.txt" >"$RUN/hdr/s6-shared"

    mkdir -p "$RUN/s6-redis"
    redis-server --port $S6_PORT_REDIS --bind 127.0.0.1 --save '' \
        --appendonly no --daemonize no --dir "$RUN/s6-redis" \
        --logfile "$RUN/s6-redis/redis.log" &
    redis_pid=$!
    bg_pids+=("$redis_pid")
    wait_port $S6_PORT_REDIS 10 || die "S6: redis-server did not start"

    s6_run off
    s6_run on

    kill -TERM "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true

    s6_report >"$RES/s6-fleet.md"
}

s6_report() {
    local off_cold on_cold off_herd on_herd lat

    off_cold=$(cat "$RES/s6-off-cold.meta")
    on_cold=$(cat "$RES/s6-on-cold.meta")
    off_herd=$(cat "$RES/s6-off-herd.meta")
    on_herd=$(cat "$RES/s6-on-herd.meta")
    lat=$(cat "$RES/s6-latency.meta")

    val() { echo "$1" | sed -n "s/^$2 //p"; }

    cat <<EOF

## S6: fleet mode

Three gateways (nginx + ngx_iot_auth, 2 workers each, the same
credentials and secret files, one redis-server) behind an nginx that
spreads requests round-robin over them, on the same $(nproc) cores.
bcrypt cost $COST.

| run | fleet off | fleet on |
|---|---|---|
| cold start, $S6_DEVICES devices × 3 requests through the round robin: bcrypts | $(val "$off_cold" bcrypts) | $(val "$on_cold" bcrypts) |
| cold start: time | $(val "$off_cold" seconds) | $(val "$on_cold" seconds) |
| cold start: results | $(val "$off_cold" results) | $(val "$on_cold" results) |
| herd, $HERD connections on one cold device: bcrypts | $(val "$off_herd" bcrypts) | $(val "$on_herd" bcrypts) |

Fleet off, each gateway runs its own bcrypt for every device that
reaches it: one per (device, gateway) pair the round robin made, at most
$((3 * S6_DEVICES)); fleet on, one per device.

A SHARED answer against a local HIT ($S6_SHARED devices verified on
gateway 1, then asked of gateway 2 on one keep-alive connection, first
SHARED, then HIT; latency seen by the client, µs):

| answer | requests | median | p99 |
|---|---|---|---|
| SHARED | $(val "$lat" shared | awk '{ print $1 " | " $2 " | " $3 }') |
| HIT | $(val "$lat" hit | awk '{ print $1 " | " $2 " | " $3 }') |

A SHARED answer is one Redis round trip (the shared verdict and the
lockout; with a Redis store the record comes in the same round trip)
plus the zone's work of a MISS without its bcrypt; the next request of
the device is a local HIT.
EOF
}
