//! `rdinstall disks` and `rdinstall wipe`.

use crate::error::Failure;
use crate::report::Events;
use std::path::Path;

/// Print block devices (text or JSON), marking the one `disk=auto` would choose.
pub fn disks(_json: bool, _hint: Option<&str>) -> Result<(), Failure> {
    Ok(())
}

/// Tear down holders and wipe signatures on one disk. Confirmation is the caller's job.
pub fn wipe(path: &Path, discard: bool, ev: &Events) -> Result<(), Failure> {
    use crate::error::{AtStage, ExitCode, Stage};
    let t = super::Target::inspect(path).at(ExitCode::Preflight, Stage::Preflight)?;
    super::check_safe(&t).at(ExitCode::Refused, Stage::Preflight)?;
    super::wipe(&t, discard, ev).at(ExitCode::AfterWrite, Stage::Wipe)?;
    Ok(())
}
