//! The initrd's /init reads the kernel command line with initramfs/cmdline.sh: run those
//! functions under the host's busybox sh with crafted command lines. Bad values must fall
//! back to their defaults with a message, never make the shell exit (as PID 1 that panics
//! the kernel), and keys and quotes must be read as rdinstall reads them.

use std::path::Path;
use std::process::Command;

/// Source cmdline.sh, load `line`, run `body`; returns (stdout, stderr, exit code).
fn run(line: &str, body: &str) -> (String, String, i32) {
    let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join("initramfs/cmdline.sh");
    let script = format!(
        ". '{}'\ncmdline_load \"$LINE\"\n{body}\necho ALIVE\n",
        lib.display()
    );
    let out = Command::new("busybox")
        .args(["sh", "-c", &script])
        .env("LINE", line)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap_or_else(|e| {
            panic!("busybox is needed for this test (apt-get install busybox-static): {e}")
        });
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

/// The value /init would use for `expr` (a command substitution body).
fn value(line: &str, expr: &str) -> (String, String) {
    let (out, err, code) = run(line, &format!("v=$({expr}); echo \"V=[$v]\""));
    assert_eq!(code, 0, "sh exited: {out} {err}");
    assert!(out.contains("ALIVE"), "sh stopped early: {out} {err}");
    let v = out
        .lines()
        .find_map(|l| l.strip_prefix("V=["))
        .and_then(|l| l.strip_suffix(']'))
        .unwrap_or_else(|| panic!("no value in {out:?}"))
        .to_string();
    (v, err)
}

const NET_TIMEOUT: &str = "arg_seconds rdinstall.net_timeout 60 86400";

#[test]
fn net_timeout_is_validated_and_the_shell_survives() {
    for (line, want, warns) in [
        ("rdinstall.net_timeout=30", "30", false),
        ("rdinstall.net_timeout=\"30\"", "30", false),
        ("rdinstall.net-timeout=45", "45", false),
        ("rdinstall.net_timeout=0090", "90", false),
        ("quiet", "60", false),
        ("rdinstall.net_timeout=60s", "60", true),
        ("rdinstall.net_timeout=", "60", false),
        ("rdinstall.net_timeout=0", "60", true),
        ("rdinstall.net_timeout=-5", "60", true),
        ("rdinstall.net_timeout=99999999999999999999999", "60", true),
        ("rdinstall.net_timeout=1+1", "60", true),
        ("rdinstall.net_timeout=$(reboot)", "60", true),
        ("rdinstall.net_timeout=x[", "60", true),
        ("rdinstall.net_timeout=\"30 s\"", "60", true),
    ] {
        let (v, err) = value(line, NET_TIMEOUT);
        assert_eq!(v, want, "{line}: {err}");
        assert_eq!(err.contains("ignoring"), warns, "{line}: {err:?}");
        // The value goes straight into /init's arithmetic: that must not kill the shell.
        let (out, err, code) = run(
            line,
            &format!("t=$({NET_TIMEOUT}); d=$((100 + t)); echo \"D=$d\""),
        );
        assert_eq!(code, 0, "{line}: {err}");
        assert!(
            out.contains(&format!("D={}", 100 + want.parse::<u32>().unwrap()))
                && out.contains("ALIVE"),
            "{line}: {out} {err}"
        );
    }
}

#[test]
fn quoted_values_are_one_parameter() {
    // The installer's own ip= must not come out of extra_kargs' quoted value.
    let line = "BOOT_IMAGE=/vmlinuz rdinstall.extra_kargs=\"ip=10.9.9.9::10.9.9.1:255.255.255.0:x:eth0:none console=ttyS0\" quiet";
    let (v, _) = value(line, "getarg ip");
    assert_eq!(v, "");
    let (v, _) = value(line, "getarg rdinstall.extra_kargs");
    assert_eq!(
        v,
        "ip=10.9.9.9::10.9.9.1:255.255.255.0:x:eth0:none console=ttyS0"
    );
    // The whole parameter quoted, as the kernel allows.
    let (v, _) = value("\"ip=dhcp\" \"rdinstall.break=pre\"", "getarg ip");
    assert_eq!(v, "dhcp");
    let (v, _) = value("ip=off ip=dhcp", "getarg ip");
    assert_eq!(v, "dhcp", "the last one wins");
    // Words are never globbed (a hint with * must not expand to files of the cwd).
    let (v, _) = value(
        "rdinstall.modules=* rdinstall.disk_hint=name=*",
        "getarg rdinstall.disk_hint",
    );
    assert_eq!(v, "name=*");
    // An unterminated quote: a message, and the shell goes on.
    let (out, err, code) = run(
        "rdinstall.break=pre rdinstall.extra_kargs=\"a b",
        "getarg rdinstall.break",
    );
    assert_eq!(code, 0);
    assert!(out.contains("pre") && out.contains("ALIVE"), "{out}");
    assert!(err.contains("unterminated"), "{err}");
}

#[test]
fn finish_keys_are_spelled_as_rdinstall_accepts_them() {
    let of = "arg_choice rdinstall.on_failure shell reboot poweroff kexec shell exit";
    let os = "arg_choice rdinstall.on_success reboot reboot poweroff kexec shell exit";
    // rdinstall treats - and _ alike in keys and lowercases values (src/settings).
    assert_eq!(value("rdinstall.on-failure=poweroff", of).0, "poweroff");
    assert_eq!(value("rdinstall.on_failure=EXIT", of).0, "exit");
    assert_eq!(value("rdinstall.on-success=shell", os).0, "shell");
    assert_eq!(value("", of).0, "shell");
    assert_eq!(value("", os).0, "reboot");
    let (v, err) = value("rdinstall.on_failure=explode", of);
    assert_eq!(v, "shell");
    assert!(
        err.contains("ignoring rdinstall.on_failure=explode"),
        "{err}"
    );
    let brk = "arg_choice rdinstall.break '' pre post";
    assert_eq!(value("rdinstall.break=post", brk).0, "post");
    assert_eq!(value("rdinstall.break", brk).0, "");
    assert_eq!(value("rdinstall.break=later", brk).0, "");
}

#[test]
fn modules_and_bootif_are_checked() {
    let (v, err) = value(
        "rdinstall.modules=virtio_net,e1000e,bad;name,$(x),a-b",
        "arg_modules | tr '\\n' ' '",
    );
    assert_eq!(v, "virtio_net e1000e a-b ");
    assert!(err.contains("bad;name"), "{err}");
    assert_eq!(
        value("BOOTIF=01-52-54-00-AB-cd-EF", "bootif_mac").0,
        "52:54:00:ab:cd:ef"
    );
    let (v, err) = value("BOOTIF=01-zz-54-00-ab-cd-ef", "bootif_mac");
    assert_eq!(v, "");
    assert!(err.contains("ignoring BOOTIF"), "{err}");
}

/// /init itself: the body runs in a subshell followed by a shell loop, and every value it
/// uses comes through the validating functions above.
#[test]
fn init_never_exits_and_uses_the_validated_values() {
    let init =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("initramfs/init"))
            .unwrap();
    assert!(init.contains("\n( main )\n"), "the body runs in a subshell");
    let after = &init[init.find("\n( main )\n").unwrap()..];
    assert!(after.contains("while :; do"), "PID 1 loops after the body");
    assert!(init.contains(". /lib/rdinstall/cmdline.sh"));
    assert!(init.contains("$(arg_seconds rdinstall.net_timeout"));
    assert!(
        !init.contains("for _p in $CMDLINE"),
        "no ad-hoc splitting left"
    );
    let build =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("initramfs/build.sh"))
            .unwrap();
    assert!(
        build.contains("lib/rdinstall/cmdline.sh"),
        "build.sh ships the parser"
    );
    let out = Command::new("busybox")
        .args(["sh", "-n", "initramfs/init"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
