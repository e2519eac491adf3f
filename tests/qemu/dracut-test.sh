#!/bin/sh
# Build an initrd with the real dracut and the 90rdinstall module, check its contents with
# lsinitrd, and (with --boot) PXE-install with it in QEMU through tests/e2e/run.sh.
#
# Usage: tests/qemu/dracut-test.sh [--boot]
# Needs: dracut-core and dracut-network (apt-get install --no-install-recommends
# dracut-core dracut-network; NOT the `dracut` package, which replaces initramfs-tools).
# Touches neither /boot nor the system's dracut tree: dracut runs from a copy of
# /usr/lib/dracut (dracutbasedir) with this repo's module linked in, against the cached
# cloud kernel's modules (--kmoddir).
set -eu
. "$(dirname "$0")/lib.sh"

# A missing prerequisite skips a local run, but fails the full suite (scripts/test.sh sets
# RDINSTALL_REQUIRE_QEMU=1 after installing everything): a skip must never count as a pass.
skip() {
    if [ "${RDINSTALL_REQUIRE_QEMU:-}" = 1 ]; then
        echo "dracut-test: FAILED: $* (RDINSTALL_REQUIRE_QEMU=1: prerequisites are required)"
        exit 1
    fi
    echo "dracut-test: SKIPPED: $*"
    exit 0
}
command -v dracut >/dev/null ||
    skip "dracut not installed (apt-get install --no-install-recommends dracut-core dracut-network)"
[ -d /usr/lib/dracut/modules.d/40network ] ||
    skip "dracut's network module missing (apt-get install --no-install-recommends dracut-network)"

kdir=$(kernel_dir)
kver=$(cat "$kdir/kver")
kmod=$kdir/lib/modules/$kver
# dracut resolves module dependencies from modules.dep, which the .deb does not ship.
[ -f "$kmod/modules.dep" ] || depmod -b "$kdir" "$kver"
bin=$(rdinstall_bin)

work=$(mktemp -d /tmp/rdinstall-dracut.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp -a /usr/lib/dracut "$work/dracut"
ln -s "$REPO/dracut/90rdinstall" "$work/dracut/modules.d/90rdinstall"
mkdir -p "$work/none"
out=$work/initrd-dracut.img
ts=$(date +%s)
dracutbasedir=$work/dracut RDINSTALL_BINARY=$bin dracut --quiet --force --no-hostonly \
    --no-hostonly-cmdline --no-early-microcode --conf /dev/null --confdir "$work/none" \
    --tmpdir "$work" -m "rdinstall base" --kver "$kver" --kmoddir "$kmod" --zstd "$out" ||
    { echo "dracut-test: dracut failed"; exit 1; }
qlog "dracut built $out in $(($(date +%s) - ts))s: $(($(stat -c %s "$out") / 1024)) KiB"

lsinitrd "$out" >"$work/list" 2>&1
fails=0
need() {
    if grep -qE "$1" "$work/list"; then
        echo "  ok: $2"
    else
        echo "  MISSING: $2 ($1)"
        fails=$((fails + 1))
    fi
}
need ' usr/bin/rdinstall$' "the rdinstall binary"
need ' usr/s?bin/extlinux$' "extlinux"
need ' usr/lib/syslinux/mbr/mbr.bin$' "syslinux mbr.bin"
need ' usr/lib/syslinux/mbr/gptmbr.bin$' "syslinux gptmbr.bin"
need 'hooks/cmdline/20-parse-rdinstall.sh$' "the cmdline hook"
need 'hooks/initqueue/online/95-rdinstall-online.sh$' "the online hook (runs rdinstall)"
need 'hooks/initqueue/finished/95-rdinstall-finished.sh$' "the finished hook"
need 'dhclient$' "dracut's DHCP client (network module)"
need '/dm-mod.ko' "device-mapper module"
need '/raid1.ko' "md raid1 module"
need '/loop.ko' "loop module"
need '/virtio_net.ko' "a NIC driver (virtio_net)"
need '/virtio_blk.ko' "a disk driver (virtio_blk)"
if [ "$fails" -ne 0 ]; then
    echo "dracut-test: $fails expected files missing; lsinitrd output in $work/list"
    trap - EXIT
    exit 1
fi
echo "dracut-test: lsinitrd shows every expected file"

if [ "${1:-}" = --boot ]; then
    E2E_INITRD=$out E2E_DRACUT=1 "$REPO/tests/e2e/run.sh" disk-bz2
fi
