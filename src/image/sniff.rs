//! Compression format from magic bytes.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Bzip2,
    Gzip,
    Xz,
    Zstd,
    Raw,
}

/// Bytes needed to tell the formats apart.
pub const MAGIC_LEN: usize = 6;

pub fn sniff(head: &[u8]) -> Format {
    // bzip2: "BZh" + block size digit 1-9.
    if head.len() >= 4 && &head[..3] == b"BZh" && (b'1'..=b'9').contains(&head[3]) {
        Format::Bzip2
    } else if head.starts_with(&[0x1f, 0x8b]) {
        Format::Gzip
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        Format::Xz
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
        // A skippable frame (magic 0x184D2A50..5F) first, as pzstd and seekable zstd
        // write: the frames follow it.
        || (head.len() >= 4 && head[0] & 0xf0 == 0x50 && head[1..4] == [0x2a, 0x4d, 0x18])
    {
        Format::Zstd
    } else {
        Format::Raw
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_bytes() {
        assert_eq!(sniff(b"BZh91AY&SY"), Format::Bzip2);
        assert_eq!(sniff(b"BZh0"), Format::Raw);
        assert_eq!(sniff(&[0x50, 0x2a, 0x4d, 0x18, 8, 0]), Format::Zstd);
        assert_eq!(sniff(&[0x5f, 0x2a, 0x4d, 0x18, 8, 0]), Format::Zstd);
        assert_eq!(sniff(&[0x60, 0x2a, 0x4d, 0x18, 8, 0]), Format::Raw);
        assert_eq!(sniff(&[0x1f, 0x8b, 8, 0]), Format::Gzip);
        assert_eq!(sniff(&[0xfd, b'7', b'z', b'X', b'Z', 0]), Format::Xz);
        assert_eq!(sniff(&[0x28, 0xb5, 0x2f, 0xfd, 0]), Format::Zstd);
        assert_eq!(sniff(&[0u8; 512]), Format::Raw);
        assert_eq!(sniff(b""), Format::Raw);
        assert_eq!(sniff(b"BZ"), Format::Raw);
    }
}
