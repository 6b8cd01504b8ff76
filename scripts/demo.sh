#!/bin/bash
# `make demo`: the bank demo in a QEMU VM on Debian's stock kernel.
# N account processes move money over a full mesh of snapchan channels;
# snapshots are taken while they run and each is checked for conservation;
# then the bank is killed, restored from a saved snapshot, and checked again.
# Extra arguments for the bank: BANK_ARGS='-n 6 -d 20'.
set -euo pipefail
cd "$(dirname "$0")/.."

krel=$(scripts/stock-kernel.sh)
kdir=/usr/src/linux-headers-$krel
make -s module KDIR="$kdir" >/dev/null
make -s -C userspace >/dev/null
mod=build/kmod-usr_src_linux-headers-$krel/kmod/snapchan.ko
exec selftests/qemu/run.sh -k stock -t "${DEMO_TIMEOUT:-600}" -m "$mod" \
	-e userspace/examples/bank/bank \
	-e userspace/cli/snapchanctl-static:/bin/snapchanctl \
	-- /bin/bank ${BANK_ARGS:-}
