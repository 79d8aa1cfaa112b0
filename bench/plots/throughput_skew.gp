# Throughput by skew (sluice-bench writes skew.dat; run with -e "dir='OUT'; n=SYSTEMS").
set title "CTR throughput by skew (100,000 ads; 0 = uniform; median, bars min..max)"
set xlabel "Zipf exponent"
set ylabel "M events/s"
set key outside right
set grid
set yrange [0:*]
set datafile missing "nan"
f = dir."/skew.dat"
set terminal pngcairo noenhanced size 1000,560
set output dir."/throughput_skew.png"
plot for [i=0:n-1] f using 1:(column(2+3*i)):(column(3+3*i)):(column(4+3*i)) with yerrorlines title columnhead(2+3*i)
set terminal svg noenhanced size 1000,560
set output dir."/throughput_skew.svg"
replot
