//! `exec`: the Nagios plugin fallback — fork the command line, as Nagios 4
//! does, and read its exit code and output.
//!
//! The line is split into argv without a shell ([`argv::split`]); a line
//! only a shell can run goes to `/bin/sh -c LINE`. A run takes one of the
//! shard's plugin slots ([`ProbeContext::exec_slots`]) for its duration, so
//! a shard never has more than `max_concurrent_exec` plugins alive.
//!
//! Everything that goes wrong becomes an UNKNOWN (or the configured timeout
//! status) result with an output saying what happened; nothing panics.

pub mod argv;
pub mod spawn;

use std::time::Duration;

use crate::check::{CheckResult, Status};
use crate::plugin_output;
use crate::probes::{engine_timed_out, ProbeContext};

use self::spawn::Finished;

/// What to start.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Command {
    /// Program and arguments, split without a shell.
    Argv(Box<[Box<str>]>),
    /// A line that needs `/bin/sh -c`.
    Shell(Box<str>),
    /// A blank line: nothing to run.
    Empty,
}

/// A forked plugin check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exec {
    command: Command,
    timeout: Option<Duration>,
}

impl Exec {
    /// Compiles a command line; `timeout` of `None` uses the shard default.
    pub fn new(line: &str, timeout: Option<Duration>) -> Exec {
        let command = match argv::split(line) {
            Ok(words) if words.is_empty() => Command::Empty,
            Ok(words) => Command::Argv(words.into_iter().map(String::into_boxed_str).collect()),
            Err(_) => Command::Shell(line.into()),
        };
        Exec { command, timeout }
    }

    /// Whether the line runs through `/bin/sh -c`.
    pub fn uses_shell(&self) -> bool {
        matches!(self.command, Command::Shell(_))
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
        let timeout = self.timeout.unwrap_or(ctx.default_timeout);
        let (program, finished) = match &self.command {
            Command::Argv(words) => {
                let (program, args) = match words.split_first() {
                    Some((program, args)) => (&**program, args),
                    None => return empty(),
                };
                let args = args.iter().map(|a| &**a);
                (program, spawn::run(program, args, timeout).await)
            }
            Command::Shell(line) => {
                let args = ["-c", &**line];
                ("/bin/sh", spawn::run("/bin/sh", args, timeout).await)
            }
            Command::Empty => return empty(),
        };
        match finished {
            Finished::Exited {
                code,
                stdout,
                stderr,
            } => {
                let result = parse(Status::from_exit_code(code), &stdout, &stderr);
                match code {
                    0..=3 => result,
                    126 => headline(result, format!("(Return code of {code} is out of bounds. Make sure the plugin you're trying to run is executable)")),
                    127 => headline(result, format!("(Return code of {code} is out of bounds. Make sure the plugin you're trying to run actually exists)")),
                    _ => headline(result, format!("(Return code of {code} is out of bounds)")),
                }
            }
            Finished::Signaled { signal, stdout } => headline(
                parse(Status::Unknown, &stdout, &[]),
                format!("(Plugin was killed by signal {signal})"),
            ),
            Finished::TimedOut => {
                let (status, text) = engine_timed_out(ctx.timeout_status, timeout);
                CheckResult::new(status, text)
            }
            Finished::Failed(e) => {
                let text = match e.kind() {
                    std::io::ErrorKind::NotFound => format!("plugin not found: {program}"),
                    std::io::ErrorKind::PermissionDenied => {
                        format!("plugin not executable: {program}")
                    }
                    _ => format!("cannot run plugin {program}: {e}"),
                };
                CheckResult::new(Status::Unknown, text)
            }
        }
    }
}

fn empty() -> CheckResult {
    CheckResult::new(Status::Unknown, "empty command line")
}

/// Nagios' choice of text: stdout if there is any, else stderr marked as
/// such (`base/workers.c`), else nothing.
fn parse(status: Status, stdout: &[u8], stderr: &[u8]) -> CheckResult {
    if stdout.is_empty() && !stderr.is_empty() {
        let text = format!(
            "(No output on stdout) stderr: {}",
            String::from_utf8_lossy(stderr)
        );
        plugin_output::parse(status, &text)
    } else {
        plugin_output::parse(status, &String::from_utf8_lossy(stdout))
    }
}

/// Puts our own explanation in front: it becomes the output, the plugin's
/// first line moves to the top of the long output, the perfdata stays.
fn headline(result: CheckResult, text: String) -> CheckResult {
    let long = if result.long_output.is_empty() {
        result.output.to_string()
    } else {
        format!("{}\n{}", result.output, result.long_output)
    };
    CheckResult {
        status: Status::Unknown,
        output: text.into(),
        perfdata: result.perfdata,
        long_output: long.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdout_wins_over_stderr_like_nagios() {
        let table: &[(&[u8], &[u8], &str)] = &[
            (b"OK - fine\n", b"noise", "OK - fine"),
            (b"", b"boom\n", "(No output on stdout) stderr: boom"),
            (b"", b"", plugin_output::NO_OUTPUT),
        ];
        for &(out, err, want) in table {
            assert_eq!(&*parse(Status::Ok, out, err).output, want);
        }
    }

    #[test]
    fn headline_keeps_the_plugin_text_below() {
        let r = headline(
            plugin_output::parse(Status::Ok, "first|a=1\nsecond"),
            "(why)".into(),
        );
        assert_eq!(r.status, Status::Unknown);
        assert_eq!(
            (&*r.output, &*r.long_output, &*r.perfdata),
            ("(why)", "first\nsecond", "a=1")
        );
    }

    #[test]
    fn lines_needing_a_shell_are_marked() {
        assert!(Exec::new("a | b", None).uses_shell());
        assert!(!Exec::new("a '|' b", None).uses_shell());
    }
}
