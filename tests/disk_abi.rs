//! The ioctl numbers and `struct dm_ioctl` layout rdinstall uses, checked against the C
//! headers of this machine (<linux/dm-ioctl.h>, <linux/raid/md_u.h>, <linux/fs.h>) by
//! compiling a small C program. The QEMU guest test exercises them for real; this catches a
//! wrong number or layout on any host with a C compiler (needed for the build anyway).

use rdinstall::disk::{dm, ioctl, md};
use std::mem::{offset_of, size_of};
use std::process::Command;

const PROBE: &str = r#"
#include <stdio.h>
#include <stddef.h>
#include <linux/fs.h>
#include <linux/dm-ioctl.h>
#include <linux/major.h>
#include <linux/raid/md_u.h>
int main(void) {
    printf("sizeof %zu\n", sizeof(struct dm_ioctl));
    printf("data_size %zu\n", offsetof(struct dm_ioctl, data_size));
    printf("open_count %zu\n", offsetof(struct dm_ioctl, open_count));
    printf("flags %zu\n", offsetof(struct dm_ioctl, flags));
    printf("dev %zu\n", offsetof(struct dm_ioctl, dev));
    printf("name %zu\n", offsetof(struct dm_ioctl, name));
    printf("uuid %zu\n", offsetof(struct dm_ioctl, uuid));
    printf("data %zu\n", offsetof(struct dm_ioctl, data));
    printf("DM_VERSION_MAJOR %d\n", DM_VERSION_MAJOR);
    printf("DM_DEV_REMOVE %lu\n", (unsigned long)DM_DEV_REMOVE);
    printf("DM_DEV_STATUS %lu\n", (unsigned long)DM_DEV_STATUS);
    printf("DM_DEV_SUSPEND %lu\n", (unsigned long)DM_DEV_SUSPEND);
    printf("DM_TABLE_LOAD %lu\n", (unsigned long)DM_TABLE_LOAD);
    printf("DM_SUSPEND_FLAG %d\n", DM_SUSPEND_FLAG);
    printf("spec_sizeof %zu\n", sizeof(struct dm_target_spec));
    printf("spec_next %zu\n", offsetof(struct dm_target_spec, next));
    printf("spec_target_type %zu\n", offsetof(struct dm_target_spec, target_type));
    printf("STOP_ARRAY %lu\n", (unsigned long)STOP_ARRAY);
    printf("BLKDISCARD %lu\n", (unsigned long)BLKDISCARD);
    printf("BLKZEROOUT %lu\n", (unsigned long)BLKZEROOUT);
    printf("BLKRRPART %lu\n", (unsigned long)BLKRRPART);
    printf("BLKGETSIZE64 %lu\n", (unsigned long)BLKGETSIZE64);
    return 0;
}
"#;

#[test]
fn ioctl_numbers_and_dm_layout_match_the_kernel_headers() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("probe.c");
    let exe = dir.path().join("probe");
    std::fs::write(&src, PROBE).unwrap();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let st = Command::new(&cc).arg(&src).arg("-o").arg(&exe).status();
    assert!(
        st.as_ref().is_ok_and(|s| s.success()),
        "{cc} could not compile the header probe (install linux-libc-dev and a C compiler): {st:?}"
    );
    let out = Command::new(&exe).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let c: std::collections::HashMap<&str, u64> = text
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k, v.parse().unwrap()))
        .collect();
    let want: &[(&str, u64)] = &[
        ("sizeof", size_of::<dm::DmIoctl>() as u64),
        ("data_size", offset_of!(dm::DmIoctl, data_size) as u64),
        ("open_count", offset_of!(dm::DmIoctl, open_count) as u64),
        ("flags", offset_of!(dm::DmIoctl, flags) as u64),
        ("dev", offset_of!(dm::DmIoctl, dev) as u64),
        ("name", offset_of!(dm::DmIoctl, name) as u64),
        ("uuid", offset_of!(dm::DmIoctl, uuid) as u64),
        ("data", offset_of!(dm::DmIoctl, data) as u64),
        ("DM_VERSION_MAJOR", 4),
        ("DM_DEV_REMOVE", dm::DM_DEV_REMOVE),
        ("DM_DEV_STATUS", dm::DM_DEV_STATUS),
        ("DM_DEV_SUSPEND", dm::DM_DEV_SUSPEND),
        ("DM_TABLE_LOAD", dm::DM_TABLE_LOAD),
        ("DM_SUSPEND_FLAG", dm::DM_SUSPEND_FLAG as u64),
        ("spec_sizeof", size_of::<dm::DmTargetSpec>() as u64),
        ("spec_next", offset_of!(dm::DmTargetSpec, next) as u64),
        (
            "spec_target_type",
            offset_of!(dm::DmTargetSpec, target_type) as u64,
        ),
        ("STOP_ARRAY", md::STOP_ARRAY),
        ("BLKDISCARD", ioctl::BLKDISCARD),
        ("BLKZEROOUT", ioctl::BLKZEROOUT),
        ("BLKRRPART", ioctl::BLKRRPART),
        ("BLKGETSIZE64", ioctl::BLKGETSIZE64),
    ];
    for (k, v) in want {
        assert_eq!(
            c.get(k),
            Some(v),
            "{k}: C says {:?}, rdinstall uses {v}",
            c.get(k)
        );
    }
    assert_eq!(
        dm::DmIoctl::for_name("x").unwrap().version[0],
        c["DM_VERSION_MAJOR"] as u32
    );
}
