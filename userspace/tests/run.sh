#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
#
# Run the host tests given as arguments (built .t programs and .sh
# scripts), from the userspace/ directory: first every test as it is, then
# every program again under $VALGRIND.  Prints TAP ("ok N name" /
# "not ok N name", the output of a failed test as "# " comments), then
# "N passed, N failed" alone on the last line.  Exits 1 if any failed.
set -u
cd "$(dirname "$0")/.." || exit 2

VALGRIND=${VALGRIND:-valgrind --error-exitcode=1 --leak-check=full -q}
read -r -a vg <<<"$VALGRIND"

progs=() scripts=()
for t in "$@"; do
	case $t in
	*.sh) scripts+=("$t") ;;
	*) progs+=("$t") ;;
	esac
done

n=0 passed=0 failed=0
echo "1..$(( ${#progs[@]} * 2 + ${#scripts[@]} ))"

# run NAME LOG COMMAND...
run() {
	local name=$1 log=$2
	shift 2
	n=$((n + 1))
	if "$@" >"$log" 2>&1; then
		passed=$((passed + 1))
		echo "ok $n $name"
	else
		failed=$((failed + 1))
		echo "not ok $n $name"
		sed -e 's/^/# /' "$log" | head -n 50
	fi
}

for t in "${progs[@]}" "${scripts[@]}"; do
	name=$(basename "${t%.*}")
	case $t in
	*.sh) run "$name" "tests/$name.log" bash "$t" ;;
	*) run "$name" "tests/$name.log" "./$t" ;;
	esac
done
for t in "${progs[@]}"; do
	name=$(basename "${t%.*}")
	run "valgrind/$name" "tests/$name.vg.log" "${vg[@]}" "./$t"
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
