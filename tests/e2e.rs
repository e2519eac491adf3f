//! QEMU tests: the end-to-end PXE install (tests/e2e/run.sh) and the guest scenarios that
//! need a kernel with device-mapper and md (tests/qemu/scenario.sh). They boot real VMs
//! under TCG, so they take minutes; they skip with a printed reason only when QEMU or root
//! is missing (or RDINSTALL_SKIP_QEMU=1 is set for a quick local run).
//!
//! A skip is not a pass: under `scripts/test.sh` (which installs every prerequisite and
//! exports RDINSTALL_REQUIRE_QEMU=1) any reason to skip, RDINSTALL_SKIP_QEMU=1 included,
//! fails the test instead.

#[path = "common/vm_script.rs"]
mod vm_script;

use std::sync::Mutex;

/// One VM at a time: the test bed has two cores, and parallel TCG guests only slow each other.
static VM: Mutex<()> = Mutex::new(());

fn skip_reason() -> Option<String> {
    vm_script::common_skip_reason(
        &[("qemu-system-x86_64", "qemu-system-x86")],
        "loop devices and mounts to build the test images",
    )
}

fn run_script(script: &str, args: &[&str]) {
    let _one_vm = VM.lock().unwrap_or_else(|e| e.into_inner());
    vm_script::run_script(script, args, skip_reason());
}

/// PXE boot → rdinstall installs a bz2 disk image, an xz rootfs image (+extlinux), and
/// rejects a bad checksum; each installed disk is then booted alone.
#[test]
fn pxe_install_end_to_end() {
    run_script("tests/e2e/run.sh", &[]);
}

/// In a guest kernel with device-mapper and md: rdinstall installs over an active LVM
/// volume group and over a member of an assembled RAID1, and wipes the other member;
/// afterwards no device-mapper device, md array, PV label or md superblock is left.
#[test]
fn guest_teardown_of_lvm_and_md() {
    run_script("tests/qemu/scenario.sh", &[]);
}

/// dracut with the 90rdinstall module builds an initrd holding rdinstall, extlinux, the
/// MBR code, the hooks and the storage/NIC modules (lsinitrd), and PXE-installs the
/// disk image with it in QEMU; skips when dracut is not installed (fails instead under
/// RDINSTALL_REQUIRE_QEMU=1).
#[test]
fn dracut_module_builds_an_initrd() {
    run_script("tests/qemu/dracut-test.sh", &["--boot"]);
}
