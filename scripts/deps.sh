#!/bin/bash
# Install what snapchan's build and tests need, as root on Debian 12.
# Idempotent: only missing packages are installed; quick when none are.
set -euo pipefail

pkgs=(gcc make libc6-dev linux-headers-amd64 linux-image-amd64 linux-source-6.1
      bc bison flex libelf-dev libssl-dev cpio xz-utils kmod
      qemu-system-x86 busybox-static sparse python3 valgrind gnuplot-nox)

missing=()
for p in "${pkgs[@]}"; do
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$st" = installed ] || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "deps: all present"
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing ${missing[*]}; run 'make deps' as root" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
