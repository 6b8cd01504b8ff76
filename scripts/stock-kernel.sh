#!/bin/bash
# Print the release of Debian's stock kernel (the one linux-image-amd64
# depends on), e.g. 6.1.0-56-amd64.  Its image is /boot/vmlinuz-<release>
# and its headers /usr/src/linux-headers-<release>.
set -euo pipefail
dep=$(dpkg-query -W -f='${Depends}' linux-image-amd64 2>/dev/null) || {
	echo "stock-kernel: linux-image-amd64 is not installed (make deps)" >&2
	exit 1
}
rel=${dep%% *}
rel=${rel#linux-image-}
rel=${rel%%,*}
echo "$rel"
