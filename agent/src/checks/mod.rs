//! Built-in system checks: native replacements for monitoring-plugins.
//!
//! Ground rules: a check never forks and never blocks for long; it reads
//! /proc (or statvfs) once per run. Each module has a config type built by
//! `from_args(&[&str])` from the plugin's own command-line flags, a pure
//! parser for the /proc text (fed garbage in unit tests, never panics) and a
//! pure `evaluate` that turns a sample into a [`CheckResult`] whose output
//! and perfdata match the plugin's, so graphs carry over. A read failure is
//! data, not an `Err`: the check answers UNKNOWN.

pub mod args;
pub mod cpu;
pub mod disk;
pub mod load;
pub mod meminfo;
pub mod memory;
pub mod procs;
pub mod registry;
pub mod swap;
pub mod uptime;

pub use args::ArgError;
pub use registry::{BuildError, SystemCheck};

use vedette::check::{CheckResult, Status};

/// The result a check gives when it cannot read what it measures: the
/// agent (us) failed, not the monitored value, so UNKNOWN.
fn unknown(prefix: &str, what: impl std::fmt::Display) -> CheckResult {
    CheckResult::new(Status::Unknown, format!("{prefix} UNKNOWN - {what}"))
}
