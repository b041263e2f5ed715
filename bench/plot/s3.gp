# S3: latency over time under steady load, zones (and openresty's shared
# dict) with ttl=2s.  p99 per 250 ms for each setup, and every request
# that met an expiring or expired verdict as a point.

set terminal pngcairo size 900,500 font "sans,10" noenhanced
set output docs."/bench-s3-latency.png"
set title "S3 expiry: p99 latency per 250 ms, ttl=2s (log scale)"
set logscale y
set format y "%g"
set xlabel "seconds since the start of the run"
set ylabel "latency, ms"
set grid
set key outside bottom center horizontal

plot "s3-iot.dat"           using 1:2 with lines lw 2 lc rgb "#1f77b4" title "iot, refresh=80%: p99", \
     "s3-iot_norefresh.dat" using 1:2 with lines lw 2 lc rgb "#2ca02c" title "iot, refresh=100%: p99", \
     "s3-openresty.dat"     using 1:2 with lines lw 2 lc rgb "#ff7f0e" title "openresty: p99", \
     "s3-ceiling.dat"       using 1:2 with lines lw 2 lc rgb "#7f7f7f" title "ceiling: p99", \
     "s3-basic.dat"         using 1:2 with lines lw 2 lc rgb "#d62728" title "basic: p99", \
     "s3-iot-expiry.dat"    using 1:2 with points pt 7 ps 0.6 lc rgb "#17becf" title "iot: a REFRESH request", \
     "s3-iot_norefresh-expiry.dat" using 1:2 with points pt 9 ps 0.8 lc rgb "#98df8a" title "iot, refresh=100%: a REVALIDATED request", \
     "s3-openresty-expiry.dat" using 1:2 with points pt 5 ps 0.5 lc rgb "#ffbb78" title "openresty: a MISS or WAIT request"
