//! Small superblock readers: filesystem type, UUID and label of ext2/3/4, xfs, btrfs, vfat.
//! (Filled in by the boot/config work.)
