#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the test VM (busybox sh) for `make stress` and for the short
# KCSAN run of `make check`, with snapchan.ko loaded by the VM's init:
#
#   stress-tests.sh [msgs=N] [soak_s=N] [soak_n=N] [calls=N] [inv_k=N]
#                   [inv_m=N] [wake=0|1] [delay=US]
#
#   msgs    chan_stress, messages per writer (4 writers and 4 readers,
#           threads, processes and blocking: 12 x N messages)
#   soak_s  soak, at least this many seconds ...
#   soak_n  ... and at least this many snapshots
#   calls   fuzz, calls (3 processes)
#   inv_k   snap_invariant, snapshots per topology (ring and mesh) ...
#   inv_m   ... and messages per node (default 1000)
#   wake    1: the wake matrix (wake_test) too
#   delay   inject_delay for chan_stress, soak and snap_invariant: the
#           module's random delays and yields of up to US microseconds at
#           the data path's and record path's lock boundaries (0: off).
#           Only modules built for the debug and KCSAN kernels have the
#           parameter; elsewhere this is a no-op, said on the console.
#
# A part whose count is 0 or not given is left out; a program that is not
# in the VM (/bin/<name>) is reported as a skip.  Then nothing may be left
# in debugfs or /dev/snapchan and the module must unload (init then runs
# the kmemleak scan on the debug kernel).  Each program prints TAP; the
# checks here print TAP lines too.  Exit status 0 only if everything
# passed.

msgs=0
soak_s=0
soak_n=0
calls=0
inv_k=0
inv_m=1000
wake=0
delay=0
for a in "$@"; do
	case "$a" in
	msgs=*|soak_s=*|soak_n=*|calls=*|inv_k=*|inv_m=*|wake=*|delay=*)
		v=${a#*=}
		case "$v" in
		''|*[!0-9]*) echo "# stress: bad value in '$a'"; exit 2 ;;
		esac
		eval "${a%%=*}=\$v" ;;
	*) echo "# stress: unknown argument '$a'"; exit 2 ;;
	esac
done
dbg=/sys/kernel/debug/snapchan
delay_param=/sys/module/snapchan/parameters/inject_delay
fail=0

now() { cut -d. -f1 /proc/uptime; }

# set_delay US: set inject_delay if the module has it; prints what it did.
set_delay() {
	[ -e "$delay_param" ] || return 0
	if echo "$1" >"$delay_param"; then
		[ "$1" = 0 ] || echo "# stress: inject_delay=$1"
	else
		echo "# stress: could not set inject_delay=$1"
		fail=1
	fi
}

if [ "$delay" != 0 ] && [ ! -e "$delay_param" ]; then
	echo "# stress: this module has no inject_delay parameter: no delay injection"
fi

# part NAME DELAY PROGRAM ARGS...: run one program (with inject_delay=DELAY
# while it runs) and say how long it took.
part() {
	name=$1
	d=$2
	shift 2
	if [ ! -x "$1" ]; then
		echo "# stress: $name: $1 not in the VM, skipped"
		return 0
	fi
	echo "# stress: $name: $*"
	set_delay "$d"
	t0=$(now)
	"$@"
	rc=$?
	set_delay 0
	if [ "$rc" = 0 ]; then
		echo "# stress: $name passed in $(($(now) - t0)) s"
	else
		echo "# stress: $name FAILED (exit $rc) after $(($(now) - t0)) s"
		fail=1
	fi
}

[ "$msgs" = 0 ] || part chan_stress "$delay" /bin/chan_stress -n "$msgs" -m all -t 7200
[ "$inv_k" = 0 ] || part snap_invariant "$delay" /bin/snap_invariant -k "$inv_k" -m "$inv_m"
if [ "$soak_s" != 0 ] || [ "$soak_n" != 0 ]; then
	part soak "$delay" /bin/soak -d "$soak_s" -S "$soak_n"
fi
[ "$wake" = 0 ] || part wake_test 0 /bin/wake_test
[ "$calls" = 0 ] || part fuzz 0 /bin/fuzz -n "$calls" -p 3

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
