#!/bin/sh
# Build the "test system" images that the e2e tests install with rdinstall:
#   rootfs.ext4(.xz)  an ext4 filesystem (image_kind=rootfs) with /boot/vmlinuz,
#                     /boot/initrd.img and a live-style /boot/extlinux/extlinux.conf
#                     (root=live:CDLABEL=... rd.live.image ro) that rdinstall must rewrite
#   disk.img(.bz2)    a whole disk (image_kind=disk): MBR, bootable partition 1 at 1 MiB
#                     holding a filesystem like the above with root=UUID=..., syslinux
#                     mbr.bin and extlinux installed
# The test system's initrd mounts root=, prints "TESTSYSTEM-UP" and its NoCloud seed
# (user-data, meta-data) on the serial console, and powers off.
#
# Usage: tests/qemu/mk-testsystem.sh [OUTDIR]   (default: $CACHE/testsystem; prints OUTDIR)
# Reuses existing images unless this script, the init or the kernel changed.
set -eu
. "$(dirname "$0")/lib.sh"
# Only OUTDIR goes to stdout (callers capture it); tools' chatter (mkfs.ext4 -d prints every
# file it creates, even with -q) goes to stderr.
exec 3>&1 >&2

out=${1:-$CACHE/testsystem}
kdir=$(kernel_dir)
kver=$(cat "$kdir/kver")
key="$(cat "$0" "$QEMU_LIB_DIR/testsystem-init" | md5sum | cut -c1-12)-$kver"
if [ -f "$out/key" ] && [ "$(cat "$out/key")" = "$key" ] && [ -f "$out/disk.img.bz2" ]; then
    echo "$out" >&3
    exit 0
fi

mkdir -p "$out"
work=$(mktemp -d)
mnt=
loopdev=
cleanup() {
    [ -n "$mnt" ] && umount "$mnt" 2>/dev/null
    [ -n "$loopdev" ] && losetup -d "$loopdev" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

# --- the test system's initramfs -------------------------------------------------------
ird=$work/initrd
mkdir -p "$ird/bin" "$ird/proc" "$ird/sys" "$ird/dev" "$ird/root"
cp /bin/busybox "$ird/bin/busybox"
for a in sh mount umount insmod cat sleep findfs poweroff stat echo mkdir; do
    ln -s busybox "$ird/bin/$a"
done
cp "$QEMU_LIB_DIR/testsystem-init" "$ird/init"
chmod 755 "$ird/init"
kmod=$kdir/lib/modules/$kver
: >"$ird/modules.load"
for ko in $(virtio_modules "$kmod"); do
    cp "$kmod/$ko" "$ird/${ko##*/}"
    echo "${ko##*/}" >>"$ird/modules.load"
done
(cd "$ird" && find . | cpio -o -H newc -R 0:0 --quiet) | gzip -9 >"$work/initrd.img"

# --- filesystem trees ------------------------------------------------------------------
# mktree DIR ID APPEND: a root tree whose extlinux.conf boots with APPEND.
mktree() {
    t=$1
    mkdir -p "$t/boot/extlinux" "$t/etc" "$t/usr/bin" "$t/var/lib" "$t/tmp" "$t/root"
    cp "$kdir/vmlinuz" "$t/boot/vmlinuz"
    cp "$work/initrd.img" "$t/boot/initrd.img"
    echo "$2" >"$t/etc/testsystem-id"
    echo "rdinstall-testsystem" >"$t/etc/hostname"
    cat >"$t/boot/extlinux/extlinux.conf" <<CONF
DEFAULT testsystem
PROMPT 0
TIMEOUT 10
LABEL testsystem
  KERNEL /boot/vmlinuz
  INITRD /boot/initrd.img
  APPEND $3
CONF
}

# The filesystem size leaves room for extlinux and the config, and stays small so a TCG
# install is quick.
fs_mb=40

# rootfs: live-style arguments; rdinstall must replace them with root=UUID=.
mktree "$work/rootfs" rootfs "root=live:CDLABEL=rdinstall-test rd.live.image ro console=ttyS0 panic=-1"
rm -f "$work/rootfs.ext4"
mkfs.ext4 -q -F -b 4096 -L testroot -U 3b0a56f6-6a5d-4b8e-9d0b-1d6e4c2a0001 -d "$work/rootfs" \
    "$work/rootfs.ext4" "${fs_mb}M"

# disk: its own partition table and bootloader, root=UUID= already right.
uuid=3b0a56f6-6a5d-4b8e-9d0b-1d6e4c2a0002
mktree "$work/disktree" disk "root=UUID=$uuid console=ttyS0 panic=-1"
mkfs.ext4 -q -F -b 4096 -L testdisk -U "$uuid" -d "$work/disktree" "$work/part.ext4" "${fs_mb}M"
disk=$work/disk.img
truncate -s $((fs_mb + 2))M "$disk"
echo "start=2048, size=$((fs_mb * 2048)), type=83, bootable" | sfdisk -q "$disk"
dd if="$work/part.ext4" of="$disk" bs=1M seek=1 conv=notrunc,sparse status=none
# The host kernel does not scan partitions on loop devices: map partition 1 by offset.
loopdev=$(losetup -f --show -o 1048576 --sizelimit $((fs_mb * 1048576)) "$disk")
mnt=$work/mnt
mkdir -p "$mnt"
mount -t ext4 "$loopdev" "$mnt"
extlinux --install "$mnt/boot/extlinux" >/dev/null 2>&1
umount "$mnt"
mnt=
losetup -d "$loopdev"
loopdev=
dd if=/usr/lib/syslinux/mbr/mbr.bin of="$disk" bs=440 count=1 conv=notrunc status=none

# --- outputs -----------------------------------------------------------------------------
mv "$work/rootfs.ext4" "$out/rootfs.ext4"
mv "$disk" "$out/disk.img"
xz -6 -T0 -c "$out/rootfs.ext4" >"$out/rootfs.ext4.xz"
bzip2 -9 -c "$out/disk.img" >"$out/disk.img.bz2"
echo "$key" >"$out/key"
qlog "mk-testsystem: $(cd "$out" && ls -s --block-size=K rootfs.ext4 rootfs.ext4.xz disk.img disk.img.bz2 | tr '\n' ' ')"
echo "$out" >&3
