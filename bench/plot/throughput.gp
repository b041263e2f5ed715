# Throughput bars: requests/s per scenario and setup (bench/report writes
# throughput.dat: label, iot, openresty, ceiling, basic; NaN where a setup
# has no such run).  Run from the plot data directory with
# -e "docs='DIR'".

set terminal pngcairo size 1000,520 font "sans,10" noenhanced
set output docs."/bench-throughput.png"
set title "Requests/s per scenario and setup; S4: the legit load under each flood (log scale; same run, same machine)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set yrange [0.3:*]
set format y "%g"
set ylabel "requests/s"
set grid ytics
set key top right
set xtics nomirror

label(v, f) = v > 0 ? sprintf(f, v) : ""

plot "throughput.dat" using 2:xtic(1) title "iot (ngx_iot_auth)" lc rgb "#1f77b4", \
     ""               using 3 title "openresty (lua, shared dict, thread pool)" lc rgb "#ff7f0e", \
     ""               using 4 title "ceiling (no auth)" lc rgb "#7f7f7f", \
     ""               using 5 title "basic (auth_basic, bcrypt inline)" lc rgb "#d62728", \
     ""               using ($0 - 0.3):($2 * 1.25):(label($2, "%.0f")) with labels notitle font "sans,7", \
     ""               using ($0 - 0.1):($3 * 1.25):(label($3, "%.0f")) with labels notitle font "sans,7", \
     ""               using ($0 + 0.1):($4 * 1.25):(label($4, "%.0f")) with labels notitle font "sans,7", \
     ""               using ($0 + 0.3):($5 * 1.25):(label($5, "%.1f")) with labels notitle font "sans,7"
