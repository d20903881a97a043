//! `uptime`: seconds since boot from /proc/uptime.
//!
//! No plugin in Debian's monitoring-plugins 2.3 has this, so the form is
//! ours: `-w`/`-c` are Nagios ranges on seconds (`-c 600:` alerts in the
//! first ten minutes after a reboot). Output `UPTIME OK - up 2 days, 3:04`;
//! perfdata `uptime=<seconds>s;<warn>;<crit>;0;`.

use vedette_proto::check::CheckResult;

use super::args::{judge, range_flags, ArgError, RangeArg};

/// Where the kernel publishes seconds since boot.
const UPTIME: &str = "/proc/uptime";

/// The `uptime` check's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct UptimeConfig {
    /// Warning range on seconds up.
    pub warn: Option<RangeArg>,
    /// Critical range on seconds up.
    pub crit: Option<RangeArg>,
}

impl UptimeConfig {
    /// Reads `-w` and `-c`, both optional Nagios ranges in seconds.
    ///
    /// # Errors
    /// [`ArgError`] for unknown flags or values that are not ranges.
    pub fn from_args(args: &[&str]) -> Result<UptimeConfig, ArgError> {
        let f = range_flags(args, None)?;
        Ok(UptimeConfig {
            warn: f.warn,
            crit: f.crit,
        })
    }
}

/// Parses `/proc/uptime` (`19610.46 25008.79`): whole seconds up.
pub fn parse_uptime(text: &str) -> Option<u64> {
    let first = text.split_ascii_whitespace().next()?;
    let secs = first
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)?;
    // `as` saturates for values past u64::MAX, which is what we want here.
    Some(secs as u64)
}

/// The `uptime` check: reads /proc/uptime each run.
#[derive(Debug, Clone)]
pub struct Uptime {
    config: UptimeConfig,
}

impl Uptime {
    /// An uptime check with this configuration.
    pub fn new(config: UptimeConfig) -> Uptime {
        Uptime { config }
    }

    /// Runs the check once.
    pub fn run(&self) -> CheckResult {
        let text = match std::fs::read_to_string(UPTIME) {
            Ok(t) => t,
            Err(e) => return super::unknown("UPTIME", format_args!("cannot read {UPTIME}: {e}")),
        };
        match parse_uptime(&text) {
            Some(secs) => evaluate(&self.config, secs),
            None => super::unknown("UPTIME", format_args!("cannot parse {UPTIME}")),
        }
    }
}

/// Judges `secs` of uptime against `config`.
pub fn evaluate(config: &UptimeConfig, secs: u64) -> CheckResult {
    let status = judge(config.warn.as_ref(), config.crit.as_ref(), secs as f64);
    let (days, hours, mins) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    let day_word = if days == 1 { "day" } else { "days" };
    let output = format!("UPTIME {status} - up {days} {day_word}, {hours}:{mins:02}");
    let text = |r: &Option<RangeArg>| r.as_ref().map(|r| r.text.clone()).unwrap_or_default();
    let perf = format!(
        "uptime={secs}s;{};{};0;",
        text(&config.warn),
        text(&config.crit)
    );
    CheckResult::new(status, output).with_perfdata(perf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vedette_proto::check::Status;

    #[test]
    fn prints_days_hours_minutes() {
        let c = UptimeConfig::from_args(&["-w", "3600:", "-c", "600:"]).expect("config");
        let r = evaluate(&c, 2 * 86_400 + 3 * 3600 + 4 * 60 + 5);
        assert_eq!(r.status, Status::Ok);
        assert_eq!(&*r.output, "UPTIME OK - up 2 days, 3:04");
        assert_eq!(&*r.perfdata, "uptime=183845s;3600:;600:;0;");
        assert_eq!(evaluate(&c, 1800).status, Status::Warning);
        assert_eq!(evaluate(&c, 60).status, Status::Critical);
        assert_eq!(&*evaluate(&c, 86_400).output, "UPTIME OK - up 1 day, 0:00");
    }

    #[test]
    fn parser_never_panics() {
        assert_eq!(parse_uptime("19610.46 25008.79\n"), Some(19610));
        assert_eq!(parse_uptime("1e300 1"), Some(u64::MAX));
        for garbage in ["", "x y", "-5 1", "nan", "inf 2", "\u{0}"] {
            assert_eq!(parse_uptime(garbage), None, "{garbage:?}");
        }
    }

    #[test]
    fn reads_this_machine_and_rejects_bad_flags() {
        let r = Uptime::new(UptimeConfig::from_args(&[]).expect("config")).run();
        assert_eq!(r.status, Status::Ok, "{}", r.output);
        assert!(UptimeConfig::from_args(&["-w", "abc"]).is_err());
        assert!(UptimeConfig::from_args(&["-z"]).is_err());
    }
}
