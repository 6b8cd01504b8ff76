#!/bin/bash
# Quality gates: checkpatch --strict over kmod/ and uapi/, a W=1 build with
# no warnings, and sparse (C=2: every file) with nothing to say.
# Prints "gates: N passed, N failed" and exits non-zero on any finding.
set -uo pipefail
cd "$(dirname "$0")/.."

ksrc=$(scripts/ksrc.sh) || exit 1
krel=$(scripts/stock-kernel.sh) || exit 1
kdir=/usr/src/linux-headers-$krel
passed=0
failed=0

gate() {
	local name=$1 out=$2
	if [ -z "$out" ]; then
		echo "ok - gate $name"
		passed=$((passed + 1))
	else
		echo "not ok - gate $name"
		printf '%s\n' "$out" | sed 's/^/#   /' | head -n 40
		failed=$((failed + 1))
	fi
}

files=$(git ls-files -co --exclude-standard 'kmod/*.c' 'kmod/*.h' 'kmod/tests/*.c' 'uapi/*.h')
[ -n "$files" ] || { echo "gates: no kernel sources found" >&2; exit 1; }
out=$(perl "$ksrc/scripts/checkpatch.pl" --no-tree --strict --terse \
	--show-types --ignore SPDX_LICENSE_TAG,FILE_PATH_CHANGES -f $files \
	| grep -E ': (ERROR|WARNING|CHECK):')
gate "checkpatch --strict" "$out"

# A fresh build directory, so that every file is compiled and checked.
outdir=build/gates
rm -rf "$outdir"
log=$(make -s module KDIR="$kdir" MODOUT="$outdir" \
	KBUILD_EXTRA="W=1 C=2" 2>&1)
rc=$?
out=$(printf '%s\n' "$log" | grep -E '(warning|error|ERROR):|Error [0-9]')
[ $rc -eq 0 ] || out="${out:-build failed (rc $rc)}"
gate "W=1 and sparse (C=2) against $krel" "$out"

# Again against the debug kernel, whose CONFIG_KUNIT brings in the suites.
dkdir=$(selftests/qemu/build-kernel.sh) || exit 1
outdir=build/gates-debug
rm -rf "$outdir"
log=$(make -s module KDIR="$dkdir" MODOUT="$outdir" \
	KBUILD_EXTRA="W=1 C=2" 2>&1)
rc=$?
out=$(printf '%s\n' "$log" | grep -E '(warning|error|ERROR):|Error [0-9]')
[ $rc -eq 0 ] || out="${out:-build failed (rc $rc)}"
gate "W=1 and sparse (C=2) against the debug kernel, KUnit suites included" "$out"

echo "gates: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
