#!/bin/bash
# `make check`: every test, in order, stopping at the first failure:
#   1. host unit tests of the userspace library (plain and under valgrind);
#   2. the debug kernel (KASAN, lockdep, kmemleak, ...): KUnit suites, then
#      every kselftest and stress program, in QEMU;
#   3. Debian's stock kernel: every kselftest, in QEMU;
#   4. gates: checkpatch --strict, W=1, sparse;
#   5. the KCSAN kernel (the race detector): a short run of chan_stress,
#      snap_invariant and wake_test, with delay injection, in QEMU; any
#      data-race report fails it (CHECK_KCSAN=0 leaves it out).
# Each stage ends with an "N passed, N failed" line; the last line is the
# total.  Exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
top=$PWD
logdir=$top/build/check
mkdir -p "$logdir"
passed=0
failed=0
skipped=0
start=$(date +%s)

finish() {
	local t=$(( $(date +%s) - start ))
	echo "check: $((t / 60))m$((t % 60))s"
	if [ "$skipped" -gt 0 ]; then
		echo "$passed passed, $failed failed, $skipped skipped"
	else
		echo "$passed passed, $failed failed"
	fi
	[ "$failed" -eq 0 ] && exit 0
	exit 1
}

# stage NAME COMMAND...: run, show output, add up its last count line.
stage() {
	local name=$1 log=$logdir/$1.log rc line p f s
	shift
	echo "=== $name: $*"
	"$@" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	line=$(grep -E '^([a-z-]+: )?[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	p=0 f=0 s=0
	if [ -n "$line" ]; then
		p=$(sed -E 's/.*\b([0-9]+) passed.*/\1/' <<<"$line")
		f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
		case "$line" in *skipped*)
			s=$(sed -E 's/.* ([0-9]+) skipped.*/\1/' <<<"$line") ;;
		esac
	fi
	passed=$((passed + p))
	skipped=$((skipped + s))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
	fi
	failed=$((failed + f))
	if [ "$rc" -ne 0 ] || [ "$f" -ne 0 ]; then
		echo "=== $name FAILED (exit $rc); log: $log"
		finish
	fi
	echo "=== $name passed"
}

build() {
	make -s module KDIR="$1" >/dev/null && make -s -C userspace >/dev/null &&
		make -s -C selftests >/dev/null
}

modout() {
	local k=${1#/}
	echo "build/kmod-${k//\//_}/kmod"
}

# The KCSAN stage: why it is in make check, see doc/decisions.md, "Tests
# and tooling".  Its kernel is built like the debug kernel and cached
# beside it.  Built cold, it costs about 18 CPU-minutes (9-10 minutes on
# two idle cores, 26 minutes beside a debug kernel build and VM runs on the
# loaded 2-core machine), too much to add in series to a cold run's 35
# minutes.  So it is built from the start, in the background at nice 19:
# it takes only the CPU the other stages leave idle and resumes if check
# stops early, and the KCSAN stage comes last, when it is (nearly) done.
# Warm, the stage is a boot and about a minute of tests (3 minutes of wall
# time at a load of 9).
kcsan=${CHECK_KCSAN:-1}
kbuild_pid=
# shellcheck disable=SC2317 # called from the EXIT trap
stop_kbuild() {
	# setsid made it a process group: make and the compilers stop too.
	[ -z "$kbuild_pid" ] || kill -- "-$kbuild_pid" 2>/dev/null || true
}
if [ "$kcsan" != 0 ]; then
	# Extracted first, at normal priority: the debug kernel needs it too.
	scripts/ksrc.sh >/dev/null || exit 1
	setsid nice -n 19 selftests/qemu/build-kernel.sh kcsan \
		>"$logdir/kcsan-kernel.out" 2>"$logdir/kcsan-kernel.log" </dev/null &
	kbuild_pid=$!
	trap stop_kbuild EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
fi

stage host make -s -C userspace check

dkdir=$(selftests/qemu/build-kernel.sh) || { failed=$((failed + 1)); echo "=== debug kernel build FAILED"; finish; }
stage debug-build build "$dkdir"
dmod=$(modout "$dkdir")
stage debug selftests/qemu/run.sh -k debug -t "${CHECK_TIMEOUT:-1500}" \
	-m "$dmod/snapchan.ko" \
	-e "$dmod/snapchan_kunit.ko:/lib/snapchan/snapchan_kunit.ko" \
	-e build/selftests/snapchan:/bin/tests \
	-e selftests/guest-tests.sh:/bin/guest-tests.sh \
	-e userspace/examples/bank/bank \
	-- /bin/sh /bin/guest-tests.sh debug

krel=$(scripts/stock-kernel.sh)
skdir=/usr/src/linux-headers-$krel
stage stock-build build "$skdir"
smod=$(modout "$skdir")
stage stock selftests/qemu/run.sh -k stock -t "${CHECK_TIMEOUT:-900}" \
	-m "$smod/snapchan.ko" \
	-e build/selftests/snapchan:/bin/tests \
	-e selftests/guest-tests.sh:/bin/guest-tests.sh \
	-e userspace/examples/bank/bank \
	-- /bin/sh /bin/guest-tests.sh stock

stage gates scripts/gates.sh

if [ "$kcsan" != 0 ]; then
	t0=$(date +%s)
	echo "=== kcsan kernel: waiting for its background build (log: $logdir/kcsan-kernel.log)"
	wait "$kbuild_pid"
	kbuild_pid=
	kkdir=$(selftests/qemu/build-kernel.sh kcsan) ||
		{ failed=$((failed + 1)); echo "=== kcsan kernel build FAILED"; finish; }
	echo "=== kcsan kernel ready after $(($(date +%s) - t0)) s more"
	stage kcsan-build make -s module KDIR="$kkdir"
	kmod=$(modout "$kkdir")
	# A few seconds each: chan_stress's three modes (threads, processes,
	# blocking) with 6000 messages, snap_invariant's ring and mesh with 5
	# snapshots each, the wake matrix; inject_delay=200 for the first two.
	stage kcsan selftests/qemu/run.sh -k kcsan -t "${CHECK_TIMEOUT:-900}" \
		-m "$kmod/snapchan.ko" \
		-e build/selftests/snapchan/chan_stress:/bin/chan_stress \
		-e build/selftests/snapchan/snap_invariant:/bin/snap_invariant \
		-e build/selftests/snapchan/wake_test:/bin/wake_test \
		-e selftests/stress-tests.sh:/bin/stress-tests.sh \
		-- /bin/sh /bin/stress-tests.sh msgs=500 inv_k=5 inv_m=300 \
		wake=1 delay=200
fi
finish
