//! `extlinux.conf`: find the image's own, rewrite its kernel arguments for the installed
//! disk, or generate one from the kernel and initrd in `/boot`. Text in, text out: the
//! filesystem work is in `extlinux.rs`.

use crate::fs_in_image::ImageDir;
use std::path::{Path, PathBuf};

/// Where syslinux (and live CDs) keep a configuration, relative to the filesystem root, in the
/// order we look. ldlinux reads the one in the directory it was installed in first, so we
/// install into the directory of the one we find.
pub const CONFIG_CANDIDATES: &[&str] = &[
    "boot/extlinux/extlinux.conf",
    "boot/extlinux/syslinux.cfg",
    "boot/extlinux.conf",
    "boot/syslinux/extlinux.conf",
    "boot/syslinux/syslinux.cfg",
    "extlinux/extlinux.conf",
    "extlinux.conf",
    "syslinux/syslinux.cfg",
    "syslinux.cfg",
    // A live CD's own, as seed 000 copied it (renamed to extlinux.conf beside it).
    "boot/isolinux/isolinux.cfg",
    "isolinux/isolinux.cfg",
];

/// Where a generated configuration goes.
pub const DEFAULT_CONFIG: &str = "boot/extlinux/extlinux.conf";

/// What to do with an existing `root=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootPolicy {
    /// rdinstall made the layout: the root is always the filesystem we wrote.
    Replace,
    /// A disk image knows its own root; replace only a live-CD one or add a missing one.
    KeepImages,
}

/// Arguments that only make sense on a live system (dracut's dmsquash-live, debian-live).
fn is_live_only(arg: &str) -> bool {
    arg == "ro"
        || arg == "liveimg"
        || arg == "rootfstype=auto"
        || arg == "rootflags=ro"
        || arg == "boot=live"
        || arg.starts_with("rd.live.")
        || arg.starts_with("live-media")
        || arg.starts_with("root=live:")
}

/// New kernel arguments: live-only ones dropped, `root=UUID=` set per `policy`, extra appended.
pub fn rewrite_args(args: &str, uuid: &str, policy: RootPolicy, extra: Option<&str>) -> String {
    let mut out: Vec<&str> = Vec::new();
    let mut had_root = false;
    for a in args.split_whitespace() {
        if a.starts_with("root=") && !a.starts_with("root=live:") {
            if policy == RootPolicy::KeepImages {
                had_root = true;
                out.push(a);
            }
            continue;
        }
        if is_live_only(a) {
            continue;
        }
        out.push(a);
    }
    let root = format!("root=UUID={uuid}");
    if !had_root {
        out.push(&root);
    }
    let mut s = out.join(" ");
    if let Some(e) = extra.map(str::trim).filter(|e| !e.is_empty()) {
        s.push(' ');
        s.push_str(e);
    }
    s
}

fn keyword(line: &str) -> Option<(String, &str)> {
    let t = line.trim_start();
    if t.starts_with('#') || t.is_empty() {
        return None;
    }
    let (k, rest) = t.split_once(char::is_whitespace).unwrap_or((t, ""));
    Some((k.to_ascii_lowercase(), rest))
}

/// Rewrite every APPEND line of a syslinux configuration. A label that boots a kernel without
/// any APPEND (its own or a global one) gets one.
pub fn rewrite_config(text: &str, uuid: &str, policy: RootPolicy, extra: Option<&str>) -> String {
    rewrite(text, uuid, policy, extra, true)
}

/// For a file the configuration INCLUDEs: only its APPEND lines change (its labels may rely on
/// a global APPEND in the including file).
pub fn rewrite_included(text: &str, uuid: &str, policy: RootPolicy, extra: Option<&str>) -> String {
    rewrite(text, uuid, policy, extra, false)
}

fn rewrite(
    text: &str,
    uuid: &str,
    policy: RootPolicy,
    extra: Option<&str>,
    add_missing: bool,
) -> String {
    let has_global_append = !add_missing
        || text
            .lines()
            .map_while(|l| match keyword(l) {
                Some((k, _)) if k == "label" => None,
                other => Some(other),
            })
            .flatten()
            .any(|(k, _)| k == "append");
    let fresh = rewrite_args("", uuid, policy, extra);
    let mut out = String::with_capacity(text.len() + 128);
    // Per label: saw a kernel line, saw an append line, indentation of the kernel line.
    let mut label: Option<(bool, bool, String)> = None;
    let close = |out: &mut String, label: &Option<(bool, bool, String)>| {
        if let Some((true, false, indent)) = label {
            if !has_global_append {
                out.push_str(&format!("{indent}APPEND {fresh}\n"));
            }
        }
    };
    for line in text.lines() {
        match keyword(line) {
            Some((k, rest)) if k == "append" => {
                let indent = &line[..line.len() - line.trim_start().len()];
                let word = line.split_whitespace().next().unwrap_or("APPEND");
                let args = if rest.trim() == "-" { "" } else { rest };
                out.push_str(&format!(
                    "{indent}{word} {}\n",
                    rewrite_args(args, uuid, policy, extra)
                ));
                if let Some(l) = label.as_mut() {
                    l.1 = true;
                }
                continue;
            }
            Some((k, _)) if k == "label" => {
                close(&mut out, &label);
                label = Some((false, false, String::new()));
            }
            // A Linux kernel, not a module (`KERNEL memtest.c32`, `KERNEL chain.c32`).
            Some((k, rest))
                if (k == "kernel" || k == "linux")
                    && !rest
                        .split_whitespace()
                        .next()
                        .is_some_and(|f| f.to_ascii_lowercase().ends_with(".c32")) =>
            {
                if let Some(l) = label.as_mut() {
                    l.0 = true;
                    l.2 = line[..line.len() - line.trim_start().len()].to_string();
                }
            }
            _ => {}
        }
        out.push_str(line);
        out.push('\n');
    }
    close(&mut out, &label);
    out
}

/// A configuration for one kernel. `kernel` and `initrd` are paths from the filesystem root.
pub fn generate_config(
    kernel: &str,
    initrd: Option<&str>,
    uuid: &str,
    extra: Option<&str>,
) -> String {
    let mut args = format!("root=UUID={uuid} rw");
    if let Some(e) = extra.map(str::trim).filter(|e| !e.is_empty()) {
        args.push(' ');
        args.push_str(e);
    }
    let mut s = String::from(
        "# Written by rdinstall from the kernel and initrd found in the image.\n\
         DEFAULT linux\nPROMPT 0\nTIMEOUT 10\n\nLABEL linux\n",
    );
    s.push_str(&format!("  LINUX {kernel}\n"));
    if let Some(i) = initrd {
        s.push_str(&format!("  INITRD {i}\n"));
    }
    s.push_str(&format!("  APPEND {args}\n"));
    s
}

/// Files a configuration includes (`INCLUDE file`, `MENU INCLUDE file`), as written.
pub fn included_files(text: &str) -> Vec<String> {
    let mut v = Vec::new();
    for line in text.lines() {
        let Some((k, rest)) = keyword(line) else {
            continue;
        };
        let mut words = rest.split_whitespace();
        let f = match k.as_str() {
            "include" => words.next(),
            "menu"
                if words
                    .next()
                    .is_some_and(|w| w.eq_ignore_ascii_case("include")) =>
            {
                words.next()
            }
            _ => None,
        };
        if let Some(f) = f {
            v.push(f.to_string());
        }
    }
    v
}

/// Kernel and initrd files a configuration loads (KERNEL/LINUX and INITRD lines, `initrd=`
/// arguments), as written in it: absolute from the filesystem root, or relative to the
/// configuration's directory.
pub fn referenced_files(text: &str) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    let mut add = |f: &str| {
        let f = f.trim();
        if !f.is_empty() && !f.to_ascii_lowercase().ends_with(".c32") && !v.iter().any(|x| x == f) {
            v.push(f.to_string());
        }
    };
    for line in text.lines() {
        let Some((k, rest)) = keyword(line) else {
            continue;
        };
        match k.as_str() {
            "kernel" | "linux" => {
                if let Some(f) = rest.split_whitespace().next() {
                    add(f);
                }
            }
            "initrd" => rest
                .split_whitespace()
                .next()
                .into_iter()
                .flat_map(|l| l.split(','))
                .for_each(&mut add),
            "append" => rest
                .split_whitespace()
                .filter_map(|a| a.strip_prefix("initrd="))
                .flat_map(|l| l.split(','))
                .for_each(&mut add),
            _ => {}
        }
    }
    v
}

/// `.c32` modules a configuration loads (UI, KERNEL/LINUX/COM32 lines and bare menu labels).
pub fn referenced_modules(text: &str) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for line in text.lines() {
        let Some((k, rest)) = keyword(line) else {
            continue;
        };
        if !matches!(k.as_str(), "ui" | "kernel" | "linux" | "com32" | "default") {
            continue;
        }
        if let Some(m) = rest.split_whitespace().next() {
            let name = m.rsplit('/').next().unwrap_or(m);
            if name.to_ascii_lowercase().ends_with(".c32") && !v.iter().any(|x| x == name) {
                v.push(name.to_string());
            }
        }
    }
    v
}

/// Compare version-like strings so `vmlinuz-6.1.0-10` sorts after `vmlinuz-6.1.0-9`.
fn version_key(s: &str) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    let mut num = String::new();
    let mut txt = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            if !txt.is_empty() {
                out.push((0, std::mem::take(&mut txt)));
            }
            num.push(c);
        } else {
            if !num.is_empty() {
                out.push((num.parse().unwrap_or(u64::MAX), String::new()));
                num.clear();
            }
            txt.push(c);
        }
    }
    if !num.is_empty() {
        out.push((num.parse().unwrap_or(u64::MAX), String::new()));
    }
    if !txt.is_empty() {
        out.push((0, txt));
    }
    out
}

/// The newest kernel in directory `dir` of the image and its initrd, as file names. Only
/// regular files: a symlink may point outside the filesystem, where the bootloader cannot
/// follow.
pub fn find_kernel(img: &ImageDir, dir: &Path) -> Option<(PathBuf, Option<PathBuf>)> {
    let mut files = img.regular_files_in(dir);
    files.sort_by_key(|f| version_key(f));
    let skip = |f: &str| {
        f.ends_with(".sig")
            || f.ends_with(".hmac")
            || f.contains("rescue")
            || f.contains("kdump")
            || f.ends_with(".old")
    };
    let kernel = files
        .iter()
        .rfind(|f| {
            !skip(f)
                && (f.starts_with("vmlinuz")
                    || f.starts_with("bzImage")
                    || f.starts_with("kernel-"))
        })?
        .clone();
    let version = kernel
        .trim_start_matches("vmlinuz")
        .trim_start_matches("bzImage")
        .trim_start_matches("kernel")
        .trim_start_matches('-');
    let is_initrd =
        |f: &&String| (f.starts_with("initrd") || f.starts_with("initramfs")) && !skip(f);
    let initrd = files
        .iter()
        .rfind(|f| is_initrd(f) && !version.is_empty() && f.contains(version))
        .or_else(|| files.iter().rfind(is_initrd))
        .cloned();
    Some((PathBuf::from(kernel), initrd.map(PathBuf::from)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const UUID: &str = "0b7e1c2a-1111-2222-3333-444455556666";

    #[test]
    fn seed_live_cd_config_is_rewritten() {
        // The shape of a livecd-creator isolinux.cfg (seed 000).
        let text = "default vesamenu.c32\ntimeout 100\n\nlabel linux0\n  menu label Boot\n  \
                    kernel vmlinuz0\n  append initrd=initrd0.img root=live:CDLABEL=openstack-LiveCD \
                    rootfstype=auto ro rd.live.image quiet  rhgb rd.luks=0\n";
        let out = rewrite_config(text, UUID, RootPolicy::Replace, Some("console=ttyS0"));
        let append = out
            .lines()
            .find(|l| l.trim_start().starts_with("append"))
            .unwrap();
        assert_eq!(
            append,
            format!(
                "  append initrd=initrd0.img quiet rhgb rd.luks=0 root=UUID={UUID} console=ttyS0"
            )
        );
        assert!(out.starts_with("default vesamenu.c32\ntimeout 100\n\nlabel linux0\n"));
        assert_eq!(referenced_modules(&out), vec!["vesamenu.c32".to_string()]);
        assert_eq!(referenced_files(&out), vec!["vmlinuz0", "initrd0.img"]);
        let multi = "LABEL a\n LINUX /boot/k\n INITRD /boot/a.img,/boot/b.img\n APPEND x\n";
        assert_eq!(
            referenced_files(multi),
            vec!["/boot/k", "/boot/a.img", "/boot/b.img"]
        );
    }

    #[test]
    fn root_policy() {
        let args = "root=LABEL=ROOT console=tty0 ro";
        assert_eq!(
            rewrite_args(args, UUID, RootPolicy::Replace, None),
            format!("console=tty0 root=UUID={UUID}")
        );
        assert_eq!(
            rewrite_args(args, UUID, RootPolicy::KeepImages, None),
            "root=LABEL=ROOT console=tty0"
        );
        assert_eq!(
            rewrite_args("root=live:LABEL=x", UUID, RootPolicy::KeepImages, None),
            format!("root=UUID={UUID}")
        );
    }

    #[test]
    fn label_without_append_gets_one() {
        let text =
            "DEFAULT a\nLABEL a\n\tLINUX /boot/vmlinuz\nLABEL b\n\tLINUX /x\n\tAPPEND quiet\n";
        let out = rewrite_config(text, UUID, RootPolicy::Replace, None);
        assert_eq!(
            out,
            format!(
                "DEFAULT a\nLABEL a\n\tLINUX /boot/vmlinuz\n\tAPPEND root=UUID={UUID}\nLABEL b\n\t\
                 LINUX /x\n\tAPPEND quiet root=UUID={UUID}\n"
            )
        );
        // Module labels get no kernel arguments.
        let text = "LABEL hdt\n KERNEL hdt.c32\nLABEL l\n LINUX /k\n";
        let out = rewrite_config(text, UUID, RootPolicy::Replace, None);
        assert_eq!(
            out,
            format!("LABEL hdt\n KERNEL hdt.c32\nLABEL l\n LINUX /k\n APPEND root=UUID={UUID}\n")
        );
        // A global APPEND covers labels without their own.
        let text = "APPEND ro quiet\nLABEL a\n LINUX /k\n";
        let out = rewrite_config(text, UUID, RootPolicy::Replace, None);
        assert_eq!(
            out,
            format!("APPEND quiet root=UUID={UUID}\nLABEL a\n LINUX /k\n")
        );
    }

    #[test]
    fn includes() {
        let text = "UI menu.c32\nINCLUDE live.cfg\nMENU INCLUDE /isolinux/stdmenu.cfg My menu\n";
        assert_eq!(
            included_files(text),
            vec!["live.cfg", "/isolinux/stdmenu.cfg"]
        );
        let inc = "LABEL live\n KERNEL /vmlinuz\n APPEND boot=live ro quiet\nLABEL x\n KERNEL /k\n";
        assert_eq!(
            rewrite_included(inc, UUID, RootPolicy::Replace, None),
            format!("LABEL live\n KERNEL /vmlinuz\n APPEND quiet root=UUID={UUID}\nLABEL x\n KERNEL /k\n")
        );
    }

    #[test]
    fn generated_config() {
        let c = generate_config(
            "/boot/vmlinuz",
            Some("/boot/initrd.img"),
            UUID,
            Some(" quiet "),
        );
        assert!(c.contains("LINUX /boot/vmlinuz\n"));
        assert!(c.contains("INITRD /boot/initrd.img\n"));
        assert!(c.contains(&format!("APPEND root=UUID={UUID} rw quiet\n")));
        assert!(c.contains("DEFAULT linux\n"));
    }

    #[test]
    fn newest_kernel_and_its_initrd() {
        let d = tempfile::tempdir().unwrap();
        for f in [
            "vmlinuz-6.1.0-9-amd64",
            "vmlinuz-6.1.0-10-amd64",
            "initrd.img-6.1.0-9-amd64",
            "initrd.img-6.1.0-10-amd64",
            "config-6.1.0-10-amd64",
            "vmlinuz-0-rescue-abc",
        ] {
            std::fs::write(d.path().join(f), b"x").unwrap();
        }
        std::os::unix::fs::symlink("/vmlinuz-evil", d.path().join("vmlinuz-9.9")).unwrap();
        let (k, i) = find_kernel(&ImageDir::open(d.path()).unwrap(), Path::new("")).unwrap();
        assert_eq!(k, PathBuf::from("vmlinuz-6.1.0-10-amd64"));
        assert_eq!(i, Some(PathBuf::from("initrd.img-6.1.0-10-amd64")));

        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("vmlinuz"), b"x").unwrap();
        std::fs::write(d.path().join("initramfs.img"), b"x").unwrap();
        let (k, i) = find_kernel(&ImageDir::open(d.path()).unwrap(), Path::new("")).unwrap();
        assert_eq!(
            (k.to_str(), i.as_deref().and_then(Path::to_str)),
            (Some("vmlinuz"), Some("initramfs.img"))
        );
        let empty = tempfile::tempdir().unwrap();
        assert!(find_kernel(&ImageDir::open(empty.path()).unwrap(), Path::new("")).is_none());
    }
}
