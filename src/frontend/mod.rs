//! Console front ends of subcommands: the libraries return data, these render it.

pub mod disks;
pub mod reporting;
