//! The install flow: preflight (settings → plan) → confirm → execute (the plan: wipe, write,
//! bootloader, config). Nothing is written before preflight has passed.

pub mod execute;
pub mod preflight;
pub mod write;

pub use execute::execute;
pub use preflight::{preflight, recheck};

use crate::error::{AtStage, ExitCode, Failure, Stage};
use crate::machine::Machine;
use crate::plan::Plan;
use crate::report::Events;
use crate::settings::Settings;
use anyhow::Result;

/// How the caller wants the destructive part confirmed.
pub trait Confirm {
    /// Return Ok(()) to go ahead, or a refusal.
    fn confirm(&self, plan: &Plan) -> Result<()>;
}

/// Proceed without asking (`--yes`, kernel command line, the Ironic agent).
pub struct NoConfirm;
impl Confirm for NoConfirm {
    fn confirm(&self, _: &Plan) -> Result<()> {
        Ok(())
    }
}

/// The whole flow from settings. Returns after the config stage; reporting the result and
/// finishing the machine is the caller's (see `finish`).
pub fn install(
    s: &Settings,
    machine: &Machine,
    ev: &Events,
    confirm: &dyn Confirm,
) -> Result<Plan, Failure> {
    let plan = preflight(s, machine, ev)?;
    run_confirmed(plan, ev, confirm)
}

/// Confirm, then execute.
pub fn run_confirmed(plan: Plan, ev: &Events, confirm: &dyn Confirm) -> Result<Plan, Failure> {
    confirm
        .confirm(&plan)
        .at(ExitCode::Refused, Stage::Preflight)?;
    execute(&plan, ev)?;
    Ok(plan)
}
