//! Probes: the things that actually check something.
//!
//! A check's command line is compiled once, at plan time, into a [`Probe`]:
//! a native probe when the command line is one Vedette recognises and every
//! flag is understood, the `exec` fallback (fork the plugin) otherwise.
//! Probes run on the shard that owns the check, as tasks on its
//! single-threaded runtime; [`ProbeContext`] is that shard's shared state
//! (plugin process slots, defaults).
//!
//! A probe failure is data, not an `Err`: every run ends in a
//! [`CheckResult`]. Failures of the monitored target map to CRITICAL,
//! failures on our side (cannot fork, bad spec) to UNKNOWN.

pub mod dummy;

use std::sync::Arc;
use std::time::Duration;

use crate::check::{CheckResult, Status};
use crate::model::{CheckSpec, Settings};

/// A compiled check, ready to run.
#[derive(Debug)]
pub enum Probe {
    /// Native `check_dummy`.
    Dummy(dummy::Dummy),
}

impl Probe {
    /// The probe's name as the API reports it (`dummy`, `tcp`, `exec`).
    pub fn name(&self) -> &'static str {
        match self {
            Probe::Dummy(_) => "dummy",
        }
    }

    /// The result, when it is known without any I/O. The shard applies such
    /// results inline instead of spawning a task for them.
    pub fn immediate(&self) -> Option<CheckResult> {
        match self {
            Probe::Dummy(d) => Some(d.result()),
        }
    }

    /// Runs the probe to completion.
    pub async fn run(&self, _ctx: &ProbeContext) -> CheckResult {
        match self {
            Probe::Dummy(d) => d.result(),
        }
    }
}

/// Per-shard state shared by the probes of that shard.
#[derive(Debug, Clone)]
pub struct ProbeContext {
    /// Timeout for checks that set none.
    pub default_timeout: Duration,
    /// Status reported when a check times out.
    pub timeout_status: Status,
}

impl ProbeContext {
    /// The context for one shard.
    pub fn new(settings: &Settings) -> ProbeContext {
        ProbeContext {
            default_timeout: settings.check_timeout,
            timeout_status: settings.timeout_status,
        }
    }
}

/// Compiles a check command line into a probe.
pub fn build(spec: &CheckSpec, _settings: &Settings) -> Arc<Probe> {
    let argv: Vec<&str> = spec.line.split_whitespace().collect();
    Arc::new(match dummy::Dummy::from_argv(&argv) {
        Some(d) => Probe::Dummy(d),
        None => Probe::Dummy(dummy::Dummy::new(
            Status::Unknown,
            format!("no probe for command line: {}", spec.line),
        )),
    })
}
