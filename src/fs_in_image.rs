//! Files inside a mounted image filesystem. Every path, link and file there is the image's
//! choice, and rdinstall runs as root in the ramdisk: a symlink `boot/extlinux/menu.c32 ->
//! /init` must not make us overwrite our own ramdisk, an `etc/fstab` that is a FIFO or a
//! link to `/dev/zero` must not hang us or fill memory. So, for everything below a mount:
//!
//! - reads resolve inside the filesystem: `openat2(RESOLVE_IN_ROOT)` makes `/` and `..` stop
//!   at its top, as they would for the booted system. Kernels before 5.6 (ENOSYS) get a walk
//!   one component at a time with `O_NOFOLLOW`, which refuses symlinks instead;
//! - writes and the directories they go into never follow a symlink: each component is
//!   opened with `O_NOFOLLOW | O_DIRECTORY` from its parent's descriptor (the equivalent of
//!   `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`, on every kernel), and files are created under a
//!   temporary name with `O_EXCL` and renamed over the target, which replaces a symlink
//!   there instead of writing through it;
//! - only regular files are read (opened `O_NONBLOCK`, so a FIFO cannot block the open, then
//!   checked with fstat), and only up to a size cap.

use anyhow::{bail, Context, Result};
use std::ffi::CString;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// Cap for configuration text read from an image (extlinux.conf, its includes, fstab).
pub const MAX_TEXT: u64 = 1 << 20;
/// Cap for a kernel or initrd loaded from an image.
pub const MAX_BOOT_FILE: u64 = 512 << 20;

/// A directory of a mounted image filesystem (its top, or one found below it without
/// following a symlink). Paths given to its methods are relative to it.
#[derive(Debug)]
pub struct ImageDir {
    fd: OwnedFd,
    /// Where it is below the filesystem's top, for messages (`/` for the top).
    shown: PathBuf,
}

/// How `rel` is written in messages: `/boot/extlinux/menu.c32`.
fn shown(base: &Path, rel: &Path) -> String {
    let p = Path::new("/").join(base);
    let p = if rel.as_os_str().is_empty() {
        p
    } else {
        p.join(rel)
    };
    p.display().to_string()
}

fn cstr(p: &Path) -> Result<CString> {
    CString::new(p.as_os_str().as_bytes()).with_context(|| format!("{} holds a NUL", p.display()))
}

fn check(rc: libc::c_int) -> std::io::Result<libc::c_int> {
    if rc < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// `openat(dir, name, flags)` for one path component.
fn openat(dir: RawFd, name: &Path, flags: libc::c_int, mode: u32) -> std::io::Result<OwnedFd> {
    let c = CString::new(name.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    let fd = check(unsafe { libc::openat(dir, c.as_ptr(), flags | libc::O_CLOEXEC, mode) })?;
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `rel` as plain names: `/` and `.` dropped, `..` taking one name back but never above the
/// top (what RESOLVE_IN_ROOT does with them too).
pub fn normalize(rel: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in rel.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// Names only, for writes: a `..` or `/` there is refused, not interpreted.
fn plain_names(rel: &Path) -> Result<Vec<&std::ffi::OsStr>> {
    rel.components()
        .map(|c| match c {
            Component::Normal(n) => Ok(n),
            _ => bail!("{} is not a plain path below the filesystem", rel.display()),
        })
        .collect()
}

/// openat2(2) with RESOLVE_IN_ROOT; `None` when the kernel lacks the call.
fn openat2_in_root(
    dir: &ImageDir,
    rel: &Path,
    flags: libc::c_int,
) -> Option<std::io::Result<OwnedFd>> {
    let c = match cstr(rel) {
        Ok(c) => c,
        Err(_) => return Some(Err(std::io::Error::from_raw_os_error(libc::EINVAL))),
    };
    // libc marks the struct non-exhaustive (the kernel may grow it): zeroed, then filled.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (flags | libc::O_CLOEXEC) as u64;
    how.resolve = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS | libc::RESOLVE_NO_XDEV;
    let rc = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir.fd.as_raw_fd(),
            c.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    if rc < 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ENOSYS) {
            return None;
        }
        return Some(Err(e));
    }
    Some(Ok(unsafe { OwnedFd::from_raw_fd(rc as libc::c_int) }))
}

/// The fallback: one component at a time, no symlink followed (ELOOP or ENOTDIR for one).
fn walk_nofollow(dir: &ImageDir, rel: &Path, flags: libc::c_int) -> std::io::Result<OwnedFd> {
    let names: Vec<_> = rel.components().collect();
    let Some((last, parents)) = names.split_last() else {
        return openat(dir.fd.as_raw_fd(), Path::new("."), flags, 0);
    };
    let mut cur: Option<OwnedFd> = None;
    for c in parents {
        let at = cur.as_ref().map_or(dir.fd.as_raw_fd(), |f| f.as_raw_fd());
        let next = openat(
            at,
            Path::new(c.as_os_str()),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
            0,
        )?;
        cur = Some(next);
    }
    let at = cur.as_ref().map_or(dir.fd.as_raw_fd(), |f| f.as_raw_fd());
    openat(at, Path::new(last.as_os_str()), flags | libc::O_NOFOLLOW, 0)
}

fn fstat(fd: &impl AsRawFd) -> std::io::Result<libc::stat> {
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    check(unsafe { libc::fstat(fd.as_raw_fd(), &mut st) })?;
    Ok(st)
}

fn kind(mode: libc::mode_t) -> &'static str {
    match mode & libc::S_IFMT {
        libc::S_IFREG => "a regular file",
        libc::S_IFDIR => "a directory",
        libc::S_IFLNK => "a symlink",
        libc::S_IFIFO => "a FIFO",
        libc::S_IFCHR => "a character device",
        libc::S_IFBLK => "a block device",
        libc::S_IFSOCK => "a socket",
        _ => "of unknown type",
    }
}

impl ImageDir {
    /// The top of a mounted filesystem (a directory rdinstall made and mounted on).
    pub fn open(top: &Path) -> Result<ImageDir> {
        let fd = openat(
            libc::AT_FDCWD,
            top,
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW,
            0,
        )
        .with_context(|| format!("cannot open {}", top.display()))?;
        Ok(ImageDir {
            fd,
            shown: PathBuf::new(),
        })
    }

    fn open_in_root(&self, rel: &Path, flags: libc::c_int) -> std::io::Result<OwnedFd> {
        let mut rel = normalize(rel);
        if rel.as_os_str().is_empty() {
            rel.push(".");
        }
        match openat2_in_root(self, &rel, flags) {
            Some(r) => r,
            None => walk_nofollow(self, &rel, flags),
        }
    }

    /// `rel` opened for reading: a regular file of at most `cap` bytes, reached without
    /// leaving the filesystem.
    pub fn open_regular(&self, rel: &Path, cap: u64) -> Result<File> {
        let what = shown(&self.shown, rel);
        let fd = self
            .open_in_root(rel, libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ELOOP | libc::EXDEV) => anyhow::anyhow!(
                    "{what} in the image is reached through a symlink rdinstall does not follow \
                     ({e})"
                ),
                _ => anyhow::Error::new(e).context(format!("cannot open {what} in the image")),
            })?;
        let st = fstat(&fd).with_context(|| format!("cannot stat {what}"))?;
        if st.st_mode & libc::S_IFMT != libc::S_IFREG {
            bail!(
                "{what} in the image is {}, not a regular file; refusing to read it",
                kind(st.st_mode)
            );
        }
        if st.st_size as u64 > cap {
            bail!(
                "{what} in the image is {} bytes, more than the {cap} rdinstall reads",
                st.st_size
            );
        }
        // Back to blocking reads (a regular file never blocks, but be plain about it).
        let fl = check(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) })?;
        check(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, fl & !libc::O_NONBLOCK) })?;
        Ok(File::from(fd))
    }

    /// The contents of regular file `rel`, at most `cap` bytes (also if it grows meanwhile).
    pub fn read(&self, rel: &Path, cap: u64) -> Result<Vec<u8>> {
        let f = self.open_regular(rel, cap)?;
        let mut v = Vec::new();
        f.take(cap + 1)
            .read_to_end(&mut v)
            .with_context(|| format!("cannot read {}", shown(&self.shown, rel)))?;
        if v.len() as u64 > cap {
            bail!(
                "{} in the image grew past {cap} bytes",
                shown(&self.shown, rel)
            );
        }
        Ok(v)
    }

    /// `rel` is a regular file, reached without leaving the filesystem.
    pub fn is_regular(&self, rel: &Path) -> bool {
        self.open_in_root(rel, libc::O_PATH)
            .and_then(|fd| fstat(&fd))
            .is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFREG)
    }

    /// Names of the regular files (not symlinks) in directory `rel`, unsorted; empty when it
    /// is not there.
    pub fn regular_files_in(&self, rel: &Path) -> Vec<String> {
        let Ok(fd) = self.open_in_root(rel, libc::O_RDONLY | libc::O_DIRECTORY) else {
            return Vec::new();
        };
        let Ok(mut dir) = nix::dir::Dir::from_fd(fd.into_raw_fd()) else {
            return Vec::new();
        };
        let dfd = dir.as_raw_fd();
        let mut out = Vec::new();
        for e in dir.iter().flatten() {
            let name = e.file_name();
            if matches!(name.to_bytes(), b"." | b"..") {
                continue;
            }
            let path = Path::new(std::ffi::OsStr::from_bytes(name.to_bytes()));
            let regular =
                lstat_at(dfd, path).is_some_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFREG);
            if let (true, Ok(n)) = (regular, name.to_str()) {
                out.push(n.to_string());
            }
        }
        out
    }

    /// Directory `rel` below this one, every component a real directory (a symlink is
    /// refused, not followed). With `create`, missing ones are made with that mode.
    pub fn subdir(&self, rel: &Path, create: Option<u32>) -> Result<ImageDir> {
        let mut cur = openat(
            self.fd.as_raw_fd(),
            Path::new("."),
            libc::O_RDONLY | libc::O_DIRECTORY,
            0,
        )?;
        let mut at = self.shown.clone();
        for name in plain_names(rel)? {
            at.push(name);
            let c = CString::new(name.as_bytes())?;
            if let Some(mode) = create {
                let rc = unsafe { libc::mkdirat(cur.as_raw_fd(), c.as_ptr(), mode) };
                let e = std::io::Error::last_os_error();
                if rc < 0 && e.raw_os_error() != Some(libc::EEXIST) {
                    return Err(e).with_context(|| {
                        format!("cannot create {} in the image", shown(&at, Path::new("")))
                    });
                }
            }
            let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW;
            cur = openat(cur.as_raw_fd(), Path::new(name), flags, 0).map_err(|e| {
                let what = shown(&at, Path::new(""));
                match lstat_at(cur.as_raw_fd(), Path::new(name)) {
                    Some(st) if st.st_mode & libc::S_IFMT != libc::S_IFDIR => anyhow::anyhow!(
                        "{what} in the image is {}, not a directory; refusing to write through it",
                        kind(st.st_mode)
                    ),
                    _ => anyhow::Error::new(e).context(format!("cannot open {what} in the image")),
                }
            })?;
        }
        Ok(ImageDir { fd: cur, shown: at })
    }

    /// Where this directory is below the filesystem's top (empty for the top).
    pub fn rel(&self) -> &Path {
        &self.shown
    }

    /// chmod of this directory itself.
    pub fn set_mode(&self, mode: u32) -> Result<()> {
        check(unsafe { libc::fchmod(self.fd.as_raw_fd(), mode) }).with_context(|| {
            format!(
                "cannot set the mode of {}",
                shown(&self.shown, Path::new(""))
            )
        })?;
        Ok(())
    }

    /// `name` in this directory is a regular file itself (not a symlink to one).
    pub fn has_regular(&self, name: &str) -> bool {
        self.lstat(name)
            .is_some_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFREG)
    }

    /// What is at `name` in this directory, without following a symlink.
    pub fn lstat(&self, name: &str) -> Option<libc::stat> {
        lstat_at(self.fd.as_raw_fd(), Path::new(name))
    }

    /// Replace `name` in this directory with a new regular file of mode `mode`, its contents
    /// written by `fill`: created under a temporary name (O_EXCL, so never through a link),
    /// synced, renamed over `name` (replacing a symlink there, not following it).
    pub fn write_with(
        &self,
        name: &str,
        mode: u32,
        fill: impl FnOnce(&mut File) -> std::io::Result<()>,
    ) -> Result<()> {
        let what = shown(&self.shown, Path::new(name));
        if name.is_empty() || name.contains('/') || name == "." || name == ".." {
            bail!("{what}: not a file name");
        }
        let tmp = format!(".{name}.rdinstall-tmp");
        let ctmp = CString::new(tmp.as_bytes())?;
        let cname = CString::new(name.as_bytes())?;
        let dfd = self.fd.as_raw_fd();
        unsafe { libc::unlinkat(dfd, ctmp.as_ptr(), 0) };
        let fd = openat(
            dfd,
            Path::new(&tmp),
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW,
            mode,
        )
        .with_context(|| format!("cannot create {what} in the image"))?;
        let mut f = File::from(fd);
        let res = fill(&mut f)
            .and_then(|_| check(unsafe { libc::fchmod(f.as_fd().as_raw_fd(), mode) }).map(drop))
            .and_then(|_| f.sync_all())
            .and_then(|_| {
                check(unsafe { libc::renameat(dfd, ctmp.as_ptr(), dfd, cname.as_ptr()) }).map(drop)
            });
        if res.is_err() {
            unsafe { libc::unlinkat(dfd, ctmp.as_ptr(), 0) };
        }
        res.with_context(|| format!("cannot write {what} in the image"))
    }

    /// `write_with` for bytes in memory.
    pub fn write(&self, name: &str, data: &[u8], mode: u32) -> Result<()> {
        self.write_with(name, mode, |f| f.write_all(data))
    }

    /// Make room for a program that will create `name` here with a plain open(2) (which
    /// follows symlinks): whatever is there and is not a regular file is removed; a directory
    /// is refused. True when something was removed.
    pub fn remove_unless_regular(&self, name: &str) -> Result<bool> {
        let what = shown(&self.shown, Path::new(name));
        let Some(st) = self.lstat(name) else {
            return Ok(false);
        };
        match st.st_mode & libc::S_IFMT {
            libc::S_IFREG => Ok(false),
            libc::S_IFDIR => bail!("{what} in the image is a directory; refusing to replace it"),
            _ => {
                let c = CString::new(name.as_bytes())?;
                check(unsafe { libc::unlinkat(self.fd.as_raw_fd(), c.as_ptr(), 0) })
                    .with_context(|| format!("cannot remove {what} ({})", kind(st.st_mode)))?;
                Ok(true)
            }
        }
    }
}

fn lstat_at(dir: RawFd, name: &Path) -> Option<libc::stat> {
    let c = CString::new(name.as_os_str().as_bytes()).ok()?;
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::fstatat(dir, c.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) };
    (rc == 0).then_some(st)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A fake image tree and, beside it, a host file it must never reach.
    fn tree() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let top = d.path().join("top");
        let host = d.path().join("host-secret");
        std::fs::write(&host, "host").unwrap();
        std::fs::create_dir_all(top.join("boot/extlinux")).unwrap();
        std::fs::create_dir_all(top.join("etc")).unwrap();
        std::fs::write(top.join("boot/vmlinuz-1"), "kernel").unwrap();
        symlink("vmlinuz-1", top.join("boot/vmlinuz")).unwrap();
        symlink("/boot/vmlinuz-1", top.join("vmlinuz")).unwrap();
        symlink(&host, top.join("etc/fstab")).unwrap();
        symlink("/dev/zero", top.join("etc/zero")).unwrap();
        nix::unistd::mkfifo(&top.join("etc/fifo"), nix::sys::stat::Mode::S_IRWXU).unwrap();
        symlink(d.path(), top.join("out")).unwrap();
        (d, top, host)
    }

    #[test]
    fn reads_stay_inside() {
        let (_d, top, _host) = tree();
        let root = ImageDir::open(&top).unwrap();
        let rd = |p: &str| root.read(Path::new(p), MAX_TEXT);
        assert_eq!(rd("boot/vmlinuz-1").unwrap(), b"kernel");
        // Symlinks within the image resolve within it (an absolute one from its top).
        assert_eq!(rd("boot/vmlinuz").unwrap(), b"kernel");
        assert_eq!(rd("vmlinuz").unwrap(), b"kernel");
        assert_eq!(rd("boot/extlinux/../../boot/vmlinuz-1").unwrap(), b"kernel");
        // The host file is not reached (the absolute link resolves inside: no such file).
        assert!(rd("etc/fstab").is_err());
        assert!(rd("out/host-secret").is_err());
        assert!(rd("../host-secret").is_err());
        // No hang on a FIFO, nothing endless read from a device.
        let e = format!("{:#}", rd("etc/fifo").unwrap_err());
        assert!(e.contains("a FIFO, not a regular file"), "{e}");
        assert!(rd("etc/zero").is_err());
        assert!(rd("boot").unwrap_err().to_string().contains("a directory"));
        let e = root.read(Path::new("boot/vmlinuz-1"), 3).unwrap_err();
        assert!(e.to_string().contains("more than the 3"), "{e}");
        assert!(root.is_regular(Path::new("boot/vmlinuz")));
        assert!(!root.is_regular(Path::new("etc/fifo")));
        let mut names = root.regular_files_in(Path::new("boot"));
        names.sort();
        assert_eq!(names, ["vmlinuz-1"]);
    }

    #[test]
    fn the_fallback_walk_refuses_symlinks() {
        let (_d, top, _host) = tree();
        let root = ImageDir::open(&top).unwrap();
        let open = |p: &str| walk_nofollow(&root, Path::new(p), libc::O_RDONLY);
        assert!(open("boot/vmlinuz-1").is_ok());
        assert_eq!(
            open("boot/vmlinuz").unwrap_err().raw_os_error(),
            Some(libc::ELOOP)
        );
        assert!(open("out/host-secret").is_err());
        assert!(open("etc/fstab").is_err());
    }

    #[test]
    fn writes_never_follow_a_symlink() {
        let (d, top, host) = tree();
        let root = ImageDir::open(&top).unwrap();
        // A symlink in the directory path is refused.
        let e = format!(
            "{:#}",
            root.subdir(Path::new("out/x"), Some(0o700)).unwrap_err()
        );
        assert!(e.contains("/out in the image is a symlink"), "{e}");
        assert!(!d.path().join("x").exists());
        assert!(root.subdir(Path::new("../x"), Some(0o700)).is_err());
        // A symlink at the file's name is replaced, the host file left alone.
        let etc = root.subdir(Path::new("etc"), None).unwrap();
        etc.write("fstab", b"new", 0o644).unwrap();
        assert_eq!(std::fs::read(&host).unwrap(), b"host");
        assert_eq!(std::fs::read(top.join("etc/fstab")).unwrap(), b"new");
        // Created directories, mode and all.
        let seed = root
            .subdir(Path::new("var/lib/cloud/seed"), Some(0o700))
            .unwrap();
        assert_eq!(seed.rel(), Path::new("var/lib/cloud/seed"));
        seed.write("user-data", b"x", 0o600).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let m = std::fs::metadata(top.join("var/lib/cloud/seed/user-data")).unwrap();
        assert_eq!(m.permissions().mode() & 0o777, 0o600);
        // What a program would follow is cleared away; a directory is refused.
        let ext = root.subdir(Path::new("boot/extlinux"), None).unwrap();
        symlink(&host, top.join("boot/extlinux/ldlinux.sys")).unwrap();
        assert!(ext.remove_unless_regular("ldlinux.sys").unwrap());
        assert!(!ext.remove_unless_regular("ldlinux.sys").unwrap());
        std::fs::create_dir(top.join("boot/extlinux/ldlinux.c32")).unwrap();
        assert!(ext.remove_unless_regular("ldlinux.c32").is_err());
        assert_eq!(std::fs::read(&host).unwrap(), b"host");
    }
}
