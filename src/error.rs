//! Exit codes and the one error type the flow returns. Callers act on `code` and `stage`;
//! the `anyhow` chain carries the human message (device, URL, what to do).

use serde::Serialize;
use std::fmt;

/// Process exit codes (SPEC.md "Exit codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ExitCode {
    Installed = 0,
    Usage = 2,
    Preflight = 3,
    AfterWrite = 4,
    Refused = 5,
}

impl ExitCode {
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// The stages of the flow, as named in events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Preflight,
    Wipe,
    Write,
    Bootloader,
    Config,
    Finish,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Stage::Preflight => "preflight",
            Stage::Wipe => "wipe",
            Stage::Write => "write",
            Stage::Bootloader => "bootloader",
            Stage::Config => "config",
            Stage::Finish => "finish",
        };
        f.write_str(s)
    }
}

/// A failure of the flow: which exit code it maps to, in which stage, and why.
#[derive(Debug)]
pub struct Failure {
    pub code: ExitCode,
    pub stage: Stage,
    pub error: anyhow::Error,
}

impl Failure {
    pub fn new(code: ExitCode, stage: Stage, error: impl Into<anyhow::Error>) -> Self {
        Failure {
            code,
            stage,
            error: error.into(),
        }
    }
    pub fn usage(e: impl Into<anyhow::Error>) -> Self {
        Self::new(ExitCode::Usage, Stage::Preflight, e)
    }
    pub fn preflight(e: impl Into<anyhow::Error>) -> Self {
        Self::new(ExitCode::Preflight, Stage::Preflight, e)
    }
    pub fn refused(e: impl Into<anyhow::Error>) -> Self {
        Self::new(ExitCode::Refused, Stage::Preflight, e)
    }
    /// The error chain as one line per cause.
    pub fn chain(&self) -> String {
        format!("{:#}", self.error)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed: {:#}", self.stage, self.error)
    }
}

/// An error that stops the flow with "refused for safety" (exit 5) wherever it is raised.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

/// Attach a stage and exit code to a `Result`.
pub trait AtStage<T> {
    fn at(self, code: ExitCode, stage: Stage) -> Result<T, Failure>;
}

impl<T, E: Into<anyhow::Error>> AtStage<T> for Result<T, E> {
    fn at(self, code: ExitCode, stage: Stage) -> Result<T, Failure> {
        self.map_err(|e| {
            let e: anyhow::Error = e.into();
            // A safety refusal keeps its own exit code whatever stage raised it.
            let code = if e.downcast_ref::<Refusal>().is_some() {
                ExitCode::Refused
            } else {
                code
            };
            Failure::new(code, stage, e)
        })
    }
}
