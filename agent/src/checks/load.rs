//! `load`: the 1/5/15-minute load averages, like `check_load`.
//!
//! Flags as the plugin takes them: `-w 15,10,5 -c 30,25,20` (one value
//! stands for all three, a missing one repeats the previous) and `-r` to
//! divide by the number of online CPUs. A load alerts when it is strictly
//! above its threshold, CRITICAL checked first, as in check_load 2.3.

use std::fmt::Write as _;

use vedette_proto::check::{CheckResult, Status};

use super::args::{ArgError, Flags};

/// Where the kernel publishes the load averages.
const LOADAVG: &str = "/proc/loadavg";
/// Where the kernel lists online CPUs (what `sysconf(_SC_NPROCESSORS_ONLN)` reads).
const CPU_ONLINE: &str = "/sys/devices/system/cpu/online";

/// The `load` check's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadConfig {
    /// Warning thresholds for load1, load5, load15.
    pub warn: [f64; 3],
    /// Critical thresholds for load1, load5, load15.
    pub crit: [f64; 3],
    /// `-r`: judge the load divided by the number of CPUs.
    pub per_cpu: bool,
}

impl LoadConfig {
    /// Reads check_load's flags: `-w`, `-c` (required) and `-r`.
    ///
    /// # Errors
    /// [`ArgError`] for unknown flags, missing or non-numeric thresholds.
    pub fn from_args(args: &[&str]) -> Result<LoadConfig, ArgError> {
        let mut flags = Flags::new(args);
        let (mut warn, mut crit, mut per_cpu) = (None, None, false);
        while let Some(flag) = flags.next_flag() {
            let flag = flag?;
            if flag.is("w", "warning") {
                warn = Some(triple(flag.word, flags.value(&flag)?)?);
            } else if flag.is("c", "critical") {
                crit = Some(triple(flag.word, flags.value(&flag)?)?);
            } else if flag.is("r", "percpu") {
                flag.switch()?;
                per_cpu = true;
            } else {
                return Err(flag.unknown());
            }
        }
        let warn = warn.ok_or(ArgError::Required("-w"))?;
        let crit = crit.ok_or(ArgError::Required("-c"))?;
        // check_load refuses a warning above the critical: it could never fire.
        if warn.iter().zip(crit).any(|(w, c)| *w > c) {
            return Err(ArgError::Inconsistent(
                "warning load is greater than critical load",
            ));
        }
        Ok(LoadConfig {
            warn,
            crit,
            per_cpu,
        })
    }
}

/// Parses `15,10,5`; fewer values repeat the last one given.
fn triple(flag: &str, text: &str) -> Result<[f64; 3], ArgError> {
    let mut out = [0.0; 3];
    let mut parts = text.split(',');
    let mut last = None;
    for slot in &mut out {
        let value = match parts.next() {
            Some(p) => {
                let v = p
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && *v >= 0.0);
                v.ok_or_else(|| {
                    ArgError::invalid(flag, text, "expected up to three non-negative numbers")
                })?
            }
            None => last.ok_or_else(|| ArgError::invalid(flag, text, "empty"))?,
        };
        *slot = value;
        last = Some(value);
    }
    if parts.next().is_some() {
        return Err(ArgError::invalid(flag, text, "more than three values"));
    }
    Ok(out)
}

/// Parses `/proc/loadavg` (`0.10 0.20 0.30 1/87 1234`): the three averages.
pub fn parse_loadavg(text: &str) -> Option<[f64; 3]> {
    let mut fields = text.split_ascii_whitespace();
    let mut out = [0.0; 3];
    for slot in &mut out {
        *slot = fields
            .next()?
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())?;
    }
    Some(out)
}

/// Counts the CPUs in a kernel CPU list (`0-3,6`); `None` when unreadable.
pub fn parse_cpu_list(text: &str) -> Option<u32> {
    let mut count = 0u32;
    for part in text.trim().split(',') {
        let n = match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (a.parse::<u32>().ok()?, b.parse::<u32>().ok()?);
                b.checked_sub(a)?.checked_add(1)?
            }
            None => part.parse::<u32>().map(|_| 1).ok()?,
        };
        count = count.checked_add(n)?;
    }
    (count > 0).then_some(count)
}

/// The `load` check: reads /proc/loadavg each run.
#[derive(Debug, Clone)]
pub struct Load {
    config: LoadConfig,
}

impl Load {
    /// A load check with this configuration.
    pub fn new(config: LoadConfig) -> Load {
        Load { config }
    }

    /// Runs the check once.
    pub fn run(&self) -> CheckResult {
        let text = match std::fs::read_to_string(LOADAVG) {
            Ok(t) => t,
            Err(e) => return super::unknown("LOAD", format_args!("cannot read {LOADAVG}: {e}")),
        };
        let Some(load) = parse_loadavg(&text) else {
            return super::unknown("LOAD", format_args!("cannot parse {LOADAVG}"));
        };
        let cpus = if self.config.per_cpu {
            let list = std::fs::read_to_string(CPU_ONLINE).unwrap_or_default();
            match parse_cpu_list(&list) {
                Some(n) => n,
                None => {
                    return super::unknown(
                        "LOAD",
                        format_args!("cannot count CPUs from {CPU_ONLINE}"),
                    )
                }
            }
        } else {
            1
        };
        evaluate(&self.config, load, cpus)
    }
}

/// Judges `load` (as read, not scaled) against `config`, scaling by `cpus`
/// when `-r` was given; output and perfdata as check_load prints them.
pub fn evaluate(config: &LoadConfig, load: [f64; 3], cpus: u32) -> CheckResult {
    let scaled = load.map(|l| l / f64::from(cpus.max(1)));
    let judged = if config.per_cpu { scaled } else { load };
    let mut status = Status::Ok;
    for ((value, warn), crit) in judged.iter().zip(config.warn).zip(config.crit) {
        if *value > crit {
            status = Status::Critical;
            break;
        } else if *value > warn {
            status = Status::Warning;
        }
    }
    let total = format!(
        "total load average: {:.2}, {:.2}, {:.2}",
        load[0], load[1], load[2]
    );
    let output = if config.per_cpu {
        format!(
            "LOAD {status} - scaled load average: {:.2}, {:.2}, {:.2} - {total}",
            scaled[0], scaled[1], scaled[2]
        )
    } else {
        format!("LOAD {status} - {total}")
    };
    let mut perf = String::new();
    for (i, name) in ["load1", "load5", "load15"].iter().enumerate() {
        let (w, c) = (config.warn[i], config.crit[i]);
        // check_load prints %.3f here, not fperfdata's %f.
        if config.per_cpu {
            let _ = write!(
                perf,
                "{name}={:.3};;;0; scaled_{name}={:.3};{w:.3};{c:.3};0; ",
                load[i], scaled[i]
            );
        } else {
            let _ = write!(perf, "{name}={:.3};{w:.3};{c:.3};0; ", load[i]);
        }
    }
    CheckResult::new(status, output).with_perfdata(perf.trim_end().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(args: &[&str]) -> LoadConfig {
        LoadConfig::from_args(args).expect("config")
    }

    #[test]
    fn flags_read_like_check_load() {
        let c = config(&["-w", "15,10,5", "-c", "30,25,20"]);
        assert_eq!(c.warn, [15.0, 10.0, 5.0]);
        assert_eq!(c.crit, [30.0, 25.0, 20.0]);
        assert!(!c.per_cpu);
        let c = config(&["-r", "--warning=2", "-c3,4"]);
        assert_eq!(c.warn, [2.0; 3]);
        assert_eq!(c.crit, [3.0, 4.0, 4.0]);
        assert!(c.per_cpu);
    }

    #[test]
    fn bad_flags_are_errors() {
        let bad: &[&[&str]] = &[
            &["-w", "1"],
            &["-c", "1"],
            &["-w", "x", "-c", "1"],
            &["-w", "1,2,3,4", "-c", "1"],
            &["-w", "-1", "-c", "1"],
            &["-w", "1,,2", "-c", "1"],
            &["-w", "5", "-c", "1"],
            &["-w", "1,5", "-c", "2,4"],
            &["-w", "1", "-c", "1", "-q"],
            &["-w", "1", "-c", "1", "-rx"],
            &["-w", "1", "-c"],
        ];
        for args in bad {
            assert!(LoadConfig::from_args(args).is_err(), "{args:?}");
        }
    }

    #[test]
    fn loadavg_parser_takes_three_numbers_or_nothing() {
        assert_eq!(
            parse_loadavg("0.10 0.20 0.30 1/87 1234\n"),
            Some([0.1, 0.2, 0.3])
        );
        for garbage in [
            "",
            "0.1 0.2",
            "a b c",
            "0.1 nan 0.3",
            "\u{0}\u{ff}",
            "1 2 inf",
        ] {
            assert_eq!(parse_loadavg(garbage), None, "{garbage:?}");
        }
    }

    #[test]
    fn cpu_lists_count_like_sysconf() {
        let table: &[(&str, Option<u32>)] = &[
            ("0\n", Some(1)),
            ("0-1\n", Some(2)),
            ("0-3,6,8-9", Some(7)),
            ("", None),
            ("3-1", None),
            ("x", None),
            ("0-4294967295", None),
        ];
        for &(text, want) in table {
            assert_eq!(parse_cpu_list(text), want, "{text:?}");
        }
    }

    #[test]
    fn output_and_perfdata_match_the_plugin() {
        let c = config(&["-w", "15,10,5", "-c", "30,25,20"]);
        let r = evaluate(&c, [0.72, 1.32, 2.23], 2);
        assert_eq!(r.status, Status::Ok);
        assert_eq!(&*r.output, "LOAD OK - total load average: 0.72, 1.32, 2.23");
        assert_eq!(
            &*r.perfdata,
            "load1=0.720;15.000;30.000;0; load5=1.320;10.000;25.000;0; load15=2.230;5.000;20.000;0;"
        );
        let c = config(&["-r", "-w", "15,10,5", "-c", "30,25,20"]);
        let r = evaluate(&c, [0.72, 1.32, 2.23], 2);
        assert_eq!(
            &*r.output,
            "LOAD OK - scaled load average: 0.36, 0.66, 1.11 - total load average: 0.72, 1.32, 2.23"
        );
        assert!(r
            .perfdata
            .starts_with("load1=0.720;;;0; scaled_load1=0.360;15.000;30.000;0; load5="));
    }

    #[test]
    fn thresholds_are_strictly_above() {
        let c = config(&["-w", "1", "-c", "2"]);
        assert_eq!(evaluate(&c, [1.0, 1.0, 1.0], 1).status, Status::Ok);
        assert_eq!(evaluate(&c, [0.0, 1.5, 0.0], 1).status, Status::Warning);
        assert_eq!(evaluate(&c, [1.5, 0.0, 2.5], 1).status, Status::Critical);
        let c = config(&["-r", "-w", "1", "-c", "2"]);
        assert_eq!(evaluate(&c, [3.0, 3.0, 3.0], 2).status, Status::Warning);
    }
}
