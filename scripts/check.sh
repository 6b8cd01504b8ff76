#!/bin/bash
# `make check`: every test, in order, stopping at the first failure:
#   1. host unit tests of the userspace library (plain and under valgrind);
#   2. the debug kernel (KASAN, lockdep, kmemleak, ...): KUnit suites, then
#      every kselftest and stress program, in QEMU;
#   3. Debian's stock kernel: every kselftest, in QEMU;
#   4. gates: checkpatch --strict, W=1, sparse.
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
finish
