//! The PXE server examples shipped in initramfs/examples, checked against the real parsers:
//! dnsmasq's own syntax check, and rdinstall's kernel command line parser for every
//! rdinstall line of the pxelinux config and the iPXE script (with the values pxelinux's
//! IPAPPEND 2 and iPXE's ${...} expansion put in). Booting them is tests/e2e/run.sh's job
//! (pxelinux in every case; the iPXE script in ipxe-script and uefi-ipxe).

mod common;
use common::*;
use std::path::Path;
use std::process::Command;

const MAC: &str = "52:54:00:12:34:56";

fn example(rel: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("initramfs/examples")
        .join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The settings rdinstall makes of `line` (asserting it parses), as JSON.
fn parse_cmdline(line: &str) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("cmdline");
    std::fs::write(&f, line).unwrap();
    let out = rdinstall(&["cmdline", "--file", f.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{line}\n{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A real checksum in place of the placeholder, so the line must pass validation.
fn fill_checksum(line: &str) -> String {
    line.replace("REPLACE_WITH_THE_SHA256_OF_THE_FILE", &"ab".repeat(32))
}

#[test]
fn dnsmasq_accepts_the_example_config() {
    let conf = Path::new(env!("CARGO_MANIFEST_DIR")).join("initramfs/examples/dnsmasq.conf");
    let out = Command::new("dnsmasq")
        .arg("--test")
        .arg("-C")
        .arg(&conf)
        .output()
        .expect("dnsmasq (apt-get install dnsmasq-base)");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Each kind of client gets something to boot.
    let text = example("dnsmasq.conf");
    for want in [
        "tag:ipxe,http://",
        "tag:bios,tag:!ipxe,pxelinux.0",
        "tag:efi64,tag:!ipxe,ipxe.efi",
    ] {
        assert!(text.contains(want), "dnsmasq.conf lost {want}");
    }
}

#[test]
fn pxelinux_example_lines_parse() {
    let text = example("pxelinux.cfg/default");
    let appends: Vec<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("APPEND "))
        .filter(|l| l.contains("rdinstall."))
        .collect();
    assert_eq!(appends.len(), 3, "the example's three rdinstall labels");
    let ipappend = text.lines().filter(|l| l.trim() == "IPAPPEND 2").count();
    assert_eq!(ipappend, 3, "each passes BOOTIF");
    for append in appends {
        // IPAPPEND 2 appends BOOTIF=01-<mac with dashes>.
        let line = format!(
            "BOOT_IMAGE=vmlinuz {} BOOTIF=01-{}",
            fill_checksum(append),
            MAC.replace(':', "-")
        );
        let s = parse_cmdline(&line);
        assert_eq!(s["bootif"], MAC, "{append}");
        assert!(s["image"][0].as_str().unwrap().starts_with("http://"));
    }
}

#[test]
fn ipxe_example_kernel_line_parses() {
    let text = example("rdinstall.ipxe");
    assert!(
        text.starts_with("#!ipxe\n"),
        "iPXE needs the #!ipxe line first"
    );
    let base = text
        .lines()
        .find_map(|l| l.strip_prefix("set base "))
        .expect("set base");
    let kernel = text
        .lines()
        .find_map(|l| l.strip_prefix("kernel "))
        .expect("a kernel line");
    // What iPXE passes: the arguments after the kernel's URL, its variables expanded.
    let args = kernel.split_once(' ').unwrap().1;
    let expanded = fill_checksum(args)
        .replace("${base}", base)
        .replace("${net0/mac:hexhyp}", &MAC.replace(':', "-"))
        .replace("${net0/mac}", MAC);
    assert!(
        !expanded.contains("${"),
        "unexpanded iPXE variable: {expanded}"
    );
    let s = parse_cmdline(&format!("BOOT_IMAGE=vmlinuz {expanded}"));
    assert_eq!(s["bootif"], MAC);
    assert_eq!(
        s["config"],
        format!("{base}/cloud-configs/{MAC}.yml"),
        "the config URL carries the MAC"
    );
    // The initrd is named on the command line, as the EFI stub needs under UEFI.
    assert!(args.contains("initrd=initrd.img"));
    assert!(text.contains(&format!("initrd {}/initrd.img", "${base}")));
}
