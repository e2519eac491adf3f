//! `on_success=kexec`: load the installed system's default kernel, initrd and command line
//! (from its extlinux.conf) with kexec_file_load(2), so the machine starts it without going
//! through the firmware again. The caller then reboots with RB_KEXEC.

use super::{conf, locate, mount};
use crate::fs_in_image::{ImageDir, MAX_BOOT_FILE, MAX_TEXT};
use crate::layout;
use crate::report::Events;
use anyhow::{bail, Context, Result};
use std::ffi::CString;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// The default boot entry of a syslinux configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub kernel: String,
    pub initrd: Option<String>,
    pub append: String,
}

/// Pick the `DEFAULT` label's entry (or the first label) from extlinux.conf text.
pub fn default_entry(text: &str) -> Option<Entry> {
    let mut default: Option<String> = None;
    let mut entries: Vec<(String, Entry)> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        let (key, value) = match line.split_once(char::is_whitespace) {
            Some((k, v)) => (k.to_ascii_lowercase(), v.trim()),
            None => (line.to_ascii_lowercase(), ""),
        };
        match key.as_str() {
            "default" => default = Some(value.to_string()),
            "label" => entries.push((
                value.to_string(),
                Entry {
                    kernel: String::new(),
                    initrd: None,
                    append: String::new(),
                },
            )),
            "kernel" | "linux" => {
                if let Some((_, e)) = entries.last_mut() {
                    e.kernel = value.to_string();
                }
            }
            "initrd" => {
                if let Some((_, e)) = entries.last_mut() {
                    e.initrd = Some(value.split(',').next().unwrap_or("").to_string());
                }
            }
            "append" => {
                if let Some((_, e)) = entries.last_mut() {
                    // `initrd=` inside APPEND is the syslinux way of naming the initrd too.
                    let mut rest = Vec::new();
                    for a in value.split_whitespace() {
                        match a.strip_prefix("initrd=") {
                            Some(i) if e.initrd.is_none() => e.initrd = Some(i.to_string()),
                            _ => rest.push(a),
                        }
                    }
                    e.append = rest.join(" ");
                }
            }
            _ => {}
        }
    }
    let pick = default
        .and_then(|d| entries.iter().position(|(l, _)| *l == d))
        .unwrap_or(0);
    entries
        .into_iter()
        .nth(pick)
        .map(|(_, e)| e)
        .filter(|e| !e.kernel.is_empty())
}

/// Resolve a syslinux path below the filesystem root: absolute from the root, else relative
/// to the configuration's directory (`conf_dir`, itself relative to the root).
fn resolve(conf_dir: &Path, p: &str) -> PathBuf {
    match p.strip_prefix('/') {
        Some(abs) => PathBuf::from(abs),
        None => conf_dir.join(p),
    }
}

/// Load the installed system's default entry into the kernel for kexec.
pub fn load(disk: &Path, ev: &Events) -> Result<Entry> {
    let table = layout::read_table_at(disk)?;
    let (part, _) = locate::find_boot(disk, &table, ev)?;
    let m = mount::MountedFs::mount(disk, &part, true)?;
    let img = ImageDir::open(m.root())?;
    let conf_rel = conf::CONFIG_CANDIDATES
        .iter()
        .map(Path::new)
        .find(|c| img.is_regular(c))
        .with_context(|| {
            format!(
                "no extlinux.conf on partition {} of {}",
                part.number,
                disk.display()
            )
        })?;
    let text = String::from_utf8_lossy(&img.read(conf_rel, MAX_TEXT)?).into_owned();
    let Some(entry) = default_entry(&text) else {
        bail!("/{} has no boot entry with a kernel", conf_rel.display());
    };
    let conf_dir = conf_rel.parent().unwrap_or(Path::new(""));
    // The image names these files: opened inside its filesystem, regular files of sane size.
    let kernel = img
        .open_regular(&resolve(conf_dir, &entry.kernel), MAX_BOOT_FILE)
        .with_context(|| format!("cannot open the installed kernel {}", entry.kernel))?;
    let initrd = match &entry.initrd {
        Some(i) => Some(
            img.open_regular(&resolve(conf_dir, i), MAX_BOOT_FILE)
                .with_context(|| format!("cannot open the installed initrd {i}"))?,
        ),
        None => None,
    };
    let cmdline =
        CString::new(entry.append.clone()).context("kernel command line holds a NUL byte")?;
    // KEXEC_FILE_NO_INITRAMFS when there is none.
    let flags: libc::c_ulong = if initrd.is_none() { 4 } else { 0 };
    let r = unsafe {
        libc::syscall(
            libc::SYS_kexec_file_load,
            kernel.as_raw_fd(),
            initrd.as_ref().map(|f| f.as_raw_fd()).unwrap_or(-1),
            cmdline.as_bytes_with_nul().len() as libc::c_ulong,
            cmdline.as_ptr(),
            flags,
        )
    };
    if r != 0 {
        let e = std::io::Error::last_os_error();
        bail!("kexec_file_load of {} failed: {e} (kernel without kexec support, or a signature policy)", entry.kernel);
    }
    drop((kernel, initrd, img));
    m.unmount()?;
    Ok(entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_default_label() {
        let text = "DEFAULT linux\nTIMEOUT 10\nLABEL rescue\n  KERNEL /boot/vmlinuz-old\nLABEL linux\n  LINUX ../vmlinuz\n  INITRD ../initrd.img\n  APPEND root=UUID=abc console=ttyS0\n";
        assert_eq!(
            default_entry(text),
            Some(Entry {
                kernel: "../vmlinuz".into(),
                initrd: Some("../initrd.img".into()),
                append: "root=UUID=abc console=ttyS0".into()
            })
        );
    }

    #[test]
    fn initrd_in_append_and_first_label_fallback() {
        let text = "label a\nkernel /vmlinuz\nappend initrd=/initrd.img root=/dev/sda1 quiet\n";
        let e = default_entry(text).unwrap();
        assert_eq!(e.initrd.as_deref(), Some("/initrd.img"));
        assert_eq!(e.append, "root=/dev/sda1 quiet");
        assert!(default_entry("DEFAULT x\n").is_none());
        assert_eq!(
            resolve(Path::new("boot/extlinux"), "/boot/vmlinuz"),
            PathBuf::from("boot/vmlinuz")
        );
        assert_eq!(
            resolve(Path::new("boot/extlinux"), "../vmlinuz"),
            PathBuf::from("boot/extlinux/../vmlinuz")
        );
    }
}
