//! Reaching one partition of a target: its kernel node when there is one, else a loop device
//! at the partition's offset. (Filled in by the boot/config work.)
