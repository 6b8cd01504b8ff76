#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
#
# The shared library exports exactly the functions declared in snapchan.h,
# every one under the version LIBSNAPCHAN_1, and its soname is
# libsnapchan.so.1.  Run from userspace/.
set -eu
lib=lib/libsnapchan.so.1
hdr=lib/snapchan.h

soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libsnapchan.so.1 ] || { echo "soname is '$soname'"; exit 1; }

# Defined dynamic symbols, without the version node itself.
# (Recent nm prints name@@VERSION; the version is checked below.)
exported=$(nm -D --defined-only "$lib" | awk '{ sub(/@.*/, "", $3) }
	$3 != "LIBSNAPCHAN_1" { print $3 }' | sort)
bad=$(grep -v '^snapchan_' <<<"$exported" || true)
if [ -n "$bad" ]; then
	echo "exported symbols outside snapchan_*:"; echo "$bad"; exit 1
fi

# Every exported symbol carries the version.
unversioned=$(objdump -T "$lib" | awk '/ DF | DO / && $NF ~ /^snapchan_/ && $(NF-1) != "LIBSNAPCHAN_1" { print $NF }')
if [ -n "$unversioned" ]; then
	echo "symbols without version LIBSNAPCHAN_1:"; echo "$unversioned"; exit 1
fi

# Exactly the functions the public header declares.
declared=$(grep -oE '\bsnapchan_[a-z0-9_]+\(' "$hdr" | tr -d '(' | sort -u)
if [ "$declared" != "$exported" ]; then
	echo "header and exports differ (< declared, > exported):"
	diff <(echo "$declared") <(echo "$exported") || true
	exit 1
fi
echo "$(wc -l <<<"$exported") symbols, all snapchan_*@LIBSNAPCHAN_1"
