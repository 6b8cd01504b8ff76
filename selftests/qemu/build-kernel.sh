#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build (or reuse) a test kernel from Debian's linux-source-6.1, out of tree
# in a cache outside the clone:
#
#   build-kernel.sh [debug|kcsan]      (default debug)
#
#   debug  tinyconfig + debug.config: KASAN, UBSAN, lockdep, kmemleak, ...
#   kcsan  tinyconfig + debug.config + kcsan.config: the same kernel with
#          KCSAN instead of KASAN (they exclude each other) and without
#          kmemleak; kcsan.config only overrides, so whatever debug.config
#          gains for the test programs the kcsan kernel gains too.
#
# Each flavour is cached in $cache/<flavour>-<key>; the key is a hash of the
# fragments it uses, this script and the source package version, so a second
# run with nothing changed costs nothing.  A new build removes only older
# builds of the same flavour.  Builds of one flavour are serialised (a second
# caller waits, then finds it done); the two flavours build in parallel: 23G
# of RAM is plenty, and on a saturated machine two -j2 builds take about as
# long together as one after the other.
#
# Prints the build directory (usable as KDIR for out-of-tree modules) on stdout.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${SNAPCHAN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/snapchan}
jobs=${JOBS:-$(nproc)}

flavour=${1:-debug}
case "$flavour" in
debug) frags=("$here/debug.config") ;;
kcsan) frags=("$here/debug.config" "$here/kcsan.config") ;;
*) echo "build-kernel: flavour must be debug or kcsan, not '$flavour'" >&2; exit 2 ;;
esac

ver=$(dpkg-query -W -f='${Version}' linux-source-6.1)
key=$( (cat "${frags[@]}" "$here/build-kernel.sh"; echo "$ver") | sha256sum | cut -c1-16)
out=$cache/$flavour-$key

if [ -f "$out/.snapchan-done" ]; then
	echo "$out"
	exit 0
fi

mkdir -p "$cache"
exec 9>"$cache/build-$flavour.lock"
flock 9
if [ -f "$out/.snapchan-done" ]; then
	echo "$out"
	exit 0
fi

# ksrc.sh extracts the source once; two flavours starting together on a
# fresh machine must not both extract it.
src=$(flock "$cache/ksrc.lock" "$here/../../scripts/ksrc.sh")

# configure: a fresh $out with the merged configuration, checked.
configure() {
	rm -rf "$out"
	mkdir -p "$out"
	{
		make -C "$src" O="$out" tinyconfig
		"$src/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "${frags[@]}"
		make -C "$src" O="$out" olddefconfig
	} >"$out/config.log" 2>&1 || { tail -n 30 "$out/config.log" >&2; return 1; }

	# Every option the fragments ask for (a later fragment's value
	# winning) must have survived olddefconfig.
	local line opt missing=0
	while IFS= read -r line; do
		case "$line" in
		CONFIG_*=n) opt=${line%%=*}
			if grep -q "^$opt=" "$out/.config"; then
				echo "build-kernel: $opt should be off" >&2; missing=1
			fi ;;
		CONFIG_*) if ! grep -qxF "$line" "$out/.config"; then
				echo "build-kernel: $line did not stick" >&2; missing=1
			fi ;;
		esac
	done < <(cat "${frags[@]}" | grep -E '^CONFIG_[A-Za-z0-9_]+=' |
		awk -F= '{ v[$1] = $0; if (!($1 in o)) o[$1] = n++ }
			END { for (k in v) print o[k], v[k] }' | sort -n | cut -d' ' -f2-)
	[ "$missing" = 0 ] || return 1
	touch "$out/.snapchan-configured"
}

# A build that was interrupted (make check stopped early, ^C) resumes where
# it stopped; if the resumed build fails, one more try from scratch.
start=$(date +%s)
if [ -f "$out/.snapchan-configured" ]; then
	echo "build-kernel: resuming the $flavour kernel build in $out" >&2
	resumed=1
else
	echo "build-kernel: building $flavour kernel in $out (a few minutes, once)" >&2
	configure || exit 1
	resumed=0
fi
while ! make -C "$src" O="$out" -j"$jobs" >"$out/build.log" 2>&1; do
	if [ "$resumed" = 0 ]; then
		tail -n 40 "$out/build.log" >&2
		exit 1
	fi
	echo "build-kernel: the resumed build failed; building from scratch" >&2
	configure || exit 1
	resumed=0
done
echo "build-kernel: $flavour kernel built in $(($(date +%s) - start)) s" >&2
touch "$out/.snapchan-done"
# Older kernels of this flavour (other configurations) are not needed any
# more; the other flavour's are.
for old in "$cache/$flavour"-*; do
	[ "$old" = "$out" ] || [ ! -d "$old" ] || rm -rf "$old"
done
echo "$out"
