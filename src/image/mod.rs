//! The image path: sources, format sniffing, decoders, hashing, the block writer.

pub mod bzip2par;
pub mod decode;
pub mod hash;
pub mod head;
#[cfg(feature = "openpgp")]
pub mod signature;
#[cfg(not(feature = "openpgp"))]
#[path = "signature_off.rs"]
pub mod signature;
pub mod sniff;
pub mod source;
pub mod writer;

pub use sniff::Format;

use serde::Serialize;

/// What kind of image `image` points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ImageKind {
    /// A whole-disk image with its own partition table.
    #[default]
    Disk,
    /// One filesystem image; rdinstall makes the partition table and installs extlinux.
    Rootfs,
}
