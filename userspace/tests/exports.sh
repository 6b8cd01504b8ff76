#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
#
# The shared library exports exactly the functions declared in snapchan.h,
# its soname is libsnapchan.so.1, and its symbol versions keep the ABI:
# every function of release 1.0 (tests/abi-LIBSNAPCHAN_1.txt, frozen) is
# still exported under LIBSNAPCHAN_1, and every later one under
# LIBSNAPCHAN_1.1, a node that inherits LIBSNAPCHAN_1.  Run from userspace/.
set -eu
lib=lib/libsnapchan.so.1
hdr=lib/snapchan.h
abi10=tests/abi-LIBSNAPCHAN_1.txt
new=LIBSNAPCHAN_1.1

soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libsnapchan.so.1 ] || { echo "soname is '$soname'"; exit 1; }

# "version symbol" for every defined dynamic function or object.
pairs=$(objdump -T "$lib" | awk '/ D[FO] / && !/\*UND\*|\*ABS\*/ { print $(NF-1), $NF }' | sort -k2)
exported=$(awk '{ print $2 }' <<<"$pairs" | sort)
bad=$(grep -v '^snapchan_' <<<"$exported" || true)
if [ -n "$bad" ]; then
	echo "exported symbols outside snapchan_*:"; echo "$bad"; exit 1
fi

# The version nodes defined, and their parents.
nodes=$(objdump -p "$lib" | awk '/^Version definitions:/ { on = 1; next }
	/^$/ { on = 0 } on && NF >= 4 { print $4 } on && NF == 1 { print "  parent " $1 }')
want_nodes=$'libsnapchan.so.1\nLIBSNAPCHAN_1\nLIBSNAPCHAN_1.1\n  parent LIBSNAPCHAN_1'
if [ "$nodes" != "$want_nodes" ]; then
	echo "version definitions differ from the expected:"
	diff <(echo "$want_nodes") <(echo "$nodes") || true
	exit 1
fi

# Release 1.0: each of its functions still there, still LIBSNAPCHAN_1; and
# nothing else in that node.
old=$(grep -v '^#' "$abi10" | sort)
in10=$(awk '$1 == "LIBSNAPCHAN_1" { print $2 }' <<<"$pairs" | sort)
if [ "$old" != "$in10" ]; then
	echo "LIBSNAPCHAN_1 changed (< frozen 1.0 list, > exported now):"
	diff <(echo "$old") <(echo "$in10") || true
	exit 1
fi
# Everything else: the new node.
stray=$(awk -v n="$new" '$1 != "LIBSNAPCHAN_1" && $1 != n { print $1, $2 }' <<<"$pairs")
if [ -n "$stray" ]; then
	echo "symbols in neither LIBSNAPCHAN_1 nor $new:"; echo "$stray"; exit 1
fi

# Exactly the functions the public header declares.
declared=$(grep -oE '\bsnapchan_[a-z0-9_]+\(' "$hdr" | tr -d '(' | sort -u)
if [ "$declared" != "$exported" ]; then
	echo "header and exports differ (< declared, > exported):"
	diff <(echo "$declared") <(echo "$exported") || true
	exit 1
fi
n10=$(wc -l <<<"$in10")
n11=$(awk -v n="$new" '$1 == n' <<<"$pairs" | wc -l)
echo "$((n10 + n11)) symbols: $n10 snapchan_*@LIBSNAPCHAN_1 (1.0, unchanged), $n11 @$new"
