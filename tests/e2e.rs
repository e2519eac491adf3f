//! QEMU tests: the end-to-end PXE install (tests/e2e/run.sh) and the guest scenarios that
//! need a kernel with device-mapper and md (tests/qemu/scenario.sh). They boot real VMs
//! under TCG, so they take minutes; they skip with a printed reason only when QEMU or root
//! is missing (or RDINSTALL_SKIP_QEMU=1 is set for a quick local run).
//!
//! A skip is not a pass: under `scripts/test.sh` (which installs every prerequisite and
//! exports RDINSTALL_REQUIRE_QEMU=1) any reason to skip, RDINSTALL_SKIP_QEMU=1 included,
//! fails the test instead.

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

/// One VM at a time: the test bed has two cores, and parallel TCG guests only slow each other.
static VM: Mutex<()> = Mutex::new(());

fn skip_reason() -> Option<String> {
    if std::env::var_os("RDINSTALL_SKIP_QEMU").is_some_and(|v| v == "1") {
        return Some("RDINSTALL_SKIP_QEMU=1".into());
    }
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("qemu-system-x86_64").is_file()))
        .unwrap_or(false);
    if !found {
        return Some(
            "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)".into(),
        );
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("needs root (loop devices and mounts to build the test images)".into());
    }
    None
}

/// True when the run must not skip anything (scripts/test.sh, CI).
fn required() -> bool {
    std::env::var_os("RDINSTALL_REQUIRE_QEMU").is_some_and(|v| v == "1")
}

fn run_script(script: &str, args: &[&str]) {
    if let Some(why) = skip_reason() {
        assert!(
            !required(),
            "{script} cannot run: {why}, and RDINSTALL_REQUIRE_QEMU=1 forbids skipping it"
        );
        eprintln!("SKIPPED {script}: {why}");
        return;
    }
    let _one_vm = VM.lock().unwrap_or_else(|e| e.into_inner());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut cmd = Command::new(root.join(script));
    cmd.args(args).current_dir(root);
    // The scripts run `cargo build --target x86_64-unknown-linux-musl`; without the
    // variables cargo sets for a test run, that build sees the same environment as one from
    // a shell and stays fresh between the two.
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy();
        let set_for_tests = matches!(
            &*k,
            "CARGO"
                | "CARGO_MANIFEST_DIR"
                | "CARGO_MANIFEST_PATH"
                | "CARGO_CRATE_NAME"
                | "CARGO_BIN_NAME"
                | "CARGO_PRIMARY_PACKAGE"
                | "CARGO_TARGET_TMPDIR"
                | "CARGO_RUSTC_CURRENT_DIR"
        ) || k.starts_with("CARGO_PKG_")
            || k.starts_with("CARGO_BIN_EXE_");
        if set_for_tests {
            cmd.env_remove(&*k);
        }
    }
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("cannot run {script}: {e}"));
    assert!(
        status.success(),
        "{script} {args:?} failed ({status}); its output above names the failing checks"
    );
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
