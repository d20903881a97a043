//! What a check produces: a [`Status`] plus the plugin-style text around it.
//!
//! Every probe (native or forked) and every passive result ends up as one
//! [`CheckResult`]; the state machine only ever sees this type.

use std::fmt;
use std::sync::Arc;

/// A check's outcome in Nagios plugin terms (the plugin's exit code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[repr(u8)]
pub enum Status {
    /// Exit code 0.
    #[default]
    Ok = 0,
    /// Exit code 1.
    Warning = 1,
    /// Exit code 2.
    Critical = 2,
    /// Exit code 3, and any exit code outside 0..=3.
    Unknown = 3,
}

impl Status {
    /// Maps a plugin exit code to a status: anything but 0..=3 is UNKNOWN,
    /// as Nagios does.
    pub fn from_exit_code(code: i32) -> Status {
        match code {
            0 => Status::Ok,
            1 => Status::Warning,
            2 => Status::Critical,
            _ => Status::Unknown,
        }
    }

    /// The service state name Nagios prints (`OK`, `WARNING`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warning => "WARNING",
            Status::Critical => "CRITICAL",
            Status::Unknown => "UNKNOWN",
        }
    }

    /// Parses a state given by name (`OK`, `warning`, `CRIT`) or by number
    /// (`0`..`3`), as `check_dummy` and passive results accept them.
    pub fn parse(s: &str) -> Option<Status> {
        match s.to_ascii_uppercase().as_str() {
            "0" | "OK" => Some(Status::Ok),
            "1" | "WARNING" | "WARN" => Some(Status::Warning),
            "2" | "CRITICAL" | "CRIT" => Some(Status::Critical),
            "3" | "UNKNOWN" => Some(Status::Unknown),
            _ => None,
        }
    }

    /// The worse of two statuses in Nagios order OK < WARNING < UNKNOWN <
    /// CRITICAL (the order `check_*` plugins use to combine conditions).
    pub fn worst(self, other: Status) -> Status {
        fn rank(s: Status) -> u8 {
            match s {
                Status::Ok => 0,
                Status::Warning => 1,
                Status::Unknown => 2,
                Status::Critical => 3,
            }
        }
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One check result, as a Nagios plugin would have printed it.
///
/// `output` is the first line before `|`; `perfdata` is everything after the
/// `|`s (first line and long output joined by a space); `long_output` is the
/// remaining lines. Strings are `Arc<str>` so a probe with constant output
/// (e.g. `dummy`) hands out the same text without allocating per check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    /// The check's outcome.
    pub status: Status,
    /// First line of plugin output, without perfdata.
    pub output: Arc<str>,
    /// Performance data, space-separated `'label'=value[UOM];warn;crit;min;max`.
    pub perfdata: Arc<str>,
    /// Lines after the first, without perfdata.
    pub long_output: Arc<str>,
}

impl CheckResult {
    /// A result with just a status and an output line.
    pub fn new(status: Status, output: impl Into<Arc<str>>) -> CheckResult {
        CheckResult {
            status,
            output: output.into(),
            perfdata: Arc::from(""),
            long_output: Arc::from(""),
        }
    }

    /// Sets the perfdata.
    pub fn with_perfdata(mut self, perfdata: impl Into<Arc<str>>) -> CheckResult {
        self.perfdata = perfdata.into();
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_map_like_nagios() {
        let table = [
            (0, Status::Ok),
            (1, Status::Warning),
            (2, Status::Critical),
            (3, Status::Unknown),
            (4, Status::Unknown),
            (-1, Status::Unknown),
            (255, Status::Unknown),
        ];
        for (code, want) in table {
            assert_eq!(Status::from_exit_code(code), want, "exit code {code}");
        }
    }

    #[test]
    fn parse_accepts_names_and_numbers() {
        assert_eq!(Status::parse("crit"), Some(Status::Critical));
        assert_eq!(Status::parse("1"), Some(Status::Warning));
        assert_eq!(Status::parse("OK"), Some(Status::Ok));
        assert_eq!(Status::parse("bogus"), None);
    }

    #[test]
    fn worst_ranks_critical_above_unknown() {
        assert_eq!(Status::Unknown.worst(Status::Critical), Status::Critical);
        assert_eq!(Status::Warning.worst(Status::Unknown), Status::Unknown);
        assert_eq!(Status::Ok.worst(Status::Ok), Status::Ok);
    }
}
