//! rdinstall: an installer agent for PXE-booted ramdisks.
//!
//! The flow (see README "Architecture"): settings → preflight → plan → wipe → write →
//! boot+config → report/finish. `main.rs` only parses and maps errors to exit codes.

pub mod boot;
pub mod cloudconfig;
pub mod disk;
pub mod error;
pub mod fsprobe;
pub mod image;
pub mod layout;
pub mod machine;
pub mod net;
pub mod partdev;
pub mod report;
pub mod settings;
