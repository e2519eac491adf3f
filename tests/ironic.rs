//! rdinstall as OpenStack Ironic's deploy ramdisk, against the real Ironic (39.0.0 from PyPI,
//! standalone, in a private network namespace) and a QEMU VM: tests/ironic/run.sh.
//!
//! Cases: a whole-disk raw deploy with Ironic's default require_tls = true (node `active`,
//! the VM powered off by the agent, the disk boots alone), once with the kernel arguments
//! Ironic wrote and once through QEMU's iPXE ROM and Ironic's own boot files; a wrong image
//! checksum (`deploy
//! failed`, last_error names the checksum, Ironic stored the agent's logs); two disks with a
//! root device hint and a configdrive (the hinted disk written with a config-2 partition,
//! the other untouched); plain HTTP with require_tls = false and ipa-advertise-host/-port.
//!
//! Skips with a reason when root, QEMU, dnsmasq or python3-venv is missing; under
//! RDINSTALL_REQUIRE_QEMU=1 (scripts/test.sh) a missing piece fails the test instead.

use std::path::Path;
use std::process::Command;

fn on_path(prog: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(prog).is_file()))
        .unwrap_or(false)
}

fn skip_reason() -> Option<String> {
    if std::env::var_os("RDINSTALL_SKIP_QEMU").is_some_and(|v| v == "1") {
        return Some("RDINSTALL_SKIP_QEMU=1".into());
    }
    for (prog, pkg) in [
        ("qemu-system-x86_64", "qemu-system-x86"),
        ("dnsmasq", "dnsmasq-base"),
        ("ip", "iproute2"),
        ("python3", "python3"),
    ] {
        if !on_path(prog) {
            return Some(format!("{prog} is not installed (apt-get install {pkg})"));
        }
    }
    let venv = Command::new("python3")
        .args(["-c", "import venv, ensurepip"])
        .status();
    if !venv.is_ok_and(|s| s.success()) {
        return Some("python3 cannot make a venv (apt-get install python3-venv)".into());
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("needs root (network namespace, tap device, loop mounts)".into());
    }
    None
}

#[test]
fn ironic_direct_deploy() {
    if let Some(why) = skip_reason() {
        assert!(
            std::env::var_os("RDINSTALL_REQUIRE_QEMU").is_none_or(|v| v != "1"),
            "tests/ironic/run.sh cannot run: {why}, and RDINSTALL_REQUIRE_QEMU=1 forbids skipping it"
        );
        eprintln!("SKIPPED tests/ironic/run.sh: {why}");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut cmd = Command::new(root.join("tests/ironic/run.sh"));
    cmd.current_dir(root);
    // As tests/e2e.rs: the script's own cargo build must not see the test run's variables.
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy();
        if k.starts_with("CARGO_PKG_")
            || k.starts_with("CARGO_BIN_EXE_")
            || matches!(
                &*k,
                "CARGO"
                    | "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_BIN_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "CARGO_TARGET_TMPDIR"
                    | "CARGO_RUSTC_CURRENT_DIR"
            )
        {
            cmd.env_remove(&*k);
        }
    }
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("cannot run tests/ironic/run.sh: {e}"));
    assert!(
        status.success(),
        "tests/ironic/run.sh failed ({status}); its output above names the failing checks"
    );
}
