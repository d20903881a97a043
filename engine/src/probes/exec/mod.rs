//! `exec`: the Nagios plugin fallback — fork the command line, as Nagios 4
//! does, and read its exit code and output.
//!
//! The rules (argv splitting, `/bin/sh -c` for shell lines, process
//! groups, output capping and wording) are shared with the agent in
//! [`vedette_proto::exec`]; what is the shard's own lives here: a run takes
//! one of the shard's plugin slots ([`ProbeContext::exec_slots`]) for its
//! duration, so a shard never has more than `max_concurrent_exec` plugins
//! alive, and the timeout and its status come from the shard's settings.

pub use vedette_proto::exec::{argv, spawn};

use std::time::Duration;

use vedette_proto::exec::Plugin;

use crate::check::{CheckResult, Status};
use crate::probes::ProbeContext;

/// Descriptors a running plugin holds in the engine: its stdout and
/// stderr pipes, and one for what spawning it opens for a moment.
const PLUGIN_DESCRIPTORS: u32 = 3;

/// A forked plugin check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exec {
    plugin: Plugin,
    timeout: Option<Duration>,
}

impl Exec {
    /// Compiles a command line; `timeout` of `None` uses the shard default.
    pub fn new(line: &str, timeout: Option<Duration>) -> Exec {
        Exec {
            plugin: Plugin::new(line),
            timeout,
        }
    }

    /// Whether the line runs through `/bin/sh -c`.
    pub fn uses_shell(&self) -> bool {
        self.plugin.uses_shell()
    }

    /// Runs the plugin once: waits for a plugin slot, then forks.
    ///
    /// The timeout starts when the process starts, not while waiting for a
    /// slot: the wait is the shard's queueing, not the plugin's slowness.
    pub async fn run(&self, ctx: &ProbeContext) -> CheckResult {
        let Ok(_slot) = ctx.exec_slots.acquire().await else {
            return CheckResult::new(
                Status::Unknown,
                "plugin slots closed (engine shutting down)",
            );
        };
        let _held = match ctx.descriptors.take(PLUGIN_DESCRIPTORS) {
            Ok(held) => held,
            Err(refused) => return refused,
        };
        let timeout = self.timeout.unwrap_or(ctx.default_timeout);
        self.plugin.run(timeout, ctx.timeout_status).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_needing_a_shell_are_marked() {
        assert!(Exec::new("a | b", None).uses_shell());
        assert!(!Exec::new("a '|' b", None).uses_shell());
    }
}
