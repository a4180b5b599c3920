#!/bin/bash
# Install what VSM's test tiers and the demo need on a fresh Debian 12
# machine (as root): Debian packages for the local cloud and the QEMU guest,
# and tox. Safe to run again: it installs only what is missing.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

APT_PACKAGES="
    rabbitmq-server mariadb-server nfs-common curl bc
    qemu-system-x86 qemu-utils busybox-static socat cpio zstd kmod
    python3.11 e2fsprogs xfsprogs btrfs-progs lvm2 cloud-guest-utils
    fdisk util-linux librsvg2-bin
"

missing=""
for pkg in $APT_PACKAGES; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" \
        || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
    echo "installing Debian packages:$missing"
    # Keep package scripts from starting system-wide daemons: the local
    # cloud starts its own RabbitMQ and MariaDB on 127.0.0.1.
    own_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        own_policy=1
    fi
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
    if [ "$own_policy" = 1 ]; then
        rm -f /usr/sbin/policy-rc.d
    fi
fi

if ! command -v tox >/dev/null 2>&1; then
    python3 -m pip install -q 'tox>=4'
fi
