#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the test VM (busybox sh) for `make stress`, with snapchan.ko
# loaded by the VM's init:
#
#   stress-tests.sh MSGS_PER_WRITER SOAK_SECONDS SOAK_SNAPSHOTS FUZZ_CALLS
#
# chan_stress (4 writers and 4 readers, threads, processes and blocking:
# 12 x MSGS_PER_WRITER messages), soak (at least SOAK_SECONDS and
# SOAK_SNAPSHOTS snapshots), fuzz (FUZZ_CALLS calls, 3 processes); then
# nothing may be left in debugfs or /dev/snapchan and the module must
# unload (init then runs the kmemleak scan on the debug kernel).  Each
# program prints TAP; the checks here print TAP lines too.  Exit status 0
# only if everything passed.

msgs=${1:?msgs per writer}
soak_s=${2:?soak seconds}
soak_n=${3:?soak snapshots}
calls=${4:?fuzz calls}
dbg=/sys/kernel/debug/snapchan
fail=0

now() { cut -d. -f1 /proc/uptime; }

part() {
	name=$1
	shift
	echo "# stress: $name: $*"
	t0=$(now)
	if "$@"; then
		echo "# stress: $name passed in $(($(now) - t0)) s"
	else
		echo "# stress: $name FAILED (exit $?) after $(($(now) - t0)) s"
		fail=1
	fi
}

part chan_stress /bin/chan_stress -n "$msgs" -m all -t 7200
part soak /bin/soak -d "$soak_s" -S "$soak_n"
part fuzz /bin/fuzz -n "$calls" -p 3

n=0
n=$((n + 1))
left=0
for f in groups nodes snapshots; do
	[ -f "$dbg/$f" ] || continue
	if [ "$(wc -l <"$dbg/$f")" -gt 1 ]; then
		echo "# stress: debugfs $f not empty:"
		sed 's/^/#   /' "$dbg/$f"
		left=1
	fi
done
for c in /dev/snapchan/*; do
	[ "$c" = /dev/snapchan/control ] || [ ! -e "$c" ] && continue
	echo "# stress: channel left: ${c##*/}"
	left=1
done
if [ "$left" = 0 ]; then
	echo "ok $n stress: nothing left in debugfs or /dev/snapchan"
else
	echo "not ok $n stress: left behind"
	fail=1
fi
n=$((n + 1))
if rmmod snapchan; then
	echo "ok $n stress: rmmod snapchan"
else
	echo "not ok $n stress: rmmod snapchan"
	fail=1
fi
exit $fail
