//! Events and their sinks: console, JSON lines, HTTP reporter.

pub mod event;

pub use event::{Event, EventKind, Events, Sink, StageState};
