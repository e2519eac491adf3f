//! extlinux on a mounted filesystem: its configuration, `extlinux --install`, the `.c32`
//! modules the configuration needs; and syslinux's MBR boot code.

use super::conf::{self, RootPolicy};
use super::mount::check_no_symlinks;
use crate::report::Events;
use anyhow::{bail, Context, Result};
use std::fs::OpenOptions;
use std::io::{Seek, SeekFrom, Write};
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

impl ExtlinuxJob<'_> {
    /// Write the configuration and run `extlinux --install` in its directory.
    pub fn run(&self) -> Result<Installed> {
        let (rel, text, generated) = self.config()?;
        let dir_rel = rel.parent().map(Path::to_path_buf).unwrap_or_default();
        check_no_symlinks(self.root, &dir_rel)?;
        let dir = self.root.join(&dir_rel);
        std::fs::create_dir_all(&dir).with_context(|| {
            format!(
                "cannot create /{} in the installed system",
                dir_rel.display()
            )
        })?;
        let cfg = dir.join("extlinux.conf");
        let cfg_rel = dir_rel.join("extlinux.conf");
        write_file(&cfg, text.as_bytes())
            .with_context(|| format!("cannot write /{}", cfg_rel.display()))?;
        self.events.info(format!(
            "extlinux: {} /{} (root=UUID={})",
            if generated { "generated" } else { "rewrote" },
            cfg_rel.display(),
            self.root_uuid
        ));
        run_extlinux(self.extlinux, &dir)?;
        for f in ["ldlinux.sys", "ldlinux.c32"] {
            if !dir.join(f).is_file() {
                bail!(
                    "{} --install {} finished but left no {f}",
                    self.extlinux.display(),
                    dir.display()
                );
            }
        }
        let mut all = text.clone();
        if !generated {
            all.push_str(&self.rewrite_includes(&text, &dir_rel)?);
        }
        self.copy_modules(&all, &dir);
        self.fill_holes(&all, &dir_rel)?;
        Ok(Installed {
            dir: dir_rel,
            config: cfg_rel,
            generated,
        })
    }

    /// The image's own configuration rewritten, or a generated one.
    fn config(&self) -> Result<(PathBuf, String, bool)> {
        for c in conf::CONFIG_CANDIDATES {
            let p = self.root.join(c);
            let Ok(meta) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            if !meta.is_file() {
                continue;
            }
            let raw = std::fs::read(&p).with_context(|| format!("cannot read /{c}"))?;
            let text = String::from_utf8_lossy(&raw);
            self.events
                .info(format!("extlinux: found the image's /{c}"));
            let out = conf::rewrite_config(&text, self.root_uuid, self.policy, self.extra_kargs);
            return Ok((PathBuf::from(c), out, false));
        }
        for (dir, prefix) in [("boot", "/boot/"), ("", "/")] {
            if let Some((k, i)) = conf::find_kernel(&self.root.join(dir)) {
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
    fn rewrite_includes(&self, text: &str, dir_rel: &Path) -> Result<String> {
        let mut all = String::new();
        for f in conf::included_files(text) {
            let Some(rel) = resolve(&f, dir_rel) else {
                continue;
            };
            let p = self.root.join(&rel);
            match std::fs::symlink_metadata(&p) {
                Ok(m) if m.is_file() => {}
                _ => {
                    self.events.warn(format!(
                        "extlinux: the configuration includes /{}, which is not a regular file",
                        rel.display()
                    ));
                    continue;
                }
            }
            check_no_symlinks(self.root, &rel)?;
            let raw =
                std::fs::read(&p).with_context(|| format!("cannot read /{}", rel.display()))?;
            let old = String::from_utf8_lossy(&raw);
            let new = conf::rewrite_included(&old, self.root_uuid, self.policy, self.extra_kargs);
            if new != old {
                write_file(&p, new.as_bytes())
                    .with_context(|| format!("cannot write /{}", rel.display()))?;
                self.events
                    .info(format!("extlinux: rewrote the included /{}", rel.display()));
            }
            all.push_str(&new);
        }
        Ok(all)
    }

    /// syslinux cannot read files with holes ("I/O error" at boot), and images made with
    /// `mkfs.ext4 -d` or copied with sparse-aware tools have them in kernels and initrds:
    /// rewrite such files densely.
    fn fill_holes(&self, text: &str, dir_rel: &Path) -> Result<()> {
        for f in conf::referenced_files(text) {
            let Some(rel) = resolve(&f, dir_rel) else {
                continue;
            };
            let p = self.root.join(&rel);
            let Ok(meta) = std::fs::symlink_metadata(&p) else {
                self.events.warn(format!(
                    "extlinux: the configuration loads /{}, which is not in the filesystem",
                    rel.display()
                ));
                continue;
            };
            if !meta.is_file() || !is_sparse(&meta) {
                continue;
            }
            check_no_symlinks(self.root, &rel)?;
            densify(&p)
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
    fn copy_modules(&self, text: &str, dir: &Path) {
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
                if mods.contains(&m) && !dir.join(&m).is_file() {
                    self.events.warn(format!(
                        "extlinux: the configuration loads {m}, which is neither in {} nor in the image",
                        src.display()
                    ));
                }
                continue;
            }
            match std::fs::copy(&from, dir.join(&m)) {
                Ok(_) => self.events.info(format!("extlinux: copied {m}")),
                Err(e) => self.events.warn(format!("extlinux: cannot copy {m}: {e}")),
            }
        }
    }
}

/// A path from a configuration, relative to the filesystem root: absolute ones from the root,
/// others from the configuration's directory. `None` for `..` and other escapes.
fn resolve(f: &str, dir_rel: &Path) -> Option<PathBuf> {
    let rel = match f.strip_prefix('/') {
        Some(abs) => PathBuf::from(abs),
        None => dir_rel.join(f),
    };
    rel.components()
        .all(|c| matches!(c, std::path::Component::Normal(_)))
        .then_some(rel)
}

/// Fewer blocks allocated than the size needs.
fn is_sparse(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    meta.blocks().saturating_mul(512) < meta.len()
}

/// Copy `p` to a temporary file beside it writing every byte (zeros included), then rename
/// it over the original, keeping the mode.
fn densify(p: &Path) -> std::io::Result<()> {
    use std::io::Read;
    let tmp = temp_beside(p);
    let _ = std::fs::remove_file(&tmp);
    let mut src = std::fs::File::open(p)?;
    let mode = src.metadata()?.permissions();
    let mut dst = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
    let mut buf = vec![0u8; 1 << 20];
    let res = (|| {
        loop {
            let n = src.read(&mut buf)?;
            if n == 0 {
                break;
            }
            dst.write_all(&buf[..n])?;
        }
        dst.set_permissions(mode)?;
        dst.sync_all()?;
        std::fs::rename(&tmp, p)
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

/// A temporary name beside `p` for write-then-rename.
fn temp_beside(p: &Path) -> PathBuf {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    p.with_file_name(format!(".{name}.rdinstall-tmp"))
}

/// Write `data` to `p` by creating a new file beside it and renaming it over `p`: a symlink
/// the image put at `p` is replaced, never followed out of the filesystem.
fn write_file(p: &Path, data: &[u8]) -> std::io::Result<()> {
    let tmp = temp_beside(p);
    let _ = std::fs::remove_file(&tmp);
    let res = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        std::fs::rename(&tmp, p)
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
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
