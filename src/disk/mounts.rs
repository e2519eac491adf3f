//! `/proc/self/mountinfo` and `/proc/swaps`, parsed into what the safety checks need.

use std::path::Path;

/// One line of mountinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// `major:minor` of the mounted device (field 3). Anonymous devices (btrfs, tmpfs) are
    /// `0:N`, so the source is matched as well.
    pub dev: String,
    pub mount_point: String,
    pub fstype: String,
    /// The mount source after ` - fstype`, e.g. `/dev/sda1`.
    pub source: String,
}

/// Undo the octal escapes (`\040` for a space) the kernel writes in paths.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            let oct = &b[i + 1..i + 4];
            if oct.iter().all(|c| (b'0'..=b'7').contains(c)) {
                let v = oct.iter().fold(0u32, |a, c| a * 8 + u32::from(c - b'0'));
                if let Ok(v) = u8::try_from(v) {
                    out.push(v);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn parse_mountinfo(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let l: Vec<&str> = left.split(' ').collect();
            let r: Vec<&str> = right.split(' ').collect();
            if l.len() < 5 || r.len() < 2 {
                return None;
            }
            Some(Mount {
                dev: l[2].to_string(),
                mount_point: unescape(l[4]),
                fstype: r[0].to_string(),
                source: unescape(r[1]),
            })
        })
        .collect()
}

/// The `Filename` column of /proc/swaps (devices and swap files).
pub fn parse_swaps(text: &str) -> Vec<String> {
    text.lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .map(unescape)
        .collect()
}

/// Read both files; a missing file (no /proc in a test tree) reads as empty.
pub fn read(mountinfo: &Path, swaps: &Path) -> (Vec<Mount>, Vec<String>) {
    let m = std::fs::read_to_string(mountinfo).unwrap_or_default();
    let s = std::fs::read_to_string(swaps).unwrap_or_default();
    (parse_mountinfo(&m), parse_swaps(&s))
}

/// The mount the running system's `/` sits on: the last `/` entry wins (mounts stack).
pub fn root_mount(mounts: &[Mount]) -> Option<&Mount> {
    mounts.iter().rev().find(|m| m.mount_point == "/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mountinfo_with_escapes() {
        let t = "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n\
                 40 27 7:3 / /mnt/my\\040disk rw shared:1 - xfs /dev/loop3 rw\n";
        let m = parse_mountinfo(t);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].dev, "254:0");
        assert_eq!(m[1].mount_point, "/mnt/my disk");
        assert_eq!(m[1].fstype, "xfs");
        assert_eq!(m[1].source, "/dev/loop3");
        assert_eq!(root_mount(&m).unwrap().source, "/dev/vda");
    }

    #[test]
    fn parses_swaps() {
        let t = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n\
                 /dev/sda2                               partition\t1048572\t\t0\t\t-2\n\
                 /swap\\040file file 100 0 -3\n";
        assert_eq!(parse_swaps(t), vec!["/dev/sda2", "/swap file"]);
    }
}
