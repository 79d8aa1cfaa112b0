# ysb window latency against throughput (sluice-bench writes latency.dat; -e "dir='OUT'").
# Columns: M events/s, p50, p99, p99.9 (ms), batch, paced (0: as fast as it goes, 1: paced);
# each point is labelled with its batch size at its p99.
set title "ysb: window latency against throughput (medians of the repetitions)"
set xlabel "M events/s (input NDJSON events)"
set ylabel "latency, ms (log)"
set logscale y
set key outside right
set grid
f = dir."/latency.dat"
set terminal pngcairo noenhanced size 1000,560
set output dir."/latency.png"
plot f using 1:($6==1 ? $2 : 1/0) with points pt 7 title "p50, paced", \
     f using 1:($6==1 ? $3 : 1/0) with points pt 5 title "p99, paced", \
     f using 1:($6==1 ? $4 : 1/0) with points pt 9 title "p99.9, paced", \
     f using 1:($6==0 ? $2 : 1/0) with points pt 6 title "p50, unpaced", \
     f using 1:($6==0 ? $3 : 1/0) with points pt 4 title "p99, unpaced", \
     f using 1:($6==0 ? $4 : 1/0) with points pt 8 title "p99.9, unpaced", \
     f using 1:3:(sprintf("batch %d", $5)) with labels offset 0,1 font ",8" notitle, \
     10 with lines dt 2 title "10 ms"
set terminal svg noenhanced size 1000,560
set output dir."/latency.svg"
replot
