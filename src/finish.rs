//! The machine's life after the install: reboot, poweroff, kexec, shell or exit.

use crate::settings::FinishAction;
use nix::sys::reboot::{reboot, RebootMode};
use std::path::Path;

/// What the caller should do after `act` returns (it only returns for `exit`, or when an
/// action could not be carried out).
pub fn act(action: FinishAction, from_cmdline: bool, error: Option<&str>, code: i32) -> i32 {
    match action {
        FinishAction::Exit => code,
        FinishAction::Shell => {
            if let Some(e) = error {
                eprintln!("\nrdinstall failed: {e}\nDropping to a shell; `exit` leaves it.\n");
            }
            shell();
            code
        }
        FinishAction::Reboot => power(RebootMode::RB_AUTOBOOT, "/sbin/reboot", from_cmdline, code),
        FinishAction::Poweroff => power(
            RebootMode::RB_POWER_OFF,
            "/sbin/poweroff",
            from_cmdline,
            code,
        ),
        FinishAction::Kexec => kexec(from_cmdline, code),
    }
}

/// Start the kernel the caller loaded (boot::kexec::load; it asks for kexec only when that
/// worked). On a full system its init stops services first (`systemctl kexec`); in the
/// ramdisk reboot(2) with RB_KEXEC jumps straight into it. Reboots through the firmware when
/// that fails.
fn kexec(from_cmdline: bool, code: i32) -> i32 {
    nix::unistd::sync();
    let systemctl = "/bin/systemctl";
    let direct = std::process::id() == 1 || from_cmdline || !Path::new(systemctl).exists();
    if !direct {
        let asked = std::process::Command::new(systemctl).arg("kexec").status();
        if asked.is_ok_and(|s| s.success()) {
            std::thread::sleep(std::time::Duration::from_secs(60));
            return code;
        }
    }
    let Err(e) = reboot(RebootMode::RB_KEXEC);
    eprintln!("kexec (reboot(2) with RB_KEXEC) failed: {e}; rebooting through the firmware");
    power(RebootMode::RB_AUTOBOOT, "/sbin/reboot", from_cmdline, code)
}

fn shell() {
    let sh = ["/bin/sh", "/usr/bin/sh"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    let Some(sh) = sh else {
        eprintln!("no /bin/sh to drop to");
        return;
    };
    // A child, not exec: when the operator leaves the shell, our exit code still tells the
    // caller (the initrd's /init) what happened.
    let _ = std::process::Command::new(sh).arg("-i").status();
}

/// Sync, then reboot or power off. In the ramdisk (PID 1, or started from the kernel command
/// line by a shell-script init that cannot handle a reboot request) call reboot(2) directly;
/// on a full system ask its init through /sbin/reboot so services stop cleanly.
fn power(mode: RebootMode, tool: &str, from_cmdline: bool, code: i32) -> i32 {
    nix::unistd::sync();
    let direct = std::process::id() == 1 || from_cmdline || !Path::new(tool).exists();
    if direct {
        // reboot(2) only returns on failure.
        let Err(e) = reboot(mode);
        eprintln!("reboot(2) failed: {e} (are we root?)");
        code
    } else {
        match std::process::Command::new(tool).status() {
            Ok(s) if s.success() => {
                // Wait for init to take us down.
                std::thread::sleep(std::time::Duration::from_secs(60));
                code
            }
            _ => {
                eprintln!("{tool} failed; calling reboot(2) directly");
                let _ = reboot(mode);
                code
            }
        }
    }
}
