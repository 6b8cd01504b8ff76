#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make bench`: snapchan beside pipes, seqpacket sockets, POSIX message
# queues and eventfd, in one QEMU boot of Debian's stock kernel.
#
# Builds snapchan.ko for the stock kernel and bench/snapbench.c (static),
# runs `snapbench $BENCH_ARGS` in the VM, and writes to build/bench/:
#   console.log   the guest console
#   results.csv   raw numbers, one row per measurement and round
#   summary.csv   medians, min, max and ratios per workload x method
#   targets.csv   each target: MET / MISSED, with the median ratio
#   table.txt     the printed table and targets
#   results.png   plots (gnuplot)
#
# Not a timed test: it fails only if the build or the VM run fails, not
# because a target is missed.  Absolute figures under TCG mean little; the
# ratios within one run are what to read.
#
#   BENCH_ARGS   extra snapbench options, e.g. '-r 9 -T 400 -R 2'
#                (snapbench -h lists them); default: 11 rounds of ~120 ms
#   BENCH_TIMEOUT  VM timeout in seconds (default 1200)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
out=build/bench
mkdir -p "$out"

krel=$(scripts/stock-kernel.sh)
ko=build/kmod-usr_src_linux-headers-$krel/kmod/snapchan.ko
make -s module KDIR="/usr/src/linux-headers-$krel"
[ -f "$ko" ] || { echo "bench: $ko was not built" >&2; exit 1; }

gcc -static -O2 -pthread -Wall -I uapi -o "$out/snapbench.tmp" \
	bench/snapbench.c -lrt
mv -f "$out/snapbench.tmp" "$out/snapbench"

log=$top/$out/console.log
rc=0
# shellcheck disable=SC2086 # BENCH_ARGS is a list of options
SNAPCHAN_QEMU_LOG=$log selftests/qemu/run.sh -k stock -m "$ko" \
	-e "$out/snapbench" -t "${BENCH_TIMEOUT:-1200}" -- \
	/bin/snapbench ${BENCH_ARGS:-} || rc=$?

# Sections of the console between two marker lines, without printk noise.
section() {
	sed -n "/^--- $1 BEGIN ---\$/,/^--- $1 END ---\$/p" "$log" |
		sed '1d;$d' | grep -v '^\[ *[0-9]*\.[0-9]*\] '
}
[ -f "$log" ] || { echo "bench: no console log $log" >&2; exit 1; }
section CSV >"$out/results.csv"
section SUMMARY >"$out/summary.csv"
section TARGETS >"$out/targets.csv"
sed -n '/^==================== RESULTS/,/^--- CSV BEGIN ---$/p' "$log" |
	sed '$d' >"$out/table.txt"
if [ ! -s "$out/results.csv" ] || [ "$(wc -l <"$out/results.csv")" -lt 2 ]; then
	echo "bench: no CSV in $log (VM status $rc)" >&2
	exit 1
fi

# --- plots ---------------------------------------------------------------
if command -v gnuplot >/dev/null; then
	term=png
	if gnuplot -e 'set terminal' 2>&1 | grep -qw pngcairo; then
		term="pngcairo size 1600,1200 font 'sans,9'"
	else
		term="png size 1600,1200"
	fi
	d=$out/plot
	mkdir -p "$d"
	s=$out/summary.csv
	mechs="snapchan pipe pipe-pkt seqpacket mq"
	# stream msgs/s by size, cross CPU; one file per mechanism
	for m in $mechs; do
		awk -F, -v m="$m" '$1=="stream" && $2==m && $5=="cross" {print $3, $6, $7, $8}' "$s" >"$d/stream-$m.dat"
		awk -F, -v m="$m" '$1=="stream" && $2==m && $5=="same" {print $3, $6, $7, $8}' "$s" >"$d/streamsame-$m.dat"
	done
	for m in capture capture+read drain pipe-tee pkt-tee seq-peek; do
		awk -F, -v m="$m" '$1=="capture" && $2==m {print $4, $6, $7, $8}' "$s" >"$d/capture-$m.dat"
	done
	# one task write+read, ns per op by size
	for m in $mechs; do
		awk -F, -v m="$m" '$1=="onetask" && $2==m {print $3, $6, $7, $8}' "$s" >"$d/onetask-$m.dat"
	done
	# snapchan speed relative to pipe (>1: snapchan faster), by size:
	# rates as they are, times inverted
	awk -F, '$1=="stream" && $2=="pipe" && $5=="same" && $10 {print $3, $10, $11, $12}' "$s" >"$d/rel-stream-same.dat"
	awk -F, '$1=="stream" && $2=="pipe" && $5=="cross" && $10 {print $3, $10, $11, $12}' "$s" >"$d/rel-stream-cross.dat"
	awk -F, '$1=="onetask" && $2=="pipe" && $10 {print $3, 1/$10, 1/$12, 1/$11}' "$s" >"$d/rel-onetask.dat"
	# ring throughput relative to 0 Hz
	for pl in same cross; do
		awk -F, -v pl="$pl" '$1=="ring" && $5==pl {h=$2; sub(/Hz/,"",h); print h, $10, $11, $12}' "$s" >"$d/ring-$pl.dat"
	done

	lines() {	# lines PREFIX NAMES...: a plot list of PREFIX-NAME.dat
		local pre=$1 sep="" out="" n
		shift
		for n in "$@"; do
			[ -s "$d/$pre-$n.dat" ] || continue
			out+="$sep'$d/$pre-$n.dat' using 1:2:3:4 with yerrorlines title '$n'"
			sep=", "
		done
		printf '%s' "$out"
	}
	p1=$(lines stream $mechs)
	p2=$(lines streamsame $mechs)
	p3=$(lines onetask $mechs)
	p4=$(lines capture capture capture+read drain pipe-tee pkt-tee seq-peek)
	p5=$(lines rel stream-same stream-cross onetask)
	p6=$(lines ring same cross)
	{
		echo "set terminal $term"
		echo "set output '$out/results.png'"
		echo "set multiplot layout 2,3 title 'snapbench: medians, bars min..max over rounds (TCG guest: read the ratios, not the absolute figures)'"
		echo "set grid; set key top right font ',8'"
		echo "set logscale x 2; set logscale y; set xlabel 'message bytes'"
		echo "set title 'streaming 1 -> 1, cross CPU'; set ylabel 'msgs/s'"
		[ -z "$p1" ] || echo "plot $p1"
		echo "set title 'streaming 1 -> 1, same CPU'"
		[ -z "$p2" ] || echo "plot $p2"
		echo "set title 'one task write+read'; set ylabel 'ns per write+read'; set key top left"
		[ -z "$p3" ] || echo "plot $p3"
		echo "set title 'dump N queued 64 B messages (drain consumes them)'; set xlabel 'queued messages'; set ylabel 'us per dump'"
		echo "set logscale x 10"
		[ -z "$p4" ] || echo "plot $p4"
		echo "set title 'snapchan speed / pipe speed (per-round ratio; > 1: snapchan faster)'; set xlabel 'message bytes'; set ylabel 'ratio'; set logscale x 2; unset logscale y; set yrange [0:2]; set key bottom right"
		[ -z "$p5" ] || echo "plot $p5, 1 with lines lt -1 notitle, 0.9 with lines dt 2 lc rgb 'red' title 'target 0.9'"
		echo "set title 'ring of 8 nodes: throughput / throughput without snapshots'; set xlabel 'snapshots per second'; unset logscale x; set xrange [-5:105]; set yrange [0:1.5]; set key bottom left"
		[ -z "$p6" ] || echo "plot $p6, 0.95 with lines dt 2 lc rgb 'red' title 'target 0.95'"
		echo "unset multiplot"
	} >"$d/plot.gp"
	if gnuplot "$d/plot.gp" 2>"$d/gnuplot.err"; then
		echo "bench: plot $out/results.png"
	else
		echo "bench: gnuplot failed:" >&2
		sed 's/^/  /' "$d/gnuplot.err" >&2
	fi
else
	echo "bench: gnuplot not installed (make deps): no plot" >&2
fi

echo
cat "$out/table.txt"
echo
echo "bench: raw numbers $out/results.csv, medians $out/summary.csv, targets $out/targets.csv"
echo "bench: console $log (VM status $rc)"
exit "$rc"
