//! Writing the config into the installed system: NoCloud seed, CoreOS/Flatcar user_data, or
//! an Ignition config on the OEM/boot partition.

use super::{Config, ConfigKind, ConfigPlan, ConfigTarget};
use crate::boot::sysroot::SystemRoot;
use crate::boot::{locate, mount::MountedFs, PostInstall};
use crate::fs_in_image::ImageDir;
use crate::layout;
use anyhow::{Context, Result};
use std::path::Path;

pub const NOCLOUD_DIR: &str = "var/lib/cloud/seed/nocloud";
pub const COREOS_DIR: &str = "var/lib/coreos-install";
pub const FLATCAR_DIR: &str = "var/lib/flatcar-install";

/// Stage `config`: inject into the installed root filesystem.
pub fn inject(p: &PostInstall, plan: &ConfigPlan, cfg: &Config) -> Result<()> {
    p.target.check_same()?;
    if cfg.kind == ConfigKind::Ignition {
        return inject_ignition(p, plan, cfg);
    }
    let disk = p.target.dev_path.as_path();
    let part = match p.layout {
        Some(l) => locate::rootfs_partition(l),
        None => {
            let table = layout::read_table_at(disk)?;
            locate::find_root(disk, &table, plan.partition, p.events)?.0
        }
    };
    let m = MountedFs::mount(disk, &part, false)?;
    p.events.info(format!(
        "config: installed root filesystem is partition {} of {} ({}, UUID {})",
        part.number,
        disk.display(),
        m.info.kind,
        m.info.uuid
    ));
    // `/` and `/var` of the installed system within this filesystem (btrfs subvolumes).
    let sys = SystemRoot::find(m.root(), &m.info);
    for unseen in sys.iter().flat_map(|s| &s.unreachable) {
        p.events.warn(format!(
            "config: the installed /etc/fstab mounts {unseen} from this filesystem, which \
             rdinstall cannot see from its top; files below it are written into the root"
        ));
    }
    let place = |dir: &str| match &sys {
        Some(s) => {
            let (base, rel) = s.place(dir);
            if base != s.root() {
                p.events.info(format!(
                    "config: /{dir} is in {} (mounted by the installed /etc/fstab)",
                    s.shown(&base)
                ));
            }
            (base, rel)
        }
        // CoreOS/Flatcar: a nearly empty ROOT filesystem, filled on first boot.
        None => (m.root().to_path_buf(), dir.to_string()),
    };
    for t in &plan.targets {
        match t {
            ConfigTarget::Nocloud => {
                let meta = meta_data(p);
                let (base, rel) = place(NOCLOUD_DIR);
                write_private((&base, &rel), NOCLOUD_DIR, "user-data", &cfg.bytes, p)?;
                write_private((&base, &rel), NOCLOUD_DIR, "meta-data", meta.as_bytes(), p)?;
            }
            ConfigTarget::Coreos | ConfigTarget::Flatcar => {
                let dir = match t {
                    ConfigTarget::Coreos => COREOS_DIR,
                    _ => FLATCAR_DIR,
                };
                let (base, rel) = place(dir);
                write_private((&base, &rel), dir, "user_data", &cfg.bytes, p)?;
            }
        }
    }
    m.unmount()?;
    Ok(())
}

/// Where an Ignition config goes, by the label of the partition (filesystem label or GPT
/// name): Flatcar reads `config.ign` at the top of its OEM partition (flatcar-install -i
/// puts it there), Fedora CoreOS `ignition/config.ign` on its boot partition
/// (coreos-installer --ignition-file).
const IGNITION_PLACES: &[(&str, &str)] = &[("OEM", ""), ("boot", "ignition")];

fn inject_ignition(p: &PostInstall, plan: &ConfigPlan, cfg: &Config) -> Result<()> {
    let disk = p.target.dev_path.as_path();
    // Checked in preflight already; a plan from a file is checked again here.
    if p.layout.is_some() {
        cfg.check_image_kind(crate::image::ImageKind::Rootfs)?;
    }
    let table = layout::read_table_at(disk)?;
    let labelled = |part: &layout::Partition, label: &str| {
        let fs = crate::boot::mount::probe_partition(disk, part)
            .ok()
            .flatten();
        locate::has_label(part, fs.as_ref(), label)
    };
    let found = match plan.partition {
        Some(n) => table.partitions.iter().find(|q| q.number == n).map(|q| {
            let dir = IGNITION_PLACES
                .iter()
                .find(|(l, _)| labelled(q, l))
                .map_or("", |(_, d)| *d);
            (q.clone(), dir)
        }),
        None => IGNITION_PLACES.iter().find_map(|(label, dir)| {
            let q = table.partitions.iter().find(|q| labelled(q, label))?;
            Some((q.clone(), *dir))
        }),
    };
    let Some((part, dir)) = found else {
        anyhow::bail!(
            "config {} is an Ignition config, but {} has no partition labelled OEM (Flatcar) or \
             boot (Fedora CoreOS){}; set config_partition to the partition number",
            cfg.source,
            disk.display(),
            plan.partition
                .map(|n| format!(" and no partition {n}"))
                .unwrap_or_default()
        );
    };
    let m = MountedFs::mount(disk, &part, false)?;
    p.events.info(format!(
        "config: Ignition config goes to partition {} of {} ({}, label {})",
        part.number,
        disk.display(),
        m.info.kind,
        m.info.label.as_deref().unwrap_or("none")
    ));
    write_private((m.root(), dir), dir, "config.ign", &cfg.bytes, p)?;
    m.unmount()?;
    Ok(())
}

/// NoCloud meta-data: an instance id unique to this install (so cloud-init runs the config on
/// the first boot of every reinstall) and the hostname when we know a real one.
pub fn meta_data(p: &PostInstall) -> String {
    let mut s = format!("instance-id: iid-rdinstall-{}\n", instance_suffix(p));
    if let Some(h) = p.machine.hostname.as_deref().filter(|h| valid_hostname(h)) {
        s.push_str(&format!("local-hostname: {h}\n"));
    }
    s
}

fn instance_suffix(p: &PostInstall) -> String {
    let id: String = p
        .install_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    if !id.is_empty() {
        return id;
    }
    // No install id: derive one from the machine so it is stable per machine at least.
    p.machine
        .uuid
        .clone()
        .or_else(|| p.machine.mac.as_ref().map(|m| m.replace(':', "")))
        .unwrap_or_else(|| "unknown".into())
}

/// A hostname safe to write unquoted into YAML, and not the ramdisk's placeholder.
fn valid_hostname(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 253
        && h != "localhost"
        && h != "(none)"
        && h.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && !h.chars().all(|c| c.is_ascii_digit() || c == '.')
}

/// Write `/dir/name` of the installed system: directories we create are 0700, the file 0600, written to a
/// temporary name and renamed so a failure never leaves half a file. Says when it replaces.
/// `at` is where `/dir` of the installed system is: a directory of the mounted filesystem and
/// the path below it (see `SystemRoot::place`).
fn write_private(
    at: (&Path, &str),
    dir: &str,
    name: &str,
    data: &[u8],
    p: &PostInstall,
) -> Result<()> {
    let (base, rel) = at;
    // `base` is the filesystem's top or a subvolume found below it without following a
    // link; below it, nothing the image planted is followed (see fs_in_image).
    let top = ImageDir::open(base)?;
    let d = if rel.is_empty() {
        // At the top of a filesystem (Flatcar's OEM partition) its mode stays as it is.
        top
    } else {
        let d = top
            .subdir(Path::new(rel), Some(0o700))
            .with_context(|| format!("cannot create /{dir} in the installed system"))?;
        // The leaf directory holds the secret: tighten it even when the image brought it.
        d.set_mode(0o700)?;
        d
    };
    let shown = if dir.is_empty() {
        format!("/{name}")
    } else {
        format!("/{dir}/{name}")
    };
    if d.lstat(name).is_some() {
        p.events
            .info(format!("config: replacing the image's existing {shown}"));
    }
    d.write(name, data, 0o600)
        .with_context(|| format!("cannot write {shown}"))?;
    p.events.info(format!(
        "config: wrote {shown} ({} bytes, mode 0600)",
        data.len()
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames() {
        assert!(valid_hostname("node-1.example.com"));
        assert!(!valid_hostname("localhost"));
        assert!(!valid_hostname("a b"));
        assert!(!valid_hostname("x: y"));
        assert!(!valid_hostname("10.0.0.1"));
        assert!(!valid_hostname("-bad"));
    }
}
