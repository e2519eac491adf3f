//! Running the QEMU test scripts (tests/e2e/run.sh, tests/qemu/*.sh, tests/ironic/run.sh)
//! from cargo tests: a reason to skip is printed, or fails the test under
//! RDINSTALL_REQUIRE_QEMU=1 (scripts/test.sh, CI); the scripts' own `cargo build` gets the
//! environment of a shell.

use std::path::Path;
use std::process::Command;

pub fn on_path(prog: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(prog).is_file()))
        .unwrap_or(false)
}

/// True when the run must not skip anything (scripts/test.sh, CI).
pub fn required() -> bool {
    std::env::var_os("RDINSTALL_REQUIRE_QEMU").is_some_and(|v| v == "1")
}

/// `RDINSTALL_SKIP_QEMU=1` (a quick local run), a missing program, or not root.
pub fn common_skip_reason(programs: &[(&str, &str)], root_for: &str) -> Option<String> {
    if std::env::var_os("RDINSTALL_SKIP_QEMU").is_some_and(|v| v == "1") {
        return Some("RDINSTALL_SKIP_QEMU=1".into());
    }
    for (prog, pkg) in programs {
        if !on_path(prog) {
            return Some(format!("{prog} is not installed (apt-get install {pkg})"));
        }
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some(format!("needs root ({root_for})"));
    }
    None
}

/// Run `script` from the repository root; skip (or fail) for `skip`, fail when it fails.
pub fn run_script(script: &str, args: &[&str], skip: Option<String>) {
    if let Some(why) = skip {
        assert!(
            !required(),
            "{script} cannot run: {why}, and RDINSTALL_REQUIRE_QEMU=1 forbids skipping it"
        );
        eprintln!("SKIPPED {script}: {why}");
        return;
    }
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
