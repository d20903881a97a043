//! `procs`: how many processes run (optionally by command name), like
//! `check_procs -C name -w 1:5 -c 1:10`.
//!
//! The command name is the kernel's `comm` (at most 15 bytes, what `ps -o
//! comm` shows and what check_procs matches). The agent leaves itself out,
//! as the plugin leaves itself out. Perfdata prints the ranges as written:
//! `procs=7;1:5;1:10;0;`.

use vedette_proto::check::CheckResult;

use super::args::{judge, range_flags, ArgError, RangeArg};

/// The `procs` check's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcsConfig {
    /// Count only processes with exactly this command name.
    pub command: Option<String>,
    /// Warning range on the count.
    pub warn: Option<RangeArg>,
    /// Critical range on the count.
    pub crit: Option<RangeArg>,
}

impl ProcsConfig {
    /// Reads check_procs's `-C`, `-w`, `-c`.
    ///
    /// # Errors
    /// [`ArgError`] for unknown flags or ranges that do not parse.
    pub fn from_args(args: &[&str]) -> Result<ProcsConfig, ArgError> {
        let f = range_flags(args, Some(("C", "command")))?;
        Ok(ProcsConfig {
            command: f.named,
            warn: f.warn,
            crit: f.crit,
        })
    }
}

/// The command name (`comm`) in a `/proc/<pid>/stat` line: the text between
/// the first `(` and the last `)`, since the name itself may hold `)`.
pub fn parse_comm(stat: &str) -> Option<&str> {
    let start = stat.find('(')? + 1;
    let end = stat.rfind(')')?;
    stat.get(start..end)
}

/// The `procs` check: scans /proc each run.
#[derive(Debug, Clone)]
pub struct Procs {
    config: ProcsConfig,
}

impl Procs {
    /// A procs check with this configuration.
    pub fn new(config: ProcsConfig) -> Procs {
        Procs { config }
    }

    /// Runs the check once.
    pub fn run(&self) -> CheckResult {
        let entries = match std::fs::read_dir("/proc") {
            Ok(e) => e,
            Err(e) => return super::unknown("PROCS", format_args!("cannot list /proc: {e}")),
        };
        let me = std::process::id();
        let mut count = 0u64;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            if pid == me {
                continue;
            }
            // A process may exit between listing and reading: skip it, as ps does.
            let Ok(stat) = std::fs::read(entry.path().join("stat")) else {
                continue;
            };
            let stat = String::from_utf8_lossy(&stat);
            let Some(comm) = parse_comm(&stat) else {
                continue;
            };
            if self.config.command.as_deref().is_none_or(|c| c == comm) {
                count += 1;
            }
        }
        evaluate(&self.config, count)
    }
}

/// Judges a process `count` against `config`.
pub fn evaluate(config: &ProcsConfig, count: u64) -> CheckResult {
    let status = judge(config.warn.as_ref(), config.crit.as_ref(), count as f64);
    let noun = if count == 1 { "process" } else { "processes" };
    let filter = match &config.command {
        Some(c) => format!(" with command name '{c}'"),
        None => String::new(),
    };
    let text = |r: &Option<RangeArg>| r.as_ref().map(|r| r.text.clone()).unwrap_or_default();
    let perf = format!(
        "procs={count};{};{};0;",
        text(&config.warn),
        text(&config.crit)
    );
    CheckResult::new(status, format!("PROCS {status}: {count} {noun}{filter}")).with_perfdata(perf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vedette_proto::check::Status;

    fn config(args: &[&str]) -> ProcsConfig {
        ProcsConfig::from_args(args).expect("config")
    }

    #[test]
    fn prints_like_check_procs() {
        let c = config(&["-C", "bash", "-w", "1:5", "-c", "1:10"]);
        let r = evaluate(&c, 7);
        assert_eq!(r.status, Status::Warning);
        assert_eq!(
            &*r.output,
            "PROCS WARNING: 7 processes with command name 'bash'"
        );
        assert_eq!(&*r.perfdata, "procs=7;1:5;1:10;0;");
        assert_eq!(
            &*evaluate(&c, 1).output,
            "PROCS OK: 1 process with command name 'bash'"
        );
        assert_eq!(evaluate(&c, 0).status, Status::Critical);
        let r = evaluate(&config(&[]), 78);
        assert_eq!(
            (&*r.output, &*r.perfdata),
            ("PROCS OK: 78 processes", "procs=78;;;0;")
        );
    }

    #[test]
    fn comm_parser_survives_odd_names() {
        let table: &[(&str, Option<&str>)] = &[
            ("1 (systemd) S 0 1", Some("systemd")),
            ("42 (a) b) (c) R 1", Some("a) b) (c")),
            ("7 () S", Some("")),
            ("", None),
            ("1 systemd S", None),
            ("1 )x( S", None),
        ];
        for &(stat, want) in table {
            assert_eq!(parse_comm(stat), want, "{stat:?}");
        }
    }

    #[test]
    fn bad_flags_are_errors() {
        for args in [&["-w", "x"][..], &["-C"], &["-c", "5:1"], &["-a", "x"]] {
            assert!(ProcsConfig::from_args(args).is_err(), "{args:?}");
        }
    }
}
