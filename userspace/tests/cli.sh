#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
#
# snapchanctl without the module: --help for every command, argument
# parsing, the documented exit codes (2 usage, 3 invalid image, 6 no
# module, 1 failure), and that image commands work on files alone.
# Run from userspace/.
set -u
cli=./cli/snapchanctl
[ -x "$cli" ] || { echo "$cli not built"; exit 1; }
tmp=$(mktemp -d tests/tmp/cli-sh-XXXXXX 2>/dev/null || { mkdir -p tests/tmp; mktemp -d tests/tmp/cli-sh-XXXXXX; })
trap 'rm -rf "$tmp"' EXIT
# No module: point the library at a directory without a control device.
export SNAPCHAN_DEV_DIR=$tmp/nodev

fails=0 checks=0

# expect RC [--out PATTERN] [--err PATTERN] [--in FILE] -- ARGS...
expect() {
	local want=$1 out_pat='' err_pat='' in=/dev/null rc
	shift
	while [ "$1" != -- ]; do
		case $1 in
		--out) out_pat=$2; shift 2 ;;
		--err) err_pat=$2; shift 2 ;;
		--in) in=$2; shift 2 ;;
		esac
	done
	shift
	checks=$((checks + 1))
	"$cli" "$@" >"$tmp/out" 2>"$tmp/err" <"$in"
	rc=$?
	if [ "$rc" != "$want" ]; then
		echo "snapchanctl $*: exit $rc, expected $want"
		sed 's/^/  | /' "$tmp/err"
		fails=$((fails + 1))
		return
	fi
	if [ -n "$out_pat" ] && ! grep -qE -- "$out_pat" "$tmp/out"; then
		echo "snapchanctl $*: stdout lacks /$out_pat/"
		sed 's/^/  | /' "$tmp/out"
		fails=$((fails + 1))
	fi
	if [ -n "$err_pat" ] && ! grep -qE -- "$err_pat" "$tmp/err"; then
		echo "snapchanctl $*: stderr lacks /$err_pat/"
		sed 's/^/  | /' "$tmp/err"
		fails=$((fails + 1))
	fi
}

cmds="create destroy list info send recv capture snapshot abort inspect verify restore version help"

# Help: the tool, every command, both spellings.
expect 2 --err 'usage: snapchanctl COMMAND' --
expect 0 --out 'Exit status' -- --help
expect 0 --out '^snapchanctl [0-9]' -- --version
for c in $cmds; do
	expect 0 --out "^  $c " -- --help
	expect 0 --out "usage: snapchanctl $c" --out 'Exit status' -- "$c" --help
	expect 0 --out "usage: snapchanctl $c" -- help "$c"
	expect 0 --out '6  the snapchan module is not loaded' -- "$c" -h
done
expect 0 --out 'Commands:' -- help
expect 2 --err "unknown command 'nosuch'" -- help nosuch
expect 2 --err "unknown command 'frob'" -- frob

# Usage errors: exit 2, before anything else (no module here: else 6).
expect 2 --err "unrecognized option '--bogus'" -- list --bogus
expect 2 --err 'expected one channel name' -- create
expect 2 --err 'invalid channel name' -- create 'a/b'
expect 2 --err 'invalid channel name' -- create control
expect 2 --err 'invalid channel name' -- info ..
expect 2 --err 'invalid group name' -- create -g 'bad group' ch
expect 2 --err 'invalid message capacity' -- create -m 0 ch
expect 2 --err 'invalid capacity' -- create -b 12x ch
expect 2 --err 'invalid mode' -- create --mode 0777 ch
expect 2 --err 'invalid first sequence' -- create --first-seq -1 ch
expect 2 --err 'expected one or more channel names' -- destroy
expect 2 --err 'unexpected argument' -- list extra
expect 2 --err 'expected one channel name' -- recv a b
expect 2 --err 'invalid timeout' -- recv -t soon ch
expect 2 --err 'do not go together' -- recv --all -t 1 ch
expect 2 --err 'invalid count' -- recv -c x ch
expect 2 --err 'expected a channel name' -- send
expect 2 --err 'invalid hex' -- send -x ch zz
expect 2 --err 'give no message' -- send -l ch hi
expect 2 --err 'expected one group name' -- snapshot
expect 2 --err 'invalid group name' -- snapshot 'a b'
expect 2 --err 'cannot --output' -- snapshot --no-wait -o f g
expect 2 --err 'invalid snapshot id' -- snapshot --id 0 g
expect 2 --err 'invalid budget' -- snapshot -b 0 g
expect 2 --err 'expected a group name and a snapshot id' -- abort g
expect 2 --err 'invalid snapshot id' -- abort g x
expect 2 --err 'expected one image file' -- inspect
expect 2 --err 'expected one or more image files' -- verify
expect 2 --err 'expected one image file' -- restore
expect 2 --err 'invalid group name' -- restore -g 'x y' f

# No module: exit 6 with the errno's name and what to do.
for args in "list" "info ch" "create ch" "destroy ch" "send ch hi" \
	    "recv ch" "capture ch" "snapshot g" "abort g 1" "version"; do
	# shellcheck disable=SC2086
	expect 6 --err 'ENOENT' --err 'module is not loaded' -- $args
done

# Images need no module: garbage is invalid (3), a missing file fails (1).
printf 'not an image at all' >"$tmp/garbage"
expect 3 --out 'INVALID' --out 'ENOEXEC' -- verify "$tmp/garbage"
expect 3 --err 'ENOEXEC' -- inspect "$tmp/garbage"
expect 3 --err 'ENOEXEC' -- restore "$tmp/garbage"
expect 1 --out 'ENOENT' -- verify "$tmp/missing"
expect 1 --err 'ENOENT' -- inspect "$tmp/missing"
expect 1 --err 'ENOENT' -- restore "$tmp/missing"
expect 3 --err 'ENOEXEC' --in "$tmp/garbage" -- inspect -
: >"$tmp/empty"
expect 3 -- verify "$tmp/empty"

echo "cli: $((checks - fails)) of $checks checks passed"
[ "$fails" -eq 0 ]
