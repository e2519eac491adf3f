#!/bin/bash
# Build a real distribution root filesystem image for the e2e test "debian-cloudinit":
# Debian 12 made by debootstrap from the Debian archive, with systemd, the cloud kernel
# (linux-image-cloud-amd64 and its initramfs-tools initrd) and the real cloud-init package,
# unmodified: no test hooks inside. Written with mkfs.ext4 -d like a distribution's rootfs
# image, then zstd-compressed.
#
# Usage: tests/qemu/mk-debian.sh [OUTDIR]   (default: $CACHE/debian12; prints OUTDIR)
# Outputs rootfs.ext4.zst (and uuid). Reuses the image unless this script changed.
# Needs root, debootstrap, network access to the Debian archive (DEBIAN_MIRROR, default: the
# first Debian mirror in this machine's apt sources, else http://deb.debian.org/debian).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
exec 3>&1 >&2

out=${1:-$CACHE/debian12}
key=$(md5sum <"$0" | cut -c1-12)
if [ -f "$out/key" ] && [ "$(cat "$out/key")" = "$key" ] && [ -s "$out/rootfs.ext4.zst" ]; then
    echo "$out" >&3
    exit 0
fi
command -v debootstrap >/dev/null || { qlog "debootstrap missing (apt-get install debootstrap)"; exit 1; }

mirror=${DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
    # The mirror apt already uses here (deb822 .sources or one-line .list files).
    mirror=$({
        grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}'
        grep -hE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
            awk '{for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; break }}'
    } | grep -E '/debian/?$' | head -n1 || true)
    mirror=${mirror:-http://deb.debian.org/debian}
fi

mkdir -p "$out"
work=$(mktemp -d /var/tmp/rdinstall-debian.XXXXXX)
root=$work/root
cleanup() {
    for m in dev/pts dev proc sys; do umount "$root/$m" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

qlog "debootstrap Debian 12 from $mirror (a few minutes)"
# python3-cffi-backend by name: debootstrap's resolver does not follow the virtual package
# (python3-cffi-backend-api-*) that cloud-init's python3-cryptography depends on.
mkdir -p "$CACHE/debootstrap-debs"
if ! debootstrap --variant=minbase --cache-dir="$CACHE/debootstrap-debs" \
    --include=systemd-sysv,udev,dbus,kmod,ifupdown,isc-dhcp-client,netbase,python3-cffi-backend,cloud-init,linux-image-cloud-amd64 \
    bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1; then
    cp "$root/debootstrap/debootstrap.log" "$out/debootstrap-failed.log" 2>/dev/null || true
    tail -n 30 "$work/debootstrap.log"
    qlog "debootstrap failed; details in $out/debootstrap-failed.log"
    exit 1
fi

uuid=3b0a56f6-6a5d-4b8e-9d0b-d3b1a0000012
echo "UUID=$uuid / ext4 errors=remount-ro 0 1" >"$root/etc/fstab"
echo debian-image >"$root/etc/hostname"
# What Debian's cloud images configure: DHCP on the first NIC (cloud-init renders its own
# network config too; this keeps the image usable without it).
cat >"$root/etc/network/interfaces" <<'EOF'
source /etc/network/interfaces.d/*
auto lo
iface lo inet loopback
EOF
# Smaller image; nothing here needs the package lists.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
ls "$root"/boot/vmlinuz-* "$root"/boot/initrd.img-* >/dev/null || { qlog "no kernel/initrd in /boot"; exit 1; }

img=$work/rootfs.ext4
truncate -s 1536M "$img"
mkfs.ext4 -q -F -L debian-root -U "$uuid" -d "$root" "$img" >/dev/null
zstd -q -T2 -10 -f "$img" -o "$out/rootfs.ext4.zst"
echo "$uuid" >"$out/uuid"
echo "$key" >"$out/key"
qlog "Debian 12 rootfs image: $(du -h "$out/rootfs.ext4.zst" | cut -f1) compressed ($(du -sh "$root" | cut -f1) of files)"
echo "$out" >&3
