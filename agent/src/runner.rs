//! Running one assigned check: a built-in system check when the command's
//! first word names one (`check_load -w 5 -c 10`, `disk -p /`), otherwise
//! the plugin forked with the engine's exec rules
//! ([`vedette_proto::exec`]).
//!
//! Built-in checks read /proc and call statvfs, which can block (a hung
//! NFS mount), so they run on a blocking thread under the check's timeout.
//! Forked plugins take one of a fixed number of slots, which bounds the
//! agent's processes and memory whatever the engine assigns.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use vedette_proto::check::{CheckResult, Status};
use vedette_proto::exec::{argv, timed_out_text, Plugin};
use vedette_proto::wire::AssignedCheck;

use crate::checks::registry::{BuildError, SystemCheck};
use crate::scheduler::Job;

/// Plugins the agent runs at once; more wait their turn.
pub const PLUGIN_SLOTS: usize = 4;

/// Timeout used when the engine sends a nonsensical one.
const FALLBACK_TIMEOUT: Duration = Duration::from_secs(60);

/// How an assigned check runs.
enum Kind {
    /// A built-in check; `None` while it is out on a blocking thread that
    /// did not come back (timed out or panicked): rebuilt on the next run.
    System(Option<SystemCheck>),
    /// A forked plugin.
    Plugin(Plugin),
    /// A built-in check with flags it does not accept: every run says so.
    Invalid(String),
}

/// One assigned check, ready to run again and again.
pub struct Runner {
    words: Vec<String>,
    kind: Kind,
    timeout: Duration,
    slots: Arc<Semaphore>,
}

impl Runner {
    /// Prepares `check`; `slots` is shared by all plugin runs.
    pub fn new(check: &AssignedCheck, slots: Arc<Semaphore>) -> Runner {
        let timeout = Duration::try_from_secs_f64(check.timeout_s)
            .ok()
            .filter(|t| !t.is_zero())
            .unwrap_or(FALLBACK_TIMEOUT);
        let words = argv::split(&check.command).unwrap_or_default();
        let kind = match build_system(&words) {
            Ok(c) => Kind::System(Some(c)),
            // A path to a real file is the plugin itself, even if a
            // built-in of that name exists but not with these flags.
            Err(BuildError::Args { .. }) if is_file(&words) => {
                Kind::Plugin(Plugin::new(&check.command))
            }
            Err(e @ BuildError::Args { .. }) => Kind::Invalid(e.to_string()),
            Err(_) => Kind::Plugin(Plugin::new(&check.command)),
        };
        Runner {
            words,
            kind,
            timeout,
            slots,
        }
    }

    /// Whether the check is a built-in one (for logs and tests).
    pub fn is_builtin(&self) -> bool {
        matches!(self.kind, Kind::System(_) | Kind::Invalid(_))
    }

    async fn run_system(&mut self) -> CheckResult {
        let taken = match &mut self.kind {
            Kind::System(slot) => slot.take(),
            _ => None,
        };
        let check = match taken.map(Ok).unwrap_or_else(|| build_system(&self.words)) {
            Ok(c) => c,
            Err(e) => return CheckResult::new(Status::Unknown, e.to_string()),
        };
        let work = tokio::task::spawn_blocking(move || {
            let mut check = check;
            let result = check.run();
            (check, result)
        });
        match tokio::time::timeout(self.timeout, work).await {
            Ok(Ok((check, result))) => {
                self.kind = Kind::System(Some(check));
                result
            }
            Ok(Err(e)) => CheckResult::new(Status::Unknown, format!("built-in check failed: {e}")),
            Err(_) => CheckResult::new(Status::Unknown, timed_out_text(self.timeout)),
        }
    }
}

impl Job for Runner {
    async fn run(&mut self) -> CheckResult {
        match &self.kind {
            Kind::System(_) => self.run_system().await,
            Kind::Plugin(plugin) => {
                let Ok(_slot) = self.slots.acquire().await else {
                    return CheckResult::new(Status::Unknown, "agent shutting down");
                };
                plugin.run(self.timeout, Status::Unknown).await
            }
            Kind::Invalid(why) => CheckResult::new(Status::Unknown, why.as_str()),
        }
    }
}

fn build_system(words: &[String]) -> Result<SystemCheck, BuildError> {
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    SystemCheck::from_command_line(&words)
}

fn is_file(words: &[String]) -> bool {
    words
        .first()
        .is_some_and(|w| w.contains('/') && std::path::Path::new(w).is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assigned(command: &str, timeout_s: f64) -> AssignedCheck {
        AssignedCheck {
            service: "s".into(),
            command: command.into(),
            interval_s: 60.0,
            retry_interval_s: 10.0,
            max_attempts: 3,
            timeout_s,
        }
    }

    fn run(command: &str, timeout_s: f64) -> (bool, CheckResult) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let mut r = Runner::new(
            &assigned(command, timeout_s),
            Arc::new(Semaphore::new(PLUGIN_SLOTS)),
        );
        let builtin = r.is_builtin();
        (builtin, rt.block_on(r.run()))
    }

    #[test]
    fn builtins_by_first_word() {
        let (builtin, r) = run("check_load -w 1000 -c 2000", 5.0);
        assert!(builtin);
        assert_eq!(r.status, Status::Ok, "{}", r.output);
        assert!(r.output.starts_with("LOAD OK"), "{}", r.output);
        let (builtin, r) = run("/usr/lib/nagios/plugins/check_uptime", 5.0);
        assert!(builtin);
        assert_eq!(r.status, Status::Ok, "{}", r.output);
        let (builtin, r) = run("check_load -w nonsense", 5.0);
        assert!(builtin);
        assert_eq!(r.status, Status::Unknown);
        assert!(r.output.contains("check 'load'"), "{}", r.output);
    }

    #[test]
    fn plugins_fork_with_the_exec_rules() {
        let (builtin, r) = run("sh -c 'echo hi; exit 2'", 5.0);
        assert!(!builtin);
        assert_eq!((r.status, &*r.output), (Status::Critical, "hi"));
        let (_, r) = run("sleep 3", 0.2);
        assert_eq!(
            (r.status, &*r.output),
            (
                Status::Unknown,
                "(Service check timed out after 0.20 seconds)"
            )
        );
        let (_, r) = run("/nonexistent/check_x", -1.0);
        assert_eq!(&*r.output, "plugin not found: /nonexistent/check_x");
    }
}
