#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# `make vm-run`: run a command in a QEMU VM with snapchan.ko loaded.
#
#   KERNEL   stock (default), debug (KASAN, lockdep, kmemleak, ...) or
#            kcsan (the race detector)
#   CMD      shell command to run in the guest
#            (default: uname -a; ls -l /dev/snapchan)
#   EXTRA    space-separated host files/directories to copy into the guest
#            (to /bin/<name>, or file:/guest/path)
#   MODULES  space-separated .ko files to load, in order (default: the
#            snapchan.ko built for KERNEL, built first if missing; set it
#            empty to load no module)
#   TIMEOUT  seconds before the VM is killed (default: run.sh's 600)
#   QUIET    non-empty: only TAP lines and failures (run.sh -q)
#
# Exits with selftests/qemu/run.sh's status.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

kernel=${KERNEL:-stock}
cmd=${CMD:-uname -a; ls -l /dev/snapchan}

case "$kernel" in
stock)
	krel=$(scripts/stock-kernel.sh)
	kdir=/usr/src/linux-headers-$krel
	;;
debug|kcsan)
	kdir=$(selftests/qemu/build-kernel.sh "$kernel")
	;;
*)
	echo "vm-run: KERNEL must be stock, debug or kcsan, not '$kernel'" >&2
	exit 2
	;;
esac

if [ -n "${MODULES+set}" ]; then
	read -r -a modules <<<"$MODULES"
else
	# Same place as the Makefile's MODOUT for this KDIR.
	kdir_flat=${kdir#/}
	ko=build/kmod-${kdir_flat//\//_}/kmod/snapchan.ko
	if [ ! -f "$ko" ]; then
		echo "vm-run: $ko missing, building it" >&2
		make module KDIR="$kdir"
	fi
	modules=("$ko")
fi

args=(-k "$kernel")
for m in "${modules[@]}"; do
	args+=(-m "$m")
done
read -r -a extras <<<"${EXTRA:-}"
for e in "${extras[@]}"; do
	args+=(-e "$e")
done
[ -z "${TIMEOUT:-}" ] || args+=(-t "$TIMEOUT")
[ -z "${QUIET:-}" ] || args+=(-q)

exec selftests/qemu/run.sh "${args[@]}" -- "$cmd"
