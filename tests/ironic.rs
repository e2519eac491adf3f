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

#[path = "common/vm_script.rs"]
mod vm_script;

use std::process::Command;

fn skip_reason() -> Option<String> {
    let missing = vm_script::common_skip_reason(
        &[
            ("qemu-system-x86_64", "qemu-system-x86"),
            ("dnsmasq", "dnsmasq-base"),
            ("ip", "iproute2"),
            ("python3", "python3"),
        ],
        "network namespace, tap device, loop mounts",
    );
    if missing.is_some() {
        return missing;
    }
    let venv = Command::new("python3")
        .args(["-c", "import venv, ensurepip"])
        .status();
    if !venv.is_ok_and(|s| s.success()) {
        return Some("python3 cannot make a venv (apt-get install python3-venv)".into());
    }
    None
}

#[test]
fn ironic_direct_deploy() {
    vm_script::run_script("tests/ironic/run.sh", &[], skip_reason());
}
