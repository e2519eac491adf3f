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
