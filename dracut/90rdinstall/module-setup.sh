#!/bin/bash
# dracut module: run rdinstall from a dracut-built initrd when the kernel command line
# carries rdinstall.image= (PXE install). Install by copying this directory to
# /usr/lib/dracut/modules.d/90rdinstall, then e.g.
#   dracut --no-hostonly -a rdinstall --kver <kver> /srv/tftp/initrd-rdinstall.img
# The static rdinstall binary is taken from $RDINSTALL_BINARY, else from PATH.

rdinstall_binary() {
    if [[ -n ${RDINSTALL_BINARY:-} ]]; then
        echo "$RDINSTALL_BINARY"
    else
        find_binary rdinstall
    fi
}

# called by dracut
check() {
    local bin
    bin=$(rdinstall_binary)
    [[ -n $bin && -x $bin ]] || {
        derror "rdinstall: no rdinstall binary (set RDINSTALL_BINARY or put it in PATH)"
        return 1
    }
    require_binaries extlinux || return 1
    [[ -f /usr/lib/syslinux/mbr/mbr.bin ]] || {
        derror "rdinstall: /usr/lib/syslinux/mbr/mbr.bin missing (install syslinux-common)"
        return 1
    }
    # Only when asked for (-a rdinstall / -m): an installer does not belong in a host's
    # normal initrd.
    return 255
}

# called by dracut
depends() {
    # The install starts from the initqueue/online hook, which network-legacy,
    # network-manager and connman run and systemd-networkd does not: prefer network-legacy
    # unless one of the other two is already chosen.
    if dracut_module_included network-manager || dracut_module_included connman; then
        echo network
    else
        echo network-legacy network
    fi
    return 0
}

# called by dracut
installkernel() {
    # Disks to install onto, and device-mapper/md so rdinstall can tear down old LVM and
    # RAID holders; loop for reaching a partition the kernel made no node for; filesystems
    # it mounts to install extlinux and the cloud-config.
    hostonly='' instmods virtio_blk virtio_scsi virtio_pci ahci ata_piix nvme sd_mod \
        megaraid_sas mpt3sas hpsa smartpqi \
        dm_mod md_mod raid0 raid1 raid10 loop ext4 xfs vfat nls_cp437 nls_iso8859_1
}

# called by dracut
install() {
    inst_simple "$(rdinstall_binary)" /usr/bin/rdinstall
    inst_multiple extlinux
    inst_simple /usr/lib/syslinux/mbr/mbr.bin
    inst_simple /usr/lib/syslinux/mbr/gptmbr.bin
    inst_multiple -o sync reboot poweroff setsid
    inst_hook cmdline 20 "$moddir/parse-rdinstall.sh"
    inst_hook initqueue/online 95 "$moddir/rdinstall-online.sh"
    inst_hook initqueue/finished 95 "$moddir/rdinstall-finished.sh"
    dracut_need_initqueue
}
