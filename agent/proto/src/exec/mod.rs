//! Running a Nagios plugin, with one set of rules for the engine's `exec`
//! probe and the agent: fork the command line as Nagios 4 does and turn
//! its exit code and output into a [`CheckResult`].
//!
//! The line is split into argv without a shell ([`argv::split`]); a line
//! only a shell can run goes to `/bin/sh -c LINE`. The process is run by
//! [`spawn::run`] (own process group, capped output, always reaped).
//!
//! Everything that goes wrong becomes an UNKNOWN (or, for a timeout, the
//! caller's chosen status) result with an output saying what happened;
//! nothing panics. Admission (how many plugins may run at once) is the
//! caller's business.

pub mod argv;
pub mod spawn;

use std::time::Duration;

use crate::check::{CheckResult, Status};
use crate::plugin_output;

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

/// A plugin command line, compiled once and run any number of times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plugin {
    command: Command,
}

impl Plugin {
    /// Compiles a command line.
    pub fn new(line: &str) -> Plugin {
        let command = match argv::split(line) {
            Ok(words) if words.is_empty() => Command::Empty,
            Ok(words) => Command::Argv(words.into_iter().map(String::into_boxed_str).collect()),
            Err(_) => Command::Shell(line.into()),
        };
        Plugin { command }
    }

    /// Whether the line runs through `/bin/sh -c`.
    pub fn uses_shell(&self) -> bool {
        matches!(self.command, Command::Shell(_))
    }

    /// Runs the plugin once. After `timeout` its process group is killed
    /// and the result is `timeout_status` with [`timed_out_text`].
    pub async fn run(&self, timeout: Duration, timeout_status: Status) -> CheckResult {
        let (program, finished) = match &self.command {
            Command::Argv(words) => {
                let Some((program, args)) = words.split_first() else {
                    return empty();
                };
                let args = args.iter().map(|a| &**a);
                (&**program, spawn::run(program, args, timeout).await)
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
            Finished::TimedOut => CheckResult::new(timeout_status, timed_out_text(timeout)),
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

/// Nagios' output for a check that ran out of time (`checks.c`), also used
/// by native probes that hit the engine's check timeout.
pub fn timed_out_text(after: Duration) -> String {
    format!(
        "(Service check timed out after {:.2} seconds)",
        after.as_secs_f64()
    )
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
        assert!(Plugin::new("a | b").uses_shell());
        assert!(!Plugin::new("a '|' b").uses_shell());
    }

    #[test]
    fn timeout_wording() {
        assert_eq!(
            timed_out_text(Duration::from_millis(1500)),
            "(Service check timed out after 1.50 seconds)"
        );
    }

    fn run_now(line: &str, timeout: Duration) -> CheckResult {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(Plugin::new(line).run(timeout, Status::Critical))
    }

    #[test]
    fn runs_real_processes() {
        let r = run_now(
            r#"sh -c "echo 'WARN|x=1'; exit 1""#,
            Duration::from_secs(10),
        );
        assert_eq!(
            (r.status, &*r.output, &*r.perfdata),
            (Status::Warning, "WARN", "x=1")
        );
        let r = run_now("sleep 5", Duration::from_millis(200));
        assert_eq!(
            (r.status, &*r.output),
            (
                Status::Critical,
                "(Service check timed out after 0.20 seconds)"
            )
        );
        let r = run_now("   ", Duration::from_secs(1));
        assert_eq!(&*r.output, "empty command line");
    }
}
