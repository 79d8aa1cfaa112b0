# Throughput by key count (sluice-bench writes keys.dat; run with -e "dir='OUT'; n=SYSTEMS").
# Columns of keys.dat: x, then per system: median, min, max in M events/s.
set title "CTR throughput by key count (Zipf 1.0; median, bars min..max)"
set xlabel "distinct ads (keys)"
set ylabel "M events/s"
set logscale x
set key outside right
set grid
set yrange [0:*]
set datafile missing "nan"
f = dir."/keys.dat"
set terminal pngcairo noenhanced size 1000,560
set output dir."/throughput_keys.png"
plot for [i=0:n-1] f using 1:(column(2+3*i)):(column(3+3*i)):(column(4+3*i)) with yerrorlines title columnhead(2+3*i)
set terminal svg noenhanced size 1000,560
set output dir."/throughput_keys.svg"
replot
