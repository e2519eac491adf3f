//! The image path: sources, format sniffing, decoders, hashing, the block writer.

pub mod bzip2par;
