# Throughput by node count (sluice-bench writes nodes.dat; run with -e "dir='OUT'; n=SYSTEMS").
set title "CTR throughput on N local node processes vs one process (median, bars min..max)"
set xlabel "node processes"
set ylabel "M events/s"
set xtics 1
set key outside right
set grid
set yrange [0:*]
set datafile missing "nan"
f = dir."/nodes.dat"
set terminal pngcairo noenhanced size 1000,560
set output dir."/throughput_nodes.png"
plot for [i=0:n-1] f using 1:(column(2+3*i)):(column(3+3*i)):(column(4+3*i)) with yerrorlines title columnhead(2+3*i)
set terminal svg noenhanced size 1000,560
set output dir."/throughput_nodes.svg"
replot
