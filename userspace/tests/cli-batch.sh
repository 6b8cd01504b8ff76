#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
#
# snapchanctl send and recv with the batch calls, against a stand-in
# module (tests/fake/libfakechan.so, LD_PRELOAD; see its header): several
# messages go out with SEND_BATCH, --batch N per call, each whole and in
# order, partial counts continued; --lines sends the lines of each read
# together; a refused message stops it after the ones before, which it
# counts; recv --count/--all drain with RECV_BATCH, markers and long
# messages included; a module without batch calls falls back to one
# message per call, or fails with ENOTTY when --batch was asked for.
# Run from userspace/.
set -u
cli=./cli/snapchanctl
fake=$PWD/tests/fake/libfakechan.so
[ -x "$cli" ] || { echo "$cli not built"; exit 1; }
[ -f "$fake" ] || { echo "$fake not built"; exit 1; }
mkdir -p tests/tmp
tmp=$(mktemp -d tests/tmp/cli-batch-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
dev=$PWD/$tmp/dev
mkdir -p "$dev"
export SNAPCHAN_DEV_DIR=$dev FAKECHAN_LOG=$PWD/$tmp/log
fails=0 checks=0

fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

# run [VAR=VALUE...] -- ARGS...: snapchanctl under the stand-in, from a
# fresh channel file and log; stdin from $in; sets $rc.
in=/dev/null
run() {
	local vars=()

	while [ "$1" != -- ]; do
		vars+=("$1")
		shift
	done
	shift
	: >"$dev/control"
	: >"$dev/ch"
	: >"$FAKECHAN_LOG"
	env "${vars[@]}" LD_PRELOAD="$fake" "$cli" "$@" <"$in" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	checks=$((checks + 1))
}

want_rc() {
	[ "$rc" = "$1" ] || { fail "$2: exit $rc, expected $1"; sed 's/^/  | /' "$tmp/err"; }
}

# The channel file as the stand-in writes it, for messages given as lines.
expect_sent() {	# FILE-OF-MESSAGES WHAT
	awk '{ printf "%d:%s\n", length($0), $0 }' "$1" >"$tmp/want"
	cmp -s "$tmp/want" "$dev/ch" || { fail "$2: channel holds other messages"; diff "$tmp/want" "$dev/ch" | head -5; }
}

# Batch calls in the log: "nr nr nr ..." of SEND_BATCH (or RECV_BATCH).
calls() {
	grep "^$1 " "$FAKECHAN_LOG" | sed 's/.*nr=\([0-9]*\) -> \(.*\)/\1:\2/' | tr '\n' ' ' | sed 's/ $//'
}

# --- send ----------------------------------------------------------------
run -- send ch a bb ccc
want_rc 0 "send ARGS"
printf 'a\nbb\nccc\n' >"$tmp/m"
expect_sent "$tmp/m" "send ARGS"
[ "$(calls SEND_BATCH)" = "3:3" ] || fail "send ARGS: one SEND_BATCH of 3, got '$(calls SEND_BATCH)'"
grep -q '^write' "$FAKECHAN_LOG" && fail "send ARGS: write() used"

# One argument: one write, no batch call.
run -- send ch solo
want_rc 0 "send one"
grep -q SEND_BATCH "$FAKECHAN_LOG" && fail "send one: a batch call for one message"
[ "$(cat "$dev/ch")" = "4:solo" ] || fail "send one: channel holds '$(cat "$dev/ch")'"

# --lines from a file: one read, so full batches of 64, then the rest.
seq 1 200 >"$tmp/lines"
in=$tmp/lines
run -- send --lines ch
want_rc 0 "send --lines"
expect_sent "$tmp/lines" "send --lines"
[ "$(calls SEND_BATCH)" = "64:64 64:64 64:64 8:8" ] || fail "send --lines: calls '$(calls SEND_BATCH)'"

run -- send -l -B 10 ch
want_rc 0 "send --lines -B 10"
expect_sent "$tmp/lines" "send --lines -B 10"
[ "$(grep -c 'SEND_BATCH nr=10 -> 10' "$FAKECHAN_LOG")" = 20 ] || fail "send -B 10: calls '$(calls SEND_BATCH)'"

run -- send -l --batch 1 ch
want_rc 0 "send --batch 1"
expect_sent "$tmp/lines" "send --batch 1"
grep -q SEND_BATCH "$FAKECHAN_LOG" && fail "send --batch 1: a batch call"
[ "$(grep -c '^write' "$FAKECHAN_LOG")" = 200 ] || fail "send --batch 1: not 200 writes"

# Partial counts: the rest goes in the next calls, in order.
run FAKECHAN_SEND_MAX=7 -- send -l ch
want_rc 0 "send partial"
expect_sent "$tmp/lines" "send partial"
[ "$(calls SEND_BATCH | cut -d' ' -f1-3)" = "64:7 57:7 50:7" ] || fail "send partial: calls '$(calls SEND_BATCH)'"

# Empty lines are empty messages; a last line without a newline counts.
printf '\n\nlast' >"$tmp/in2"
in=$tmp/in2
run -- send -l ch
want_rc 0 "send empty lines"
printf '\n\nlast\n' >"$tmp/m"
expect_sent "$tmp/m" "send empty lines"
# Nothing at all: nothing sent, no call.
in=/dev/null
run -- send -l ch
want_rc 0 "send -l nothing"
[ -s "$FAKECHAN_LOG" ] && fail "send -l nothing: calls made"

# A refused message: those before it went in, and it says how many.
printf 'one\ntwo\nthree\ntoo-long\nfive\n' >"$tmp/in3"
in=$tmp/in3
run FAKECHAN_MAXMSG=5 -- send -l ch
want_rc 1 "send EMSGSIZE"
grep -q EMSGSIZE "$tmp/err" || fail "send EMSGSIZE: no errno name"
grep -q 'the 3 messages before it went in' "$tmp/err" || fail "send EMSGSIZE: count not told"
printf 'one\ntwo\nthree\n' >"$tmp/m"
expect_sent "$tmp/m" "send EMSGSIZE"
[ "$(calls SEND_BATCH)" = "5:3 2:EMSGSIZE" ] || fail "send EMSGSIZE: calls '$(calls SEND_BATCH)'"

# Hex lines: the valid ones before a bad line are sent, then exit 2.
printf '6869\n7a7a\nzz\n41\n' >"$tmp/in4"
in=$tmp/in4
run -- send -l -x ch
want_rc 2 "send hex"
grep -q "invalid hex line 'zz'" "$tmp/err" || fail "send hex: message"
printf 'hi\nzz\n' >"$tmp/m"
expect_sent "$tmp/m" "send hex"

# A module without batch calls: one write per message, same result...
in=$tmp/lines
run FAKECHAN_BATCH=0 -- send -l ch
want_rc 0 "send fallback"
expect_sent "$tmp/lines" "send fallback"
[ "$(calls SEND_BATCH)" = "64:ENOTTY" ] || fail "send fallback: calls '$(calls SEND_BATCH)'"
[ "$(grep -c '^write' "$FAKECHAN_LOG")" = 200 ] || fail "send fallback: not 200 writes"
# ...but with --batch asked for, a clear error and nothing sent.
run FAKECHAN_BATCH=0 -- send -l -B 64 ch
want_rc 1 "send --batch, no batch calls"
grep -q 'ENOTTY' "$tmp/err" && grep -q 'no batch calls' "$tmp/err" ||
	{ fail "send --batch, no batch calls: message"; cat "$tmp/err"; }
[ -s "$dev/ch" ] && fail "send --batch, no batch calls: something was sent"
in=/dev/null

# Usage.
run -- send -B 0 ch a
want_rc 2 "send -B 0"
run -- send -B 1025 ch a
want_rc 2 "send -B 1025"
grep -q 'invalid batch size' "$tmp/err" || fail "send -B 1025: message"

# --- recv ----------------------------------------------------------------
seq 1 150 | sed 's/^/msg/' >"$tmp/msgs"
run FAKECHAN_RECV=150 -- recv -c 100 ch
want_rc 0 "recv -c 100"
head -n 100 "$tmp/msgs" | cmp -s - "$tmp/out" || fail "recv -c 100: output"
[ "$(calls RECV_BATCH)" = "64:64 36:36" ] || fail "recv -c 100: calls '$(calls RECV_BATCH)'"

run FAKECHAN_RECV=150 -- recv --all ch
want_rc 0 "recv --all"
cmp -s "$tmp/msgs" "$tmp/out" || fail "recv --all: output"
[ "$(calls RECV_BATCH)" = "64:64 64:64 64:22 64:EAGAIN" ] || fail "recv --all: calls '$(calls RECV_BATCH)'"

run FAKECHAN_RECV=150 FAKECHAN_RECV_MAX=5 -- recv --all -B 16 -s ch
want_rc 0 "recv partial"
seq 1 150 | awk '{ print $1 "\tmsg" $1 }' | cmp -s - "$tmp/out" || fail "recv partial -s: output"
[ "$(calls RECV_BATCH | cut -d' ' -f1-2)" = "16:5 16:5" ] || fail "recv partial: calls '$(calls RECV_BATCH)'"

# A marker ends a batch; it is reported and the rest follows.
run FAKECHAN_RECV=150 FAKECHAN_MARKER_AT=70 -- recv --all ch
want_rc 0 "recv marker"
cmp -s "$tmp/msgs" "$tmp/out" || fail "recv marker: output"
[ "$(cat "$tmp/err")" = "marker 5" ] || fail "recv marker: stderr '$(cat "$tmp/err")'"
[ "$(calls RECV_BATCH | cut -d' ' -f1-2)" = "64:64 64:7" ] || fail "recv marker: calls '$(calls RECV_BATCH)'"

# A message longer than a slot: EMSGSIZE, then bigger slots, nothing lost.
run FAKECHAN_RECV=150 FAKECHAN_BIG_AT=100 -- recv --all ch
want_rc 0 "recv long"
{ head -n 99 "$tmp/msgs"; printf 'x%.0s' $(seq 10000); echo; tail -n 50 "$tmp/msgs"; } >"$tmp/want"
cmp -s "$tmp/want" "$tmp/out" || fail "recv long: output"
grep -q 'RECV_BATCH nr=64 -> EMSGSIZE' "$FAKECHAN_LOG" || fail "recv long: no EMSGSIZE seen"

# -c 1 (the default) and --peek: RECV, no batch.
run FAKECHAN_RECV=3 -- recv ch
want_rc 0 "recv one"
[ "$(cat "$tmp/out")" = msg1 ] || fail "recv one: output"
[ "$(cat "$FAKECHAN_LOG")" = "RECV -> 0" ] || fail "recv one: calls '$(cat "$FAKECHAN_LOG")'"
run FAKECHAN_RECV=3 -- recv --all -B 1 ch
want_rc 0 "recv -B 1"
head -n 3 "$tmp/msgs" | cmp -s - "$tmp/out" || fail "recv -B 1: output"
grep -q RECV_BATCH "$FAKECHAN_LOG" && fail "recv -B 1: a batch call"

# End of file stops an unlimited count.
run FAKECHAN_RECV=10 FAKECHAN_EOF=1 -- recv -c 0 ch
want_rc 0 "recv eof"
head -n 10 "$tmp/msgs" | cmp -s - "$tmp/out" || fail "recv eof: output"

# Without batch calls: RECV one by one, same output; --batch: ENOTTY.
run FAKECHAN_RECV=150 FAKECHAN_MARKER_AT=70 FAKECHAN_BATCH=0 -- recv --all ch
want_rc 0 "recv fallback"
cmp -s "$tmp/msgs" "$tmp/out" || fail "recv fallback: output"
[ "$(calls RECV_BATCH)" = "64:ENOTTY" ] || fail "recv fallback: calls '$(calls RECV_BATCH)'"
[ "$(grep -c '^RECV ->' "$FAKECHAN_LOG")" = 152 ] || fail "recv fallback: RECV count"
run FAKECHAN_RECV=5 FAKECHAN_BATCH=0 -- recv --all -B 8 ch
want_rc 1 "recv --batch, no batch calls"
grep -q 'ENOTTY' "$tmp/err" && grep -q 'no batch calls' "$tmp/err" ||
	{ fail "recv --batch, no batch calls: message"; cat "$tmp/err"; }
[ -s "$tmp/out" ] && fail "recv --batch, no batch calls: output"

run -- recv -p -B 4 ch
want_rc 2 "recv --peek --batch"
run -- recv -B x ch
want_rc 2 "recv -B x"

# version names the feature.
run -- version
want_rc 0 "version"
grep -q 'features.* batch' "$tmp/out" || fail "version: no batch feature"
run FAKECHAN_BATCH=0 -- version
grep -q ' batch' "$tmp/out" && fail "version: batch without the feature"

echo "cli-batch: $((checks - fails)) of $checks runs passed"
[ "$fails" -eq 0 ]
