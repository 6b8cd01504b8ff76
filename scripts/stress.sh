#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make stress`: the long mode of the load, snapshot and crash tests, in one
# QEMU VM (selftests/stress-tests.sh inside):
#   chan_stress     at least 10^6 messages (per-writer FIFO, exactly once);
#   snap_invariant  20 snapshots per topology (conservation, no orphans);
#   soak            at least STRESS_SECONDS/2 seconds and 1000 snapshots,
#                   with kill -9 of nodes, observers and holders, topology
#                   churn;
#   fuzz            at least 10^6 calls;
# then debugfs and /dev/snapchan must be empty, the module must unload and,
# on the debug kernel, the kmemleak scan must be clean.  On the KCSAN
# kernel any data-race report fails the run (run.sh prints each in full).
#
#   STRESS_SECONDS  time budget (default 600): half for soak; chan_stress
#                   and fuzz get counts worth about a quarter each at the
#                   kernel's usual rate, never below 10^6.  The floors win
#                   on the debug kernel, which is slow under TCG: there a
#                   600 s budget takes about 30-40 minutes in all.
#   KERNEL          debug (default: KASAN, lockdep, kmemleak, ...), kcsan
#                   (the race detector: the debug kernel with KCSAN instead
#                   of KASAN and kmemleak) or stock
#   STRESS_INJECT_DELAY
#                   inject_delay for chan_stress, snap_invariant and soak
#                   (default 200: random delays and yields of up to 200 us
#                   at the module's lock boundaries; 0: off).  Only modules
#                   for the debug and kcsan kernels have the parameter.
#
# Prints the figures of each part and ends with "N passed, N failed".
# The console is kept in build/stress/console-$KERNEL.log.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

secs=${STRESS_SECONDS:-600}
kernel=${KERNEL:-debug}
delay=${STRESS_INJECT_DELAY:-200}
case "$secs" in
''|*[!0-9]*) echo "stress: STRESS_SECONDS must be a number of seconds" >&2; exit 2 ;;
esac
case "$delay" in
''|*[!0-9]*) echo "stress: STRESS_INJECT_DELAY must be a number of microseconds" >&2; exit 2 ;;
esac
[ "$secs" -ge 60 ] || { echo "stress: STRESS_SECONDS must be at least 60" >&2; exit 2; }

case "$kernel" in
debug|kcsan)
	kdir=$(selftests/qemu/build-kernel.sh "$kernel") || exit 1
	rate=1500	# messages or fuzz calls per second, roughly
	;;
stock)
	kdir=/usr/src/linux-headers-$(scripts/stock-kernel.sh) || exit 1
	rate=10000
	;;
*)
	echo "stress: KERNEL must be debug, kcsan or stock, not '$kernel'" >&2
	exit 2
	;;
esac

floor=1000000
msgs=$((rate * secs / 4))
[ "$msgs" -ge "$floor" ] || msgs=$floor
per_writer=$(((msgs + 11) / 12))	# 4 writers x 3 runs
calls=$((rate * secs / 4))
[ "$calls" -ge "$floor" ] || calls=$floor
soak_s=$((secs / 2))
soak_n=1000
inv_k=20
# Generous: a slow run must end in a verdict, not in a timeout.
timeout=$((6 * secs + 4 * (per_writer * 12 + calls) / rate + 1800))

# The same module build as make check's for this kernel.
k=${kdir#/}
modout=build/kmod-${k//\//_}
mkdir -p build/stress
log=build/stress/stress-$kernel.log
echo "stress: $kernel kernel, STRESS_SECONDS=$secs: chan_stress $((per_writer * 12)) messages," \
	"snap_invariant $inv_k snapshots per topology," \
	"soak >= ${soak_s} s and >= $soak_n snapshots, fuzz $calls calls," \
	"inject_delay $delay (VM timeout ${timeout} s)"
if ! { make -s module KDIR="$kdir" MODOUT="$modout" >/dev/null &&
       make -s -C userspace lib/libsnapchan.a >/dev/null &&
       make -s -C selftests/snapchan KSRC="$(scripts/ksrc.sh)" \
		"$PWD/build/selftests/snapchan/chan_stress" \
		"$PWD/build/selftests/snapchan/snap_invariant" \
		"$PWD/build/selftests/snapchan/soak" \
		"$PWD/build/selftests/snapchan/fuzz" >/dev/null; }; then
	echo "stress: build failed"
	echo "0 passed, 1 failed"
	exit 1
fi

start=$(date +%s)
SNAPCHAN_QEMU_LOG=build/stress/console-$kernel.log \
	selftests/qemu/run.sh -q -k "$kernel" -t "$timeout" \
	-m "$modout/kmod/snapchan.ko" \
	-e build/selftests/snapchan/chan_stress:/bin/chan_stress \
	-e build/selftests/snapchan/snap_invariant:/bin/snap_invariant \
	-e build/selftests/snapchan/soak:/bin/soak \
	-e build/selftests/snapchan/fuzz:/bin/fuzz \
	-e selftests/stress-tests.sh:/bin/stress-tests.sh \
	-- /bin/sh /bin/stress-tests.sh msgs="$per_writer" inv_k="$inv_k" \
	soak_s="$soak_s" soak_n="$soak_n" calls="$calls" delay="$delay" \
	2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
t=$(($(date +%s) - start))

strip() { sed -E 's/^\[ *[0-9]+\.[0-9]+\] //' "$log"; }
echo "=== stress figures ($kernel kernel, STRESS_SECONDS=$secs)"
strip | grep -E '^# (threads|processes|blocking|stress): ' | grep -v ': /bin/' || true
[ "$kernel" != kcsan ] || grep -c 'BUG: KCSAN:' "$log" | sed 's/^/KCSAN reports: /' || true
strip | grep -E '^#   (groups|snapshots begun|snapshots ended|images|EBUSY|messages moved|node records|kills|recovery|topology calls|observers|elapsed)' || true
strip | grep -E '^# [0-9]+ calls \(' || true
strip | grep -E '^snapchan-init: kmemleak' || true
echo "stress: $((t / 60))m$((t % 60))s"
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
if [ -z "$line" ]; then
	line="0 passed, 1 failed"
	[ "$rc" -ne 0 ] || rc=1
fi
echo "$line"
exit "$rc"
