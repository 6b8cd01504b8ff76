#!/bin/bash
# Print the directory of Debian's linux-source-6.1, extracted once into the
# cache outside the clone (checkpatch.pl, kselftest_harness.h and the
# debug kernel all come from it).
set -euo pipefail
cache=${SNAPCHAN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/snapchan}
tarball=/usr/src/linux-source-6.1.tar.xz
[ -f "$tarball" ] || { echo "ksrc: $tarball missing (run 'make deps')" >&2; exit 1; }
ver=$(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null || stat -c %Y "$tarball")
src=$cache/linux-source-$ver
if [ ! -f "$src/.snapchan-extracted" ]; then
	echo "ksrc: extracting $tarball" >&2
	mkdir -p "$cache"
	rm -rf "$src" "$src.tmp"
	mkdir -p "$src.tmp"
	tar -C "$src.tmp" --strip-components=1 -xf "$tarball"
	touch "$src.tmp/.snapchan-extracted"
	mv "$src.tmp" "$src"
fi
echo "$src"
