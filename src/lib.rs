//! rdinstall: an installer agent for PXE-booted ramdisks.
//!
//! The flow (see README "Architecture"): settings → preflight → plan → wipe → write →
//! boot+config → report/finish. `main.rs` only parses the command line; `app` maps results to
//! exit codes.

pub mod agent;
pub mod app;
pub mod boot;
pub mod cli;
pub mod config;
pub mod disk;
pub mod error;
pub mod finish;
pub mod frontend;
pub mod fs_in_image;
pub mod image;
pub mod install;
pub mod layout;
pub mod machine;
pub mod net;
pub mod plan;
pub mod redact;
pub mod report;
pub mod settings;
pub mod units;
