#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the test VM (busybox sh), with snapchan.ko already loaded by
# the VM's init.  Usage: guest-tests.sh debug|stock
#   debug: load the KUnit module (its suites run at load; the host parses
#          the KTAP on the console), then every kselftest program;
#   stock: every kselftest program.
# Then: nothing must be left in debugfs, and the module must unload.
# Exit status 0 only if everything passed.
#
# chan_stress, snap_invariant and soak run with delay injection where the
# module has it (built for the debug kernel): inject_delay=$INJECT_DELAY
# (default 200), random delays and yields of up to that many microseconds
# at the data path's and record path's lock boundaries, set before each of
# them and reset to 0 after.  With delays, chan_stress moves 5000 messages
# per writer (60000 in all) instead of its default 25000: on the debug
# kernel its default count takes 68 s without delays and 333 s with them,
# too much for make check's budget; 5000 take about a minute.

kernel=${1:-stock}
fail=0
dbg=/sys/kernel/debug/snapchan
delay_param=/sys/module/snapchan/parameters/inject_delay
delay=${INJECT_DELAY:-200}

# set_delay US: set inject_delay if the module has it.
set_delay() {
	[ -e "$delay_param" ] || return 0
	if echo "$1" >"$delay_param"; then
		[ "$1" = 0 ] || echo "# guest: inject_delay=$1"
	else
		echo "# guest: could not set inject_delay=$1"
		fail=1
	fi
}

if [ "$kernel" = debug ]; then
	if ! insmod /lib/snapchan/snapchan_kunit.ko; then
		echo "# guest: loading snapchan_kunit.ko failed"
		fail=1
	fi
	for r in /sys/kernel/debug/kunit/snapchan*/results; do
		[ -f "$r" ] || { echo "# guest: no KUnit results"; fail=1; break; }
		if grep -q 'not ok' "$r"; then
			echo "# guest: KUnit failures in $r"
			fail=1
		fi
	done
	rmmod snapchan_kunit || fail=1
fi

for t in /bin/tests/*; do
	[ -x "$t" ] || continue
	echo "# selftests: snapchan: ${t##*/}"
	d=0
	args=
	case "${t##*/}" in
	chan_stress|snap_invariant|soak) d=$delay ;;
	esac
	[ -e "$delay_param" ] || d=0
	[ "$d" = 0 ] || [ "${t##*/}" != chan_stress ] || args="-n 5000"
	[ "$d" = 0 ] || set_delay "$d"
	# shellcheck disable=SC2086 # args is a list of options
	"$t" $args
	rc=$?
	[ "$d" = 0 ] || set_delay 0
	# 4 is KSFT_SKIP: the program cannot run on this kernel.
	if [ "$rc" = 4 ]; then
		echo "# guest: ${t##*/} skipped"
	elif [ "$rc" != 0 ]; then
		echo "# guest: ${t##*/} failed"
		fail=1
	fi
done

# The bank demo as a conservation check, snapshots, restore and all.
if [ -x /bin/bank ]; then
	echo "# bank: conservation across snapshots and a restore"
	if (cd /tmp && /bin/bank -d "${BANK_SECONDS:-10}" -q -c 2); then
		echo "ok 1 bank"
	else
		echo "not ok 1 bank"
		fail=1
	fi
fi

# Nothing left behind: only the header line in each debugfs table.
for f in groups nodes snapshots; do
	[ -f "$dbg/$f" ] || continue
	n=$(wc -l <"$dbg/$f")
	if [ "$n" -gt 1 ]; then
		echo "# guest: debugfs $f not empty after the tests:"
		sed 's/^/#   /' "$dbg/$f"
		fail=1
	fi
done
if ls /dev/snapchan/ | grep -qv '^control$'; then
	echo "# guest: channels left behind: $(ls /dev/snapchan | tr '\n' ' ')"
	fail=1
fi

if ! rmmod snapchan; then
	echo "# guest: rmmod snapchan failed"
	fail=1
fi
exit $fail
