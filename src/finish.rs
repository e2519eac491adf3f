//! The machine's life after the install: reboot, poweroff, kexec, shell or exit.

use nix::sys::reboot::{reboot, RebootMode};
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FinishAction {
    Reboot,
    Poweroff,
    Kexec,
    Shell,
    Exit,
}

/// What the caller should do after `act` returns (it only returns for `exit`, or when an
/// action could not be carried out).
pub fn act(action: FinishAction, from_cmdline: bool, error: Option<&str>, code: i32) -> i32 {
    match action {
        FinishAction::Exit => code,
        FinishAction::Shell => {
            if let Some(e) = error {
                let e = crate::redact::text(e);
                eprintln!("\nrdinstall failed: {e}\nDropping to a shell; `exit` leaves it.\n");
            }
            shell();
            code
        }
        FinishAction::Reboot => {
            let _ = power(RebootMode::RB_AUTOBOOT, &["/sbin/reboot"], from_cmdline);
            code
        }
        FinishAction::Poweroff => {
            let _ = power(RebootMode::RB_POWER_OFF, &["/sbin/poweroff"], from_cmdline);
            code
        }
        // The caller loaded the installed kernel (boot::kexec::load) and asks for kexec
        // only when that worked. On a full system its init stops services first (`systemctl
        // kexec`); in the ramdisk reboot(2) with RB_KEXEC jumps straight into it.
        FinishAction::Kexec => {
            let kexec = power(
                RebootMode::RB_KEXEC,
                &["/bin/systemctl", "kexec"],
                from_cmdline,
            );
            if kexec.is_err() {
                eprintln!("kexec failed; rebooting through the firmware");
                let _ = power(RebootMode::RB_AUTOBOOT, &["/sbin/reboot"], from_cmdline);
            }
            code
        }
    }
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

/// Sync, then reboot, power off or kexec (`mode`). In the ramdisk (PID 1, or started from the
/// kernel command line by a shell-script init that cannot handle a reboot request) call
/// reboot(2) directly; on a full system ask its init through `cmd` (program and arguments)
/// so services stop cleanly. Returns only when the machine did not go down: `Ok` after init
/// took the request (and a minute passed), `Err` when it failed.
fn power(mode: RebootMode, cmd: &[&str], from_cmdline: bool) -> Result<(), ()> {
    nix::unistd::sync();
    let direct = std::process::id() == 1 || from_cmdline || !Path::new(cmd[0]).exists();
    if direct {
        // reboot(2) only returns on failure.
        let Err(e) = reboot(mode);
        eprintln!("reboot(2) with {mode:?} failed: {e} (are we root?)");
        return Err(());
    }
    match std::process::Command::new(cmd[0]).args(&cmd[1..]).status() {
        Ok(s) if s.success() => {
            // Wait for init to take us down.
            std::thread::sleep(std::time::Duration::from_secs(60));
            Ok(())
        }
        _ => {
            eprintln!("{} failed; calling reboot(2) directly", cmd.join(" "));
            let _ = reboot(mode);
            Err(())
        }
    }
}
