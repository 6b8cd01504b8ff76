#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run a command in a sealed QEMU VM (TCG, no network, no disk) and judge it,
# after WireGuard's qemu selftest harness:
#
#   selftests/qemu/run.sh -k stock|debug|kcsan|/path/to/bzImage [-m module.ko]...
#       [-e host_file[:guest_path]]... [-t timeout_seconds] [-q] [--] command...
#
#   -k  kernel: Debian's stock kernel, the debug or the KCSAN kernel
#       (build-kernel.sh debug|kcsan) or an image; an image under a debug or
#       kcsan build cache counts as that kernel.
#   -m  module to load (finit_module) before the command, in order; the
#       value may carry module parameters: -m 'foo.ko param=1'.
#   -e  host file or directory to copy into the guest, by default to
#       /bin/<basename>; a guest_path ending in / is a directory to copy into.
#   -t  timeout in seconds for the whole VM run (default 600).
#   -q  quiet: show only TAP/KTAP result and "#" lines, and failures.
#
# The command (all remaining arguments joined by spaces) runs as
# "/bin/sh /etc/test-cmd" (busybox) in /root on the console, ttyS0.  The
# guest init reports "SNAPCHAN-RESULT rc=N" on ttyS1, a separate channel.
#
# PASS needs: that line with rc=0, qemu exiting by itself in time, a console
# free of kernel warnings/splats (panic_on_warn makes any WARN fatal; on
# the debug kernel init also runs kmemleak) and no TAP "not ok" line.  On
# the KCSAN kernel any "BUG: KCSAN:" report fails the run; there
# panic_on_warn is off, so that one race does not end the run and hide the
# others (a WARNING still fails it, from the console), and every report is
# printed in full and kept in <console log>.kcsan.
#
# The last line printed is "N passed, N failed[, N skipped]", counting the
# TAP/KTAP test lines (KTAP parents with subtests are not counted, their
# leaves are), plus one failure for a runner-level failure.  Exit status:
# 0 on pass, else the guest's non-zero rc, else 1.
#
# The console is saved to build/qemu/last-console.log (or $SNAPCHAN_QEMU_LOG).
# Guest memory: 2G (or $SNAPCHAN_QEMU_MEM, e.g. 3G).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=$top/build/qemu
cache=${SNAPCHAN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/snapchan}
prog=${0##*/}

usage() {
	cat >&2 <<EOF
usage: $prog -k stock|debug|kcsan|/path/to/bzImage [-m module.ko]...
	[-e host_file[:guest_path]]... [-t timeout_seconds] [-q] [--] command...
(see the comment at the top of $0)
EOF
	exit 2
}

die() {
	echo "$prog: $*" >&2
	exit 2
}

kernel=
modules=()
extras=()
timeout_s=600
quiet=0
while [ $# -gt 0 ]; do
	case "$1" in
	-k) [ $# -ge 2 ] || usage; kernel=$2; shift 2 ;;
	-m) [ $# -ge 2 ] || usage; modules+=("$2"); shift 2 ;;
	-e) [ $# -ge 2 ] || usage; extras+=("$2"); shift 2 ;;
	-t) [ $# -ge 2 ] || usage; timeout_s=$2; shift 2 ;;
	-q) quiet=1; shift ;;
	-h|--help) usage ;;
	--) shift; break ;;
	-*) echo "$prog: unknown option $1" >&2; usage ;;
	*) break ;;
	esac
done
[ -n "$kernel" ] || usage
[ $# -gt 0 ] || { echo "$prog: no command given" >&2; usage; }
case "$timeout_s" in
''|*[!0-9]*|0) die "bad timeout '$timeout_s'" ;;
esac
cmd="$*"

# --- kernel --------------------------------------------------------------
# debug=1 for both of our own kernels (tinyconfig based: init's debug
# marker, no NMI watchdog); kcsan=1 for the KCSAN one.
debug=0
kcsan=0
case "$kernel" in
stock)
	krel=$("$top/scripts/stock-kernel.sh")
	image=/boot/vmlinuz-$krel
	;;
debug|kcsan)
	kdir=$("$here/build-kernel.sh" "$kernel")
	image=$kdir/arch/x86/boot/bzImage
	debug=1
	[ "$kernel" = debug ] || kcsan=1
	;;
*)
	image=$kernel
	[ -f "$image" ] || die "no kernel image $image"
	image=$(realpath -- "$image")
	if [ -d "$cache" ]; then
		case "$image" in
		"$(realpath -- "$cache")"/debug-*/*) debug=1 ;;
		"$(realpath -- "$cache")"/kcsan-*/*) debug=1; kcsan=1 ;;
		esac
	fi
	;;
esac
[ -r "$image" ] || die "kernel image $image missing or unreadable"
# 2G for both: on the debug kernel 3G roughly doubles the kmemleak scans.
mem=${SNAPCHAN_QEMU_MEM:-2G}

# --- init, cached by hash --------------------------------------------------
mkdir -p "$out"
init_key=$( (cat "$here/init.c"; gcc --version | head -n 1) | sha256sum | cut -c1-16)
init_bin=$out/init-$init_key
if [ ! -x "$init_bin" ]; then
	gcc -static -O2 -Wall -o "$init_bin.tmp.$$" "$here/init.c"
	mv -f "$init_bin.tmp.$$" "$init_bin"
fi

# --- initramfs -----------------------------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/snapchan-qemu.XXXXXX")
log=${SNAPCHAN_QEMU_LOG:-$out/last-console.log}
# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
	if [ -f "$tmp/console.log" ] &&
	   cp -f "$tmp/console.log" "$log.tmp.$$" 2>/dev/null; then
		mv -f "$log.tmp.$$" "$log" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
# shellcheck disable=SC2317 # called from the INT/TERM traps
interrupted() {
	if [ -s "$tmp/timeout.pid" ]; then
		kill "$(cat "$tmp/timeout.pid")" 2>/dev/null || true
		wait 2>/dev/null || true
	fi
	echo "$prog: interrupted" >&2
	exit "$1"
}
trap 'interrupted 130' INT
trap 'interrupted 143' TERM

root=$tmp/root
mkdir -p "$root"/{bin,dev,etc,lib/snapchan,proc,root,sys,tmp}
chmod 0700 "$root/root"
chmod 1777 "$root/tmp"
cp "$init_bin" "$root/init"
cp /bin/busybox "$root/bin/busybox"
# One symlink per applet; perl (Essential) avoids ~270 forks of ln.
/bin/busybox --list | BIN="$root/bin" perl -nle \
	'$_ eq "busybox" or symlink("busybox", "$ENV{BIN}/$_") or die "$_: $!"'
# The kernel's built-in initramfs has it too; harmless if mknod is refused.
mknod -m 600 "$root/dev/console" c 5 1 2>/dev/null || true

: >"$root/etc/modules.list"
for m in "${modules[@]}"; do
	file=${m%% *}
	params=
	[ "$file" = "$m" ] || params=" ${m#* }"
	[ -f "$file" ] || die "no module $file"
	name=${file##*/}
	[ ! -e "$root/lib/snapchan/$name" ] || die "module $name given twice"
	cp -- "$file" "$root/lib/snapchan/$name"
	echo "/lib/snapchan/$name$params" >>"$root/etc/modules.list"
done

for e in "${extras[@]}"; do
	case "$e" in
	*:*) src=${e%%:*}; dst=${e#*:} ;;
	*) src=$e; dst= ;;
	esac
	[ -e "$src" ] || die "no such file $src (-e $e)"
	src=${src%/}
	case "$dst" in
	'') dst=/bin/${src##*/} ;;
	*/) dst=$dst${src##*/} ;;
	/*) ;;
	*) die "guest path must be absolute (-e $e)" ;;
	esac
	case "/$dst/" in
	*/../*) die "guest path may not contain .. (-e $e)" ;;
	esac
	mkdir -p "$root$(dirname -- "$dst")"
	if [ -d "$src" ]; then
		[ ! -L "$root$dst" ] || rm -f "$root$dst"
		mkdir -p "$root$dst"
		cp -RL -- "$src/." "$root$dst/"
	else
		# Replace, never write through, a busybox applet symlink.
		rm -rf "$root$dst"
		cp -L -- "$src" "$root$dst"
	fi
done

printf '%s\n' "$cmd" >"$root/etc/test-cmd"
[ "$debug" = 0 ] || : >"$root/etc/debug-kernel"
cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
nobody:x:65534:
nogroup:x:65534:
EOF

(cd "$root" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc -R 0:0 --quiet) | gzip -n -6 >"$tmp/initrd.gz"

# --- run -----------------------------------------------------------------
# Every warning is fatal.  TCG on a busy host can starve a vCPU for many
# seconds, so the soft lockup (2 * watchdog_thresh) and RCU stall timeouts
# are raised to keep those detectors from firing on the host's load alone.
# On the KCSAN kernel a report counts as a WARN (check_panic_on_warn): there
# the console check alone fails the run, so that every race gets reported.
append="console=ttyS0 panic_on_warn=$((1 - kcsan)) panic=-1 oops=panic softlockup_panic=1"
append+=" watchdog_thresh=30 rcupdate.rcu_cpu_stall_timeout=120"
# The debug and KCSAN kernels have no NMI watchdog (the option would reach
# init's env).
[ "$debug" = 1 ] || append+=" nmi_watchdog=0"
# la57=off: with 5-level paging an interrupt during identify_boot_cpu() can
# hit a false KASAN wild-memory-access.  sockets=2: without ACPI (debug
# kernel) CPUs come from SeaBIOS's MP table, which lists one per socket.
cpu=max,la57=off
smp=2,sockets=2,cores=1,threads=1
qemu=(qemu-system-x86_64 -nodefaults -no-user-config -accel tcg -M pc
	-cpu "$cpu" -smp "$smp" -m "$mem" -display none -monitor none -no-reboot
	-kernel "$image" -initrd "$tmp/initrd.gz" -append "$append"
	-serial stdio -serial "file:$tmp/result")

# TAP/KTAP lines, after an optional printk timestamp.
ts='^(\[ *[0-9]+\.[0-9]+\] )?'
tap_re="${ts}([[:space:]]*((not )?ok [0-9]+|#)|snapchan-init: )"
if [ "$quiet" = 1 ]; then
	show() { grep --line-buffered -E -- "$tap_re" || true; }
	echo "$prog: running '$cmd' on $image (quiet)"
else
	show() { cat; }
fi

: >"$tmp/console.log"
start=$(date +%s.%N)
# In the background so that a signal to this script is handled at once
# (the trap kills timeout, which kills qemu), not after the VM is done.
(
	timeout -k 10 "$timeout_s" "${qemu[@]}" </dev/null 2>"$tmp/qemu.err" &
	echo $! >"$tmp/timeout.pid"
	st=0
	wait $! || st=$?
	echo "$st" >"$tmp/qemu.rc"
) | sed -u 's/\r$//' | tee "$tmp/console.log" | show &
wait $! || true
end=$(date +%s.%N)
qemu_rc=$(cat "$tmp/qemu.rc" 2>/dev/null || echo 255)
elapsed=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')

# --- verdict -------------------------------------------------------------
reasons=()
runner_fail=0
fail() {
	reasons+=("$*")
	runner_fail=1
}

if [ "$qemu_rc" = 124 ] || [ "$qemu_rc" = 137 ]; then
	fail "timeout: the VM did not finish within ${timeout_s}s"
elif [ "$qemu_rc" != 0 ]; then
	fail "qemu exited with status $qemu_rc"
fi
if [ -s "$tmp/qemu.err" ]; then
	echo "$prog: qemu stderr:" >&2
	sed 's/^/  /' "$tmp/qemu.err" >&2
fi

rc=
if [ -f "$tmp/result" ]; then
	rc=$(tr -d '\r' <"$tmp/result" |
		sed -n 's/^SNAPCHAN-RESULT rc=\([0-9][0-9]*\)$/\1/p' | tail -n 1)
fi
if [ -z "$rc" ]; then
	fail "no SNAPCHAN-RESULT line from the guest (crash, panic or init failure)"
fi

# Console must be clean: no line may contain one of these (fixed strings,
# case-sensitive) unless it is one of the known-benign boot lines below.
bad_strings='BUG:
WARNING:
KASAN
KCSAN:
UBSAN
possible circular locking
possible recursive locking
INFO: 
lockdep
unreferenced object
Call Trace
Kernel panic
general protection fault
Oops
hung_task
soft lockup
turning off the locking correctness validator'
benign_re='^(\[ *[0-9]+\.[0-9]+\] )?rcu:[[:space:]]+RCU lockdep checking is enabled\.$'
BAD=$bad_strings BENIGN=$benign_re awk '
	BEGIN {
		nbad = split(ENVIRON["BAD"], bad, "\n")
		benign = ENVIRON["BENIGN"]
	}
	{
		line[NR] = $0
		if ($0 ~ benign)
			next
		for (i = 1; i <= nbad; i++)
			if (index($0, bad[i])) {
				hit[NR] = 1
				nhits++
				break
			}
	}
	END {
		# Each offending line with 3 lines of context, at most 80 lines.
		for (n = 1; n <= NR && out < 80; n++) {
			show = 0
			for (k = n - 3; k <= n + 3; k++)
				if (k in hit)
					show = 1
			if (!show)
				continue
			if (last && n > last + 1)
				print "    --"
			printf "    %d%s%s\n", n, (n in hit) ? ": " : "- ", line[n]
			last = n
			out++
		}
	}' "$tmp/console.log" >"$tmp/bad"
if [ -s "$tmp/bad" ]; then
	fail "kernel problem on the console:"
fi

# KCSAN reports in full: from the ===== line before "BUG: KCSAN:" to the
# ===== line that closes it (the kernel engineer fixes or annotates each).
# All go to $tmp/kcsan, the first of each title to $tmp/kcsan.first.
FIRST=$tmp/kcsan.first awk '
	function flush() {
		if (rep == "")
			return
		printf "%s", rep
		if (!(title in seen))
			printf "%s", rep >ENVIRON["FIRST"]
		seen[title] = 1
		rep = ""
	}
	{
		sepline = $0 ~ /^(\[ *[0-9]+\.[0-9]+\] )?=+$/
	}
	inrep {
		rep = rep $0 "\n"
		if (sepline) {
			inrep = 0
			flush()
		}
		next
	}
	/BUG: KCSAN:/ {
		inrep = 1
		title = $0
		sub(/.*BUG: KCSAN:/, "", title)
		rep = (prev_sep ? prev : "") $0 "\n"
	}
	{
		prev = $0 "\n"
		prev_sep = sepline
	}
	END { flush() }
' "$tmp/console.log" >"$tmp/kcsan"
: >>"$tmp/kcsan.first"
nkcsan=$(grep -c 'BUG: KCSAN:' "$tmp/kcsan" || true)
if [ "$nkcsan" -gt 0 ]; then
	cp -f "$tmp/kcsan" "$log.kcsan" 2>/dev/null || true
	fail "$nkcsan KCSAN report(s), $(grep -c 'BUG: KCSAN:' "$tmp/kcsan.first") distinct (all in $log.kcsan):"
else
	rm -f "$log.kcsan"
fi

# Count TAP/KTAP test lines.  A line at indentation i is a parent (not
# counted) if test lines deeper than i came after the previous test line
# at indentation <= i: a KUnit suite line, or a parameterised test.
read -r passed failed skipped notok_parent < <(awk '
	{
		line = $0
		sub(/^\[ *[0-9]+\.[0-9]+\] /, "", line)
		if (!match(line, /^[ \t]*(not )?ok [0-9]+([ \t]|$)/))
			next
		match(line, /^[ \t]*/)
		ind = RLENGTH
		parent = (ind in deeper) && deeper[ind]
		for (l in deeper)
			if (l + 0 > ind)
				deeper[l] = 0
			else if (l + 0 < ind)
				deeper[l] = 1
		deeper[ind] = 0
		for (l = 0; l < ind; l++)
			if (!(l in deeper))
				deeper[l] = 1
		notok = line ~ /^[ \t]*not ok/
		if (parent) {
			if (notok && line !~ /#[ \t]*[Ss][Kk][Ii][Pp]/)
				np++
			next
		}
		if (line ~ /#[ \t]*[Ss][Kk][Ii][Pp]/)
			s++
		else if (notok)
			f++
		else
			p++
	}
	END { printf "%d %d %d %d\n", p, f, s, np }' "$tmp/console.log")

if [ "$failed" -gt 0 ]; then
	reasons+=("$failed TAP test(s) not ok:")
	grep -E -- "${ts}[[:space:]]*not ok [0-9]+" "$tmp/console.log" |
		grep -viE '#[[:space:]]*skip' | head -n 40 | sed 's/^/    /' >"$tmp/notok" || true
elif [ "$notok_parent" -gt 0 ]; then
	fail "a TAP/KTAP suite line is 'not ok' though no test in it failed"
fi

if [ -n "$rc" ] && [ "$rc" != 0 ]; then
	case "$rc" in
	120) why=" (guest init failed)" ;;
	121) why=" (a module failed to load)" ;;
	122) why=" (kmemleak found leaks)" ;;
	123) why=" (kmemleak turned itself off: leaks not checked)" ;;
	*) why= ;;
	esac
	if [ "$failed" -gt 0 ]; then
		reasons+=("guest result rc=$rc$why")
	else
		fail "guest result rc=$rc$why"
	fi
fi

failed=$((failed + runner_fail))
summary="$passed passed, $failed failed"
[ "$skipped" = 0 ] || summary="$summary, $skipped skipped"

echo "$prog: kernel $image, guest ran ${elapsed}s"
if [ ${#reasons[@]} -eq 0 ]; then
	echo "$prog: PASS"
	echo "$summary"
	exit 0
fi
echo "$prog: FAIL (console in $log)"
for r in "${reasons[@]}"; do
	echo "  - $r"
	case "$r" in
	"kernel problem"*) cat "$tmp/bad" ;;
	*"KCSAN report"*)
		grep -o 'BUG: KCSAN:.*' "$tmp/kcsan" | sort | uniq -c | sort -rn |
			sed 's/^/    /'
		echo "    The first report of each, in full:"
		sed 's/^/    /' "$tmp/kcsan.first" ;;
	*"not ok:") cat "$tmp/notok" ;;
	esac
done
echo "$summary"
if [ -n "$rc" ] && [ "$rc" != 0 ]; then
	exit "$rc"
fi
exit 1
