#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build (or reuse) the debug kernel: tinyconfig + debug.config, from Debian's
# linux-source-6.1, out of tree in a cache outside the clone.  The cache key is
# a hash of the fragment, this script and the source package version, so a
# second run with nothing changed costs nothing.
#
# Prints the build directory (usable as KDIR for out-of-tree modules) on stdout.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${SNAPCHAN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/snapchan}
jobs=${JOBS:-$(nproc)}

ver=$(dpkg-query -W -f='${Version}' linux-source-6.1)
key=$( (cat "$here/debug.config" "$here/build-kernel.sh"; echo "$ver") | sha256sum | cut -c1-16)
out=$cache/debug-$key

if [ -f "$out/.snapchan-done" ]; then
	echo "$out"
	exit 0
fi

# One build at a time: a second caller waits, then finds it done.
mkdir -p "$cache"
exec 9>"$cache/build.lock"
flock 9
if [ -f "$out/.snapchan-done" ]; then
	echo "$out"
	exit 0
fi

src=$("$here/../../scripts/ksrc.sh")

echo "build-kernel: building debug kernel in $out (a few minutes, once)" >&2
rm -rf "$out"
mkdir -p "$out"
{
	make -C "$src" O="$out" tinyconfig
	"$src/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "$here/debug.config"
	make -C "$src" O="$out" olddefconfig
} >"$out/config.log" 2>&1 || { tail -n 30 "$out/config.log" >&2; exit 1; }

# Every option the fragment asks for must have survived olddefconfig.
missing=0
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=n) opt=${line%%=*}
		if grep -q "^$opt=y" "$out/.config"; then
			echo "build-kernel: $opt should be off" >&2; missing=1
		fi ;;
	CONFIG_*) if ! grep -qxF "$line" "$out/.config"; then
			echo "build-kernel: $line did not stick" >&2; missing=1
		fi ;;
	esac
done <"$here/debug.config"
[ "$missing" = 0 ] || exit 1

if ! make -C "$src" O="$out" -j"$jobs" >"$out/build.log" 2>&1; then
	tail -n 40 "$out/build.log" >&2
	exit 1
fi
touch "$out/.snapchan-done"
# Older debug kernels (other configurations) are not needed any more.
for old in "$cache"/debug-*; do
	[ "$old" = "$out" ] || rm -rf "$old"
done
echo "$out"
