//! Events and their sinks: console, JSON lines, HTTP reporter.

pub mod console;
pub mod event;
pub mod http;

pub use event::{Event, EventKind, Events, Sink, StageState};
