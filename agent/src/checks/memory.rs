//! `memory`: how much RAM is in use, from /proc/meminfo's `MemAvailable`.
//!
//! No standard plugin exists, so the form is ours, kept in the family style:
//! `-w`/`-c` are Nagios ranges on the percentage used (`-w 80 -c 90` alerts
//! above 80 and 90 percent). "Used" is `MemTotal - MemAvailable`: the
//! kernel's own estimate of what cannot be had without swapping, so page
//! cache does not count as used.
//!
//! Output: `MEMORY OK - 45% used (1809MiB of 4000MiB, 2191MiB available)`;
//! perfdata: `used_pct=45.2%;80;90;0;100 used=<bytes>B;;;0;<total>
//! available=<bytes>B;;;0;<total>`.

use vedette_proto::check::CheckResult;

use super::args::{judge, range_flags, ArgError, RangeArg};
use super::meminfo::{self, Meminfo};

/// The `memory` check's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryConfig {
    /// Warning range on the percentage used.
    pub warn: Option<RangeArg>,
    /// Critical range on the percentage used.
    pub crit: Option<RangeArg>,
}

impl MemoryConfig {
    /// Reads `-w` and `-c`, both optional Nagios ranges.
    ///
    /// # Errors
    /// [`ArgError`] for unknown flags or values that are not ranges.
    pub fn from_args(args: &[&str]) -> Result<MemoryConfig, ArgError> {
        let f = range_flags(args, None)?;
        Ok(MemoryConfig {
            warn: f.warn,
            crit: f.crit,
        })
    }
}

/// The `memory` check: reads /proc/meminfo each run.
#[derive(Debug, Clone)]
pub struct Memory {
    config: MemoryConfig,
}

impl Memory {
    /// A memory check with this configuration.
    pub fn new(config: MemoryConfig) -> Memory {
        Memory { config }
    }

    /// Runs the check once.
    pub fn run(&self) -> CheckResult {
        match std::fs::read_to_string(meminfo::MEMINFO) {
            Ok(text) => evaluate(&self.config, &meminfo::parse(&text)),
            Err(e) => super::unknown(
                "MEMORY",
                format_args!("cannot read {}: {e}", meminfo::MEMINFO),
            ),
        }
    }
}

/// Judges the memory fields of `info` against `config`.
pub fn evaluate(config: &MemoryConfig, info: &Meminfo) -> CheckResult {
    let (Some(total_kib), Some(avail_kib)) = (info.mem_total, info.mem_available) else {
        return super::unknown(
            "MEMORY",
            "no MemTotal/MemAvailable in /proc/meminfo (kernel older than 3.14?)",
        );
    };
    if total_kib == 0 {
        return super::unknown("MEMORY", "MemTotal is 0");
    }
    let avail_kib = avail_kib.min(total_kib);
    let used_kib = total_kib - avail_kib;
    let used_pct = used_kib as f64 * 100.0 / total_kib as f64;
    let status = judge(config.warn.as_ref(), config.crit.as_ref(), used_pct);
    let mib = |kib: u64| kib / 1024;
    let output = format!(
        "MEMORY {status} - {used_pct:.0}% used ({}MiB of {}MiB, {}MiB available)",
        mib(used_kib),
        mib(total_kib),
        mib(avail_kib)
    );
    let text = |r: &Option<RangeArg>| r.as_ref().map(|r| r.text.clone()).unwrap_or_default();
    let (total, used, avail) = (
        total_kib.saturating_mul(1024),
        used_kib.saturating_mul(1024),
        avail_kib.saturating_mul(1024),
    );
    let perf = format!(
        "used_pct={used_pct:.2}%;{};{};0;100 used={used}B;;;0;{total} available={avail}B;;;0;{total}",
        text(&config.warn),
        text(&config.crit)
    );
    CheckResult::new(status, output).with_perfdata(perf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vedette_proto::check::Status;

    fn info(total: u64, avail: u64) -> Meminfo {
        Meminfo {
            mem_total: Some(total),
            mem_available: Some(avail),
            ..Meminfo::default()
        }
    }

    #[test]
    fn prints_used_and_available() {
        let c = MemoryConfig::from_args(&["-w", "80", "-c", "90"]).expect("config");
        let r = evaluate(&c, &info(4_096_000, 2_048_000));
        assert_eq!(r.status, Status::Ok);
        assert_eq!(
            &*r.output,
            "MEMORY OK - 50% used (2000MiB of 4000MiB, 2000MiB available)"
        );
        assert_eq!(
            &*r.perfdata,
            "used_pct=50.00%;80;90;0;100 used=2097152000B;;;0;4194304000 available=2097152000B;;;0;4194304000"
        );
        assert_eq!(evaluate(&c, &info(1000, 150)).status, Status::Warning);
        assert_eq!(evaluate(&c, &info(1000, 50)).status, Status::Critical);
    }

    #[test]
    fn odd_meminfo_is_unknown_not_a_panic() {
        let c = MemoryConfig::from_args(&[]).expect("config");
        assert_eq!(evaluate(&c, &Meminfo::default()).status, Status::Unknown);
        assert_eq!(evaluate(&c, &info(0, 0)).status, Status::Unknown);
        assert_eq!(evaluate(&c, &info(10, 20)).status, Status::Ok);
    }

    #[test]
    fn bad_flags_are_errors() {
        for args in [&["-w", "x"][..], &["-c", "9:1"], &["-m"], &["-w"]] {
            assert!(MemoryConfig::from_args(args).is_err(), "{args:?}");
        }
    }

    #[test]
    fn reads_this_machine() {
        let r = Memory::new(MemoryConfig::from_args(&["-w", "101"]).expect("config")).run();
        assert_eq!(r.status, Status::Ok, "{}", r.output);
    }
}
