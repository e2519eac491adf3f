//! Bootloader: extlinux install, extlinux.conf, syslinux MBR code. (Filled in by the
//! boot/config work.)
