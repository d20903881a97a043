//! `nrpe`: native `check_nrpe` — one NRPE query per check (NRPE has no
//! keep-alive), printed and exited exactly as check_nrpe 4.1 does: the
//! flag parsing and the report are `vedette_nrpe::check`, shared with the
//! `vedette-nrpe` CLI, so this module only adds what the engine needs:
//! the per-host concurrency bound and the engine's own timeout.

pub mod config;
pub mod slots;

use std::time::Duration;

use vedette_nrpe::check::{CheckNrpe, Report};

use crate::check::{CheckResult, Status};
use crate::plugin_output;
use crate::probes::{engine_timed_out, ProbeContext};

/// A compiled `check_nrpe` command line.
#[derive(Debug, Clone, PartialEq)]
pub struct NrpeProbe {
    check: CheckNrpe,
    /// The engine's timeout for this check (`None`: the shard default).
    check_timeout: Option<Duration>,
}

impl NrpeProbe {
    /// Sets the engine's timeout for the check, which wins when shorter
    /// than `-t`, as when Nagios kills the plugin.
    pub fn with_check_timeout(mut self, timeout: Option<Duration>) -> NrpeProbe {
        self.check_timeout = timeout;
        self
    }

    /// Runs one check: waits for a slot of the target host, then queries.
    pub async fn run(&self, ctx: &ProbeContext) -> CheckResult {
        let engine_timeout = self.check_timeout.unwrap_or(ctx.default_timeout);
        let slot = ctx.nrpe_hosts.for_host(&self.check.host);
        let work = async {
            // Closed only if the map dropped it, which it never does.
            let _permit = slot.acquire().await;
            self.check.run().await
        };
        match tokio::time::timeout(engine_timeout, work).await {
            Ok(report) => result(&report),
            Err(_) => {
                let (status, text) = engine_timed_out(ctx.timeout_status, engine_timeout);
                CheckResult::new(status, text)
            }
        }
    }
}

/// What the engine makes of check_nrpe's report, as of a forked
/// plugin's: stdout if any, else stderr marked as such (Nagios'
/// `base/workers.c`, as the `exec` probe does).
fn result(report: &Report) -> CheckResult {
    let status = Status::from_exit_code(i32::from(report.state));
    if report.stdout.is_empty() && !report.stderr.is_empty() {
        let text = format!("(No output on stdout) stderr: {}", report.stderr);
        plugin_output::parse(status, &text)
    } else {
        plugin_output::parse(status, &report.stdout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdout_wins_stderr_is_marked() {
        let r = |state, stdout: &str, stderr: &str| {
            result(&Report {
                state,
                stdout: stdout.into(),
                stderr: stderr.into(),
            })
        };
        let ok = r(0, "OK - fine|a=1\nmore\n", "");
        assert_eq!(
            (ok.status, &*ok.output, &*ok.perfdata, &*ok.long_output),
            (Status::Ok, "OK - fine", "a=1", "more")
        );
        let refused = r(
            2,
            "",
            "connect to address 127.0.0.1 port 9: Connection refused\n",
        );
        assert_eq!(refused.status, Status::Critical);
        assert_eq!(
            &*refused.output,
            "(No output on stdout) stderr: connect to address 127.0.0.1 port 9: Connection refused"
        );
    }
}
