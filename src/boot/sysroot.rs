//! Where the installed system's `/` (and its `/var`) lie inside its mounted root filesystem.
//!
//! Usually the top of the filesystem is `/`. btrfs images keep `/` in a subvolume instead
//! (Fedora: `root`; Ubuntu and Debian installers: `@`) and often `/var` in another one
//! (Fedora: `var`), mounted at boot by `subvol=` entries in the system's `/etc/fstab`. A file
//! meant for the first boot (the NoCloud seed under /var/lib/cloud) must land where the
//! booted system will see it, so the path is resolved the way that fstab mounts it.

use super::fsprobe::{FsInfo, FsKind};
use super::mount::has_root_layout;
use crate::fs_in_image::{ImageDir, MAX_TEXT};
use std::path::{Path, PathBuf};

/// Subvolumes tried first for `/` when the top of a btrfs filesystem is not `/` itself; any
/// other top-level directory with a root layout is taken after them.
const ROOT_SUBVOLUMES: &[&str] = &["root", "@", "@rootfs"];

#[derive(Debug)]
pub struct SystemRoot {
    top: PathBuf,
    /// The system's `/`, below `top`.
    root: PathBuf,
    /// Mount points (absolute, no trailing slash) of subvolumes of this filesystem, and the
    /// subvolume's directory below `top`.
    subvolumes: Vec<(String, PathBuf)>,
    /// fstab entries naming subvolumes of this filesystem that are not directories below
    /// `top` (e.g. relative to a default subvolume we did not mount): reported, not used.
    pub unreachable: Vec<String>,
}

impl SystemRoot {
    /// Finds `/` below `top` (the mounted filesystem `fs`); `None` when nothing there looks
    /// like an installed root.
    pub fn find(top: &Path, fs: &FsInfo) -> Option<SystemRoot> {
        let root = if has_root_layout(top) {
            top.to_path_buf()
        } else if fs.kind == FsKind::Btrfs {
            root_subvolume(top)?
        } else {
            return None;
        };
        // The image's fstab: a FIFO, a device or a link out of the image reads as none.
        let fstab = ImageDir::open(&root)
            .and_then(|r| r.read(Path::new("etc/fstab"), MAX_TEXT))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let mut subvolumes = Vec::new();
        let mut unreachable = Vec::new();
        if fs.kind == FsKind::Btrfs {
            for (mount_point, subvol) in subvolume_mounts(&fstab, fs) {
                let dir = top.join(&subvol);
                if real_dir(top, Path::new(&subvol)) {
                    subvolumes.push((mount_point, dir));
                } else {
                    unreachable.push(format!("{mount_point} (subvol={subvol})"));
                }
            }
        }
        Some(SystemRoot {
            top: top.to_path_buf(),
            root,
            subvolumes,
            unreachable,
        })
    }

    /// The system's `/`, as a path below the mount point.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where `path` (absolute, in the installed system) is: the directory of the filesystem
    /// that will be mounted over it at boot (the longest matching mount point), and `path`
    /// relative to that directory.
    pub fn place(&self, path: &str) -> (PathBuf, String) {
        let path = path.trim_start_matches('/');
        let best = self
            .subvolumes
            .iter()
            .filter(|(mp, _)| mp != "/")
            .filter_map(|(mp, dir)| {
                let mp = mp.trim_start_matches('/');
                let rest = path.strip_prefix(mp)?;
                (rest.is_empty() || rest.starts_with('/')).then_some((mp.len(), dir, rest))
            })
            .max_by_key(|(len, _, _)| *len);
        match best {
            Some((_, dir, rest)) => (dir.clone(), rest.trim_start_matches('/').to_string()),
            None => (self.root.clone(), path.to_string()),
        }
    }

    /// `dir` shown relative to the filesystem's top, for messages.
    pub fn shown(&self, dir: &Path) -> String {
        match dir.strip_prefix(&self.top) {
            Ok(p) if p.as_os_str().is_empty() => "the top of the filesystem".into(),
            Ok(p) => format!("subvolume {}", p.display()),
            Err(_) => dir.display().to_string(),
        }
    }
}

fn root_subvolume(top: &Path) -> Option<PathBuf> {
    for name in ROOT_SUBVOLUMES {
        let p = top.join(name);
        if real_dir(top, Path::new(name)) && has_root_layout(&p) {
            return Some(p);
        }
    }
    // Directories only: a symlink here could point out of the image (into the ramdisk).
    let mut others: Vec<PathBuf> = std::fs::read_dir(top)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    others.sort();
    others.into_iter().find(|p| has_root_layout(p))
}

/// `rel` is a directory below `top` reached without following a symlink.
fn real_dir(top: &Path, rel: &Path) -> bool {
    ImageDir::open(top).is_ok_and(|t| t.subdir(rel, None).is_ok())
}

/// `(mount point, subvolume path)` for each fstab line that mounts a subvolume of `fs`
/// (named by UUID= or LABEL=, or their /dev/disk/by-* links) with `subvol=`.
fn subvolume_mounts(fstab: &str, fs: &FsInfo) -> Vec<(String, String)> {
    let is_ours = |spec: &str| {
        let uuid = spec
            .strip_prefix("UUID=")
            .or_else(|| spec.strip_prefix("/dev/disk/by-uuid/"));
        let label = spec
            .strip_prefix("LABEL=")
            .or_else(|| spec.strip_prefix("/dev/disk/by-label/"));
        match (uuid, label) {
            (Some(u), _) => u.trim_matches('"').eq_ignore_ascii_case(&fs.uuid),
            (_, Some(l)) => fs.label.as_deref() == Some(l.trim_matches('"')),
            _ => false,
        }
    };
    let mut out = Vec::new();
    for line in fstab.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 4 || fields[0].starts_with('#') || !is_ours(fields[0]) {
            continue;
        }
        let mount_point = fields[1].trim_end_matches('/');
        let subvol = fields[3]
            .split(',')
            .find_map(|o| o.strip_prefix("subvol="))
            .map(|s| s.trim_matches('/'));
        if let Some(sv) = subvol.filter(|s| !s.is_empty() && !s.split('/').any(|c| c == "..")) {
            let mp = if mount_point.is_empty() {
                "/"
            } else {
                mount_point
            };
            out.push((mp.to_string(), sv.to_string()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn btrfs(uuid: &str, label: Option<&str>) -> FsInfo {
        FsInfo {
            kind: FsKind::Btrfs,
            uuid: uuid.into(),
            label: label.map(String::from),
        }
    }

    const FEDORA_FSTAB: &str = "\
# /etc/fstab
UUID=4f1e6d2a-0000-4000-8000-000000000001 / btrfs subvol=root,compress=zstd:1 0 0
UUID=11111111-2222-3333-4444-555555555555 /boot ext4 defaults 1 2
UUID=4F1E6D2A-0000-4000-8000-000000000001 /home btrfs subvol=home,compress=zstd:1 0 0
UUID=4f1e6d2a-0000-4000-8000-000000000001 /var btrfs subvol=/var,compress=zstd:1 0 0
LABEL=other /var/lib/cloud btrfs subvol=cloud 0 0
";

    #[test]
    fn fstab_subvolumes_of_this_filesystem_only() {
        let fs = btrfs("4f1e6d2a-0000-4000-8000-000000000001", Some("fedora"));
        assert_eq!(
            subvolume_mounts(FEDORA_FSTAB, &fs),
            vec![
                ("/".to_string(), "root".to_string()),
                ("/home".to_string(), "home".to_string()),
                ("/var".to_string(), "var".to_string()),
            ]
        );
        let by_label = "LABEL=fedora /var btrfs rw,subvol=@var 0 0\n\
                        /dev/disk/by-label/fedora /srv btrfs subvol=../../etc 0 0\n";
        assert_eq!(
            subvolume_mounts(by_label, &fs),
            vec![("/var".to_string(), "@var".to_string())]
        );
    }

    #[test]
    fn places_paths_in_the_subvolume_mounted_over_them() {
        let d = tempfile::tempdir().unwrap();
        let top = d.path();
        for p in ["root/etc", "root/usr", "root/var", "var/lib", "home"] {
            std::fs::create_dir_all(top.join(p)).unwrap();
        }
        std::fs::write(top.join("root/etc/fstab"), FEDORA_FSTAB).unwrap();
        let fs = btrfs("4f1e6d2a-0000-4000-8000-000000000001", Some("fedora"));
        let s = SystemRoot::find(top, &fs).unwrap();
        assert_eq!(s.root(), top.join("root"));
        assert_eq!(
            s.place("/var/lib/cloud/seed/nocloud"),
            (top.join("var"), "lib/cloud/seed/nocloud".to_string())
        );
        assert_eq!(s.place("/etc/x"), (top.join("root"), "etc/x".to_string()));
        assert_eq!(s.place("/variant"), (top.join("root"), "variant".into()));
        assert_eq!(s.shown(&top.join("var")), "subvolume var");

        // The same layout on ext4 is not searched for subvolumes.
        let ext4 = FsInfo {
            kind: FsKind::Ext4,
            ..fs.clone()
        };
        assert!(SystemRoot::find(top, &ext4).is_none());

        // A subvolume fstab names but that is not below the mount: reported, not used; nor
        // is one that is a symlink (it could lead out of the image).
        std::fs::remove_dir_all(top.join("home")).unwrap();
        std::fs::remove_dir_all(top.join("var")).unwrap();
        std::os::unix::fs::symlink("/var", top.join("var")).unwrap();
        let s = SystemRoot::find(top, &fs).unwrap();
        assert_eq!(
            s.unreachable,
            vec![
                "/home (subvol=home)".to_string(),
                "/var (subvol=var)".to_string()
            ]
        );
        assert_eq!(s.place("/var/x"), (top.join("root"), "var/x".to_string()));

        // A root subvolume that is a symlink is not followed.
        std::fs::rename(top.join("root"), top.join("elsewhere")).unwrap();
        std::os::unix::fs::symlink(top.join("elsewhere"), top.join("root")).unwrap();
        std::fs::create_dir_all(top.join("@")).unwrap();
        let s = SystemRoot::find(top, &fs).unwrap();
        assert_eq!(
            s.root(),
            top.join("elsewhere"),
            "found as a plain directory"
        );
    }

    #[test]
    fn plain_root_at_the_top() {
        let d = tempfile::tempdir().unwrap();
        for p in ["etc", "usr"] {
            std::fs::create_dir_all(d.path().join(p)).unwrap();
        }
        let s = SystemRoot::find(d.path(), &btrfs("x", None)).unwrap();
        assert_eq!(s.root(), d.path());
        assert_eq!(
            s.place("/var/lib/cloud"),
            (d.path().to_path_buf(), "var/lib/cloud".to_string())
        );
    }
}
