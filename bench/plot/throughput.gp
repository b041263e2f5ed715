# Throughput bars: requests/s per scenario and setup (bench/report writes
# throughput.dat: label, iot, ceiling, basic).  Run from the plot data
# directory with -e "docs='DIR'".

set terminal pngcairo size 900,500 font "sans,10" noenhanced
set output docs."/bench-throughput.png"
set title "Requests/s per scenario and setup (log scale; same run, same machine)"
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

plot "throughput.dat" using 2:xtic(1) title "iot (ngx_iot_auth)" lc rgb "#1f77b4", \
     ""               using 3 title "ceiling (no auth)" lc rgb "#7f7f7f", \
     ""               using 4 title "basic (auth_basic, bcrypt inline)" lc rgb "#d62728", \
     ""               using ($0 - 0.25):($2 * 1.25):(sprintf("%.0f", $2)) with labels notitle font "sans,8", \
     ""               using ($0):($3 * 1.25):(sprintf("%.0f", $3)) with labels notitle font "sans,8", \
     ""               using ($0 + 0.25):($4 * 1.25):(sprintf("%.1f", $4)) with labels notitle font "sans,8"
