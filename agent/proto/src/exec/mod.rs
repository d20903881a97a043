//! Running a Nagios plugin, with one set of rules for the engine's `exec`
//! probe, the agent and the NRPE server: fork the command line as Nagios 4
//! does and turn its exit code and output into a [`CheckResult`].
//!
//! The line is split into argv without a shell ([`argv::split`]); a line
//! only a shell can run goes to `/bin/sh -c LINE` ([`Plugin::shell`]: always,
//! as `popen(3)` does). The process is run by [`spawn::run`] (own process
//! group, capped output, always reaped); [`Plugin::execute`] hands back how
//! it ended for callers that answer by rules other than Nagios'.
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

    /// Compiles a command line that always runs through `/bin/sh -c`, as
    /// `popen(3)` does: for callers that must mean exactly what a shell
    /// means (the NRPE server answers as NRPE, whose plugins may use shell
    /// builtins or `VAR=value` prefixes). A blank line is run too (the
    /// shell exits 0 without output).
    pub fn shell(line: &str) -> Plugin {
        Plugin {
            command: Command::Shell(line.into()),
        }
    }

    /// Whether the line runs through `/bin/sh -c`.
    pub fn uses_shell(&self) -> bool {
        matches!(self.command, Command::Shell(_))
    }

    /// Runs the plugin once. After `timeout` its process group is killed
    /// and the result is `timeout_status` with [`timed_out_text`].
    pub async fn run(&self, timeout: Duration, timeout_status: Status) -> CheckResult {
        let Some(finished) = self.execute(timeout, spawn::OUTPUT_CAP).await else {
            return empty();
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
                let program = self.program();
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

    /// Runs the plugin once with [`spawn::run`]'s rules, keeping at most
    /// `cap` bytes of stdout and of stderr, and returns how it ended
    /// without Nagios' reading of it: for callers that answer by other
    /// rules (the NRPE server: NRPE's texts, its packet size as the cap).
    /// `None` for a blank line, which has nothing to run.
    pub async fn execute(&self, timeout: Duration, cap: usize) -> Option<Finished> {
        Some(match &self.command {
            Command::Argv(words) => {
                let (program, args) = words.split_first()?;
                spawn::run(program, args.iter().map(|a| &**a), timeout, cap).await
            }
            Command::Shell(line) => spawn::run("/bin/sh", ["-c", &**line], timeout, cap).await,
            Command::Empty => return None,
        })
    }

    /// The program a run starts, for messages.
    fn program(&self) -> &str {
        match &self.command {
            Command::Argv(words) => words.first().map_or("", |w| &**w),
            Command::Shell(_) => "/bin/sh",
            Command::Empty => "",
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

    fn execute_now(plugin: &Plugin, cap: usize) -> Option<Finished> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(plugin.execute(Duration::from_secs(10), cap))
    }

    fn exited(f: Option<Finished>) -> (i32, String) {
        match f {
            Some(Finished::Exited { code, stdout, .. }) => {
                (code, String::from_utf8_lossy(&stdout).into_owned())
            }
            other => panic!("not an exit: {other:?}"),
        }
    }

    #[test]
    fn shell_means_what_popen_means() {
        // Builtins and assignment prefixes: argv splitting would look for
        // programs named `exit` and `FOO=bar`.
        let p = Plugin::shell("FOO=bar /usr/bin/printenv FOO; exit 2");
        assert!(p.uses_shell());
        assert_eq!(exited(execute_now(&p, 100)), (2, "bar\n".into()));
        // A blank line still runs (and says nothing), as popen's shell does.
        assert_eq!(
            exited(execute_now(&Plugin::shell("  "), 100)),
            (0, "".into())
        );
        assert!(execute_now(&Plugin::new("  "), 100).is_none());
    }

    #[test]
    fn execute_keeps_only_the_callers_cap() {
        // 10,000 bytes on each stream; the rest is drained, so it exits.
        let p = Plugin::new(r#"sh -c "head -c 10000 /dev/zero; head -c 10000 /dev/zero >&2""#);
        match execute_now(&p, 1000) {
            Some(Finished::Exited {
                code: 0,
                stdout,
                stderr,
            }) => assert_eq!((stdout.len(), stderr.len()), (1000, 1000)),
            other => panic!("{other:?}"),
        }
    }
}
