# S5: cold start.  Top: p99 latency of the cached devices per 500 ms while
# the cold devices are verified.  Bottom: cold devices verified so far.

set terminal pngcairo size 900,700 font "sans,10" noenhanced
set output docs."/bench-s5-latency.png"
load "s5-window.gp"

set multiplot layout 2,1 title "S5 cold start: cold devices at bcrypt cost 10 arrive at once, 20 cached devices under steady load"

set logscale y
set format y "%g"
set ylabel "cached devices' p99 per 500 ms, ms"
set grid
set key top right opaque
set yrange [*:1e5]      # room for the key above the lines
set xrange [0:s5_xmax]
set object 1 rect from s5_w0, graph 0 to s5_w1, graph 1 behind fc rgb "#eef3fb" fs solid noborder
plot "s5-iot.dat"     index 0 using 1:2 with lines lw 2 lc rgb "#1f77b4" title "iot", \
     "s5-iot_off.dat" index 0 using 1:2 with lines lw 1.5 dt 3 lc rgb "#9467bd" title "iot, bcrypt priority off (fewer devices)", \
     "s5-openresty.dat" index 0 using 1:2 with lines lw 2 lc rgb "#ff7f0e" title "openresty", \
     "s5-iot-control.dat" using 1:2 with lines lw 2 lc rgb "#7f7f7f" title "ceiling, same load during iot's cold start (control)", \
     "s5-basic.dat"   index 0 using 1:2 with lines lw 2 lc rgb "#d62728" title "basic"

unset logscale y
unset object 1
set format y "%.0f"
set ylabel "cold devices verified"
set xlabel "seconds since the cached load started (shaded: iot's cold start)"
set yrange [0:s5_fleet * 1.05]
set key top left opaque
set samples 500
limit(x) = (x < s5_w0 || s5_phys * (x - s5_w0) > s5_fleet) ? 1/0 : s5_phys * (x - s5_w0)
plot limit(x) with lines dt 2 lw 1.5 lc rgb "#000000" title "iot's limit: the cores' measured capacity", \
     "s5-iot.dat"     index 1 using 1:2 with lines lw 2 lc rgb "#1f77b4" title "iot", \
     "s5-iot_off.dat" index 1 using 1:2 with lines lw 1.5 dt 3 lc rgb "#9467bd" title "iot, bcrypt priority off", \
     "s5-openresty.dat" index 1 using 1:2 with lines lw 2 lc rgb "#ff7f0e" title "openresty", \
     "s5-basic.dat"   index 1 using 1:2 with lines lw 2 lc rgb "#d62728" title "basic"

unset multiplot
