#!/bin/sh
# Install what building and testing rdinstall needs on Debian 12 (run as root). Idempotent.
set -eu

PKGS="musl-tools qemu-system-x86 ipxe-qemu syslinux syslinux-common pxelinux extlinux \
busybox-static cpio kmod lvm2 mdadm cryptsetup-bin xfsprogs dosfstools gdisk fdisk e2fsprogs \
bzip2 lbzip2 pbzip2 pigz zstd xz-utils gzip curl time file python3 util-linux gnupg \
btrfs-progs bcache-tools genisoimage mtools gcc linux-libc-dev ovmf dnsmasq-base debootstrap \
python3-venv iproute2"

missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "setup: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # qemu-system-x86 conflicts with a backported qemu-utils on some images: pin Debian 12's.
    if ! apt-get install -y -q $missing; then
        apt-get install -y -q --allow-downgrades $missing "qemu-utils=$(apt-cache madison qemu-utils | awk '/bookworm\/main|bookworm-security|bookworm-updates/ {print $3; exit}')"
    fi
fi
# qemu-img (a test makes a qcow2 image) comes with qemu-utils, which qemu-system-x86 only
# recommends; pinned to Debian 12's for the same reason.
if ! command -v qemu-img >/dev/null 2>&1; then
    apt-get install -y -q qemu-utils ||
        apt-get install -y -q --allow-downgrades "qemu-utils=$(apt-cache madison qemu-utils | awk '/bookworm\/main|bookworm-security|bookworm-updates/ {print $3; exit}')"
fi

if ! command -v cargo >/dev/null 2>&1; then
    echo "setup: cargo not found; install Rust with rustup first" >&2
    exit 1
fi
# dracut for the dracut-module test, without its recommends (it must not replace initramfs-tools).
if ! dpkg-query -W -f='${Status}' dracut-core 2>/dev/null | grep -q "install ok installed"; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends dracut-core dracut-network
fi

rustup target list --installed | grep -q x86_64-unknown-linux-musl || rustup target add x86_64-unknown-linux-musl
