//! extlinux on a mounted filesystem: its configuration, `extlinux --install`, the `.c32`
//! modules the configuration needs; and syslinux's MBR boot code.

use super::conf::{self, RootPolicy};
use crate::fs_in_image::{ImageDir, MAX_BOOT_FILE, MAX_TEXT};
use crate::report::Events;
use anyhow::{bail, Context, Result};
use std::fs::OpenOptions;
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What was done, for logs and tests.
#[derive(Debug, Clone)]
pub struct Installed {
    /// Directory extlinux was installed into, relative to the filesystem root.
    pub dir: PathBuf,
    /// The configuration file, relative to the filesystem root.
    pub config: PathBuf,
    pub generated: bool,
}

pub struct ExtlinuxJob<'a> {
    /// Root of the mounted filesystem that gets the bootloader.
    pub root: &'a Path,
    /// UUID for `root=UUID=`.
    pub root_uuid: &'a str,
    pub policy: RootPolicy,
    pub extra_kargs: Option<&'a str>,
    pub extlinux: &'a Path,
    /// syslinux's BIOS modules (`ldlinux.c32`, `menu.c32`, ...), when known.
    pub modules_dir: Option<&'a Path>,
    pub events: &'a Events,
}

/// Files `extlinux --install` creates in its directory with plain open(2), which would follow
/// a symlink the image put there.
const EXTLINUX_FILES: [&str; 2] = ["ldlinux.sys", "ldlinux.c32"];

impl ExtlinuxJob<'_> {
    /// Write the configuration and run `extlinux --install` in its directory.
    pub fn run(&self) -> Result<Installed> {
        let img = ImageDir::open(self.root)?;
        let (rel, text, generated) = self.config(&img)?;
        let dir_rel = rel.parent().map(Path::to_path_buf).unwrap_or_default();
        let dir = img.subdir(&dir_rel, Some(0o755))?;
        let cfg_rel = dir_rel.join("extlinux.conf");
        dir.write("extlinux.conf", text.as_bytes(), 0o644)?;
        self.events.info(format!(
            "extlinux: {} /{} (root=UUID={})",
            if generated { "generated" } else { "rewrote" },
            cfg_rel.display(),
            self.root_uuid
        ));
        for f in EXTLINUX_FILES {
            if dir.remove_unless_regular(f)? {
                self.events.warn(format!(
                    "extlinux: removed /{}, which was not a regular file",
                    dir_rel.join(f).display()
                ));
            }
        }
        run_extlinux(self.extlinux, &self.root.join(&dir_rel))?;
        for f in EXTLINUX_FILES {
            if !dir.has_regular(f) {
                bail!(
                    "{} --install /{} finished but left no {f}",
                    self.extlinux.display(),
                    dir_rel.display()
                );
            }
        }
        let mut all = text.clone();
        if !generated {
            all.push_str(&self.rewrite_includes(&img, &text, &dir_rel)?);
        }
        self.copy_modules(&img, &dir, &all);
        self.fill_holes(&img, &all, &dir_rel)?;
        Ok(Installed {
            dir: dir_rel,
            config: cfg_rel,
            generated,
        })
    }

    /// The image's own configuration rewritten, or a generated one.
    fn config(&self, img: &ImageDir) -> Result<(PathBuf, String, bool)> {
        for c in conf::CONFIG_CANDIDATES {
            if !img.is_regular(Path::new(c)) {
                continue;
            }
            let raw = img.read(Path::new(c), MAX_TEXT)?;
            let text = String::from_utf8_lossy(&raw);
            self.events
                .info(format!("extlinux: found the image's /{c}"));
            let out = conf::rewrite_config(&text, self.root_uuid, self.policy, self.extra_kargs);
            return Ok((PathBuf::from(c), out, false));
        }
        for (dir, prefix) in [("boot", "/boot/"), ("", "/")] {
            if let Some((k, i)) = conf::find_kernel(img, Path::new(dir)) {
                let kernel = format!("{prefix}{}", k.display());
                let initrd = i.map(|i| format!("{prefix}{}", i.display()));
                if initrd.is_none() {
                    self.events.warn(format!(
                        "extlinux: no initrd beside {kernel}; booting without one"
                    ));
                }
                let text = conf::generate_config(
                    &kernel,
                    initrd.as_deref(),
                    self.root_uuid,
                    self.extra_kargs,
                );
                return Ok((PathBuf::from(conf::DEFAULT_CONFIG), text, true));
            }
        }
        bail!(
            "the installed filesystem has no extlinux/syslinux configuration and no kernel \
             (vmlinuz*) in /boot or /: nothing to boot; use bootloader=none for an image that \
             boots another way"
        )
    }

    /// Rewrite the APPEND lines of files the configuration INCLUDEs (one level; live CDs keep
    /// their boot entries in them). Returns their new text, for module and file lookups.
    fn rewrite_includes(&self, img: &ImageDir, text: &str, dir_rel: &Path) -> Result<String> {
        let mut all = String::new();
        for f in conf::included_files(text) {
            let Some((rel, parent, name)) = resolve(&f, dir_rel) else {
                continue;
            };
            let raw = match img.read(&rel, MAX_TEXT) {
                Ok(raw) => raw,
                Err(e) => {
                    self.events.warn(format!(
                        "extlinux: the configuration includes /{}, which is not read: {e:#}",
                        rel.display()
                    ));
                    continue;
                }
            };
            let old = String::from_utf8_lossy(&raw);
            let new = conf::rewrite_included(&old, self.root_uuid, self.policy, self.extra_kargs);
            if new != old {
                img.subdir(&parent, None)?
                    .write(&name, new.as_bytes(), 0o644)?;
                self.events
                    .info(format!("extlinux: rewrote the included /{}", rel.display()));
            }
            all.push_str(&new);
        }
        Ok(all)
    }

    /// syslinux cannot read files with holes ("I/O error" at boot), and images made with
    /// `mkfs.ext4 -d` or copied with sparse-aware tools have them in kernels and initrds:
    /// rewrite such files densely. Symlinks are left alone.
    fn fill_holes(&self, img: &ImageDir, text: &str, dir_rel: &Path) -> Result<()> {
        for f in conf::referenced_files(text) {
            let Some((rel, parent, name)) = resolve(&f, dir_rel) else {
                continue;
            };
            let missing = || {
                self.events.warn(format!(
                    "extlinux: the configuration loads /{}, which is not in the filesystem",
                    rel.display()
                ))
            };
            let Ok(dir) = img.subdir(&parent, None) else {
                missing();
                continue;
            };
            match dir.lstat(&name) {
                None => {
                    missing();
                    continue;
                }
                Some(st) if st.st_mode & libc::S_IFMT != libc::S_IFREG => continue,
                Some(_) => {}
            }
            let mut src = match dir.open_regular(Path::new(&name), MAX_BOOT_FILE) {
                Ok(f) => f,
                Err(e) => {
                    self.events.warn(format!("extlinux: {e:#}"));
                    continue;
                }
            };
            let meta = src.metadata()?;
            if !is_sparse(&meta) {
                continue;
            }
            dir.write_with(&name, meta.permissions().mode() & 0o7777, |dst| {
                copy_dense(&mut src, dst)
            })
            .with_context(|| format!("cannot rewrite /{} without holes", rel.display()))?;
            self.events.info(format!(
                "extlinux: rewrote /{} without holes (syslinux cannot read sparse files)",
                rel.display()
            ));
        }
        Ok(())
    }

    /// Copy modules the configuration loads from our syslinux, so they match our ldlinux.c32
    /// (a live CD's own menu.c32 from another syslinux version does not load).
    fn copy_modules(&self, img: &ImageDir, dir: &ImageDir, text: &str) {
        let mods = conf::referenced_modules(text);
        if mods.is_empty() {
            return;
        }
        let Some(src) = self.modules_dir else {
            self.events.warn(format!(
                "extlinux: the configuration loads {} and no syslinux modules directory is known",
                mods.join(", ")
            ));
            return;
        };
        let mut wanted = mods.clone();
        // The menu modules' shared libraries.
        for lib in ["libcom32.c32", "libutil.c32"] {
            wanted.push(lib.to_string());
        }
        for m in wanted {
            let from = src.join(&m);
            if !from.is_file() {
                if mods.contains(&m) && !img.is_regular(&dir.rel().join(&m)) {
                    self.events.warn(format!(
                        "extlinux: the configuration loads {m}, which is neither in {} nor in the image",
                        src.display()
                    ));
                }
                continue;
            }
            // Written by name into the directory: a symlink the image put there is replaced.
            match std::fs::read(&from)
                .map_err(anyhow::Error::from)
                .and_then(|b| dir.write(&m, &b, 0o644))
            {
                Ok(_) => self.events.info(format!("extlinux: copied {m}")),
                Err(e) => self
                    .events
                    .warn(format!("extlinux: cannot copy {m}: {e:#}")),
            }
        }
    }
}

/// A path from a configuration, relative to the filesystem root: absolute ones from the root,
/// others from the configuration's directory; with its directory and file name. `None` for
/// `..` and other escapes.
fn resolve(f: &str, dir_rel: &Path) -> Option<(PathBuf, PathBuf, String)> {
    let rel = match f.strip_prefix('/') {
        Some(abs) => PathBuf::from(abs),
        None => dir_rel.join(f),
    };
    if !rel
        .components()
        .all(|c| matches!(c, std::path::Component::Normal(_)))
    {
        return None;
    }
    let name = rel.file_name()?.to_str()?.to_string();
    let parent = rel.parent().unwrap_or(Path::new("")).to_path_buf();
    Some((rel, parent, name))
}

/// Fewer blocks allocated than the size needs.
fn is_sparse(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    meta.blocks().saturating_mul(512) < meta.len()
}

/// Every byte, zeros included, so the copy has no holes (a plain read/write loop: copy
/// offloads may keep holes).
fn copy_dense(src: &mut std::fs::File, dst: &mut std::fs::File) -> std::io::Result<()> {
    use std::io::Read;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = src.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        dst.write_all(&buf[..n])?;
    }
}

fn run_extlinux(bin: &Path, dir: &Path) -> Result<()> {
    let out = Command::new(bin)
        .arg("--install")
        .arg(dir)
        .output()
        .with_context(|| {
            format!(
                "cannot run {} (set extlinux=PATH to the extlinux binary)",
                bin.display()
            )
        })?;
    if !out.status.success() {
        bail!(
            "{} --install {} failed ({}): {}",
            bin.display(),
            dir.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// syslinux's BIOS modules directory beside the MBR directory (`…/mbr` → `…/modules/bios`),
/// when it exists.
pub fn modules_dir_for(mbr_dir: &Path) -> Option<PathBuf> {
    let d = mbr_dir.parent()?.join("modules/bios");
    d.is_dir().then_some(d)
}

/// The boot code file for a table kind.
pub fn mbr_code_path(mbr_dir: &Path, gpt: bool) -> PathBuf {
    mbr_dir.join(if gpt { "gptmbr.bin" } else { "mbr.bin" })
}

/// Read and check a syslinux MBR boot code file (at most 440 bytes).
pub fn read_mbr_code(path: &Path) -> Result<Vec<u8>> {
    let code = std::fs::read(path).with_context(|| {
        format!(
            "cannot read the syslinux boot code {} (set syslinux_mbr_dir to the directory with \
             mbr.bin and gptmbr.bin)",
            path.display()
        )
    })?;
    if code.is_empty() || code.len() > 440 {
        bail!(
            "{} is {} bytes; MBR boot code is at most 440 bytes",
            path.display(),
            code.len()
        );
    }
    Ok(code)
}

/// Write boot code into the first bytes of `disk`; the partition table (from byte 440) stays.
pub fn write_mbr_code(disk: &Path, code: &[u8]) -> Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .open(disk)
        .with_context(|| format!("cannot open {} to write the boot code", disk.display()))?;
    f.seek(SeekFrom::Start(0))?;
    f.write_all(&code[..code.len().min(440)])
        .with_context(|| format!("writing the boot code to {}", disk.display()))?;
    f.sync_all()
        .with_context(|| format!("flushing {}", disk.display()))?;
    Ok(())
}
