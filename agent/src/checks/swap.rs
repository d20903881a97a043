//! `swap`: free swap space, like `check_swap`.
//!
//! Flags: `-w`/`-c` as `N%` (alert when at most N percent is free; 0%
//! never alerts) or `N` (alert when at most N bytes are free), `-n STATE`
//! for a machine without swap (default CRITICAL, as the plugin). Numbers
//! follow check_swap 2.3: sizes are whole MiB from /proc/meminfo, free
//! counts `SwapFree + SwapCached`, byte limits are judged before percent
//! limits, percentages are truncated, and perfdata is
//! `swap=<free>B;<warn>;<crit>;0;<total>` in whole bytes.

use vedette_proto::check::{CheckResult, Status};

use super::args::{ArgError, Flags};
use super::meminfo::{self, Meminfo};

/// A swap threshold: a share of the total, or a byte count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SwapLimit {
    /// `N%`: alert when at most N percent is free (whole percents, as the plugin).
    Percent(u8),
    /// `N`: alert when at most N bytes are free.
    Bytes(u64),
}

impl SwapLimit {
    fn parse(flag: &str, text: &str) -> Result<SwapLimit, ArgError> {
        let bad = || ArgError::invalid(flag, text, "expected N% (0-100) or a byte count");
        match text.strip_suffix('%') {
            Some(p) => match p.parse::<u8>() {
                Ok(p) if p <= 100 => Ok(SwapLimit::Percent(p)),
                _ => Err(bad()),
            },
            None => text.parse::<u64>().map(SwapLimit::Bytes).map_err(|_| bad()),
        }
    }

    /// Whether this byte limit alerts for `free` bytes; percent limits never do.
    fn alerts_bytes(self, free: u64) -> bool {
        matches!(self, SwapLimit::Bytes(b) if free <= b)
    }

    /// Whether this percent limit alerts for `used_pct`; byte limits and
    /// `0%` never do.
    fn alerts_percent(self, used_pct: u64) -> bool {
        matches!(self, SwapLimit::Percent(p) if p != 0 && used_pct >= 100 - u64::from(p))
    }

    /// The threshold in bytes, as the plugin prints it in perfdata.
    fn perf(self, total: u64) -> u64 {
        match self {
            // Integer division first, as the plugin does.
            SwapLimit::Percent(p) => total / 100 * u64::from(p),
            SwapLimit::Bytes(b) => b,
        }
    }
}

/// The `swap` check's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct SwapConfig {
    /// Warning threshold.
    pub warn: SwapLimit,
    /// Critical threshold.
    pub crit: SwapLimit,
    /// The state when there is no swap at all.
    pub no_swap: Status,
}

impl SwapConfig {
    /// Reads check_swap's flags: `-w`, `-c` (required), `-n`.
    ///
    /// # Errors
    /// [`ArgError`] for unknown flags or values that are not thresholds/states.
    pub fn from_args(args: &[&str]) -> Result<SwapConfig, ArgError> {
        let mut flags = Flags::new(args);
        let (mut warn, mut crit, mut no_swap) = (None, None, Status::Critical);
        while let Some(flag) = flags.next_flag() {
            let flag = flag?;
            if flag.is("w", "warning") {
                warn = Some(SwapLimit::parse(flag.word, flags.value(&flag)?)?);
            } else if flag.is("c", "critical") {
                crit = Some(SwapLimit::parse(flag.word, flags.value(&flag)?)?);
            } else if flag.is("n", "no-swap") {
                let v = flags.value(&flag)?;
                no_swap = Status::parse(v)
                    .ok_or_else(|| ArgError::invalid(flag.word, v, "not a state"))?;
            } else {
                return Err(flag.unknown());
            }
        }
        let warn = warn.ok_or(ArgError::Required("-w"))?;
        let crit = crit.ok_or(ArgError::Required("-c"))?;
        // As check_swap: a warning at less free space than the critical
        // could never fire first.
        let inverted = match (warn, crit) {
            (SwapLimit::Percent(w), SwapLimit::Percent(c)) => w < c,
            (SwapLimit::Bytes(w), SwapLimit::Bytes(c)) => w < c,
            _ => false,
        };
        if matches!(
            (warn, crit),
            (
                SwapLimit::Percent(0) | SwapLimit::Bytes(0),
                SwapLimit::Percent(0) | SwapLimit::Bytes(0)
            )
        ) {
            return Err(ArgError::Inconsistent("warning and critical are both zero"));
        }
        if inverted {
            return Err(ArgError::Inconsistent(
                "warning should be more free space than critical",
            ));
        }
        Ok(SwapConfig {
            warn,
            crit,
            no_swap,
        })
    }
}

/// The `swap` check: reads /proc/meminfo each run.
#[derive(Debug, Clone)]
pub struct Swap {
    config: SwapConfig,
}

impl Swap {
    /// A swap check with this configuration.
    pub fn new(config: SwapConfig) -> Swap {
        Swap { config }
    }

    /// Runs the check once.
    pub fn run(&self) -> CheckResult {
        match std::fs::read_to_string(meminfo::MEMINFO) {
            Ok(text) => evaluate(&self.config, &meminfo::parse(&text)),
            Err(e) => super::unknown(
                "SWAP",
                format_args!("cannot read {}: {e}", meminfo::MEMINFO),
            ),
        }
    }
}

/// Judges the swap fields of `info` against `config`.
pub fn evaluate(config: &SwapConfig, info: &Meminfo) -> CheckResult {
    let (Some(total_kib), Some(free_kib)) = (info.swap_total, info.swap_free) else {
        return super::unknown("SWAP", "no SwapTotal/SwapFree in /proc/meminfo");
    };
    const MIB: u64 = 1024 * 1024;
    let total_mb = total_kib / 1024;
    // Each field is cut to whole MiB before adding, as the plugin does;
    // the `min` keeps a racing read from making free exceed total.
    let free_mb = (free_kib / 1024 + info.swap_cached.unwrap_or(0) / 1024).min(total_mb);
    // Saturating: only a corrupt meminfo could overflow, and it must not panic.
    let (total, free) = (total_mb.saturating_mul(MIB), free_mb.saturating_mul(MIB));
    let perf = format!(
        "swap={free}B;{};{};0;{total}",
        config.warn.perf(total),
        config.crit.perf(total)
    );
    if total_mb == 0 {
        let output = format!(
            "SWAP {} - 0% free (0MB out of 0MB) - Swap is either disabled, not present, or of zero size.",
            config.no_swap
        );
        return CheckResult::new(config.no_swap, output).with_perfdata(perf);
    }
    let used_pct = (u128::from(total_mb - free_mb) * 100 / u128::from(total_mb)) as u64;
    let status = if config.crit.alerts_bytes(free) {
        Status::Critical
    } else if config.warn.alerts_bytes(free) {
        Status::Warning
    } else if config.crit.alerts_percent(used_pct) {
        Status::Critical
    } else if config.warn.alerts_percent(used_pct) {
        Status::Warning
    } else {
        Status::Ok
    };
    let output = format!(
        "SWAP {status} - {}% free ({free_mb}MB out of {total_mb}MB)",
        100 - used_pct
    );
    CheckResult::new(status, output).with_perfdata(perf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(total: u64, free: u64) -> Meminfo {
        Meminfo {
            swap_total: Some(total),
            swap_free: Some(free),
            ..Meminfo::default()
        }
    }

    fn config(args: &[&str]) -> SwapConfig {
        SwapConfig::from_args(args).expect("config")
    }

    #[test]
    fn prints_like_check_swap() {
        let r = evaluate(&config(&["-w", "20%", "-c", "10%"]), &info(16380, 16380));
        assert_eq!(r.status, Status::Ok);
        assert_eq!(&*r.output, "SWAP OK - 100% free (15MB out of 15MB)");
        assert_eq!(&*r.perfdata, "swap=15728640B;3145720;1572860;0;15728640");
        let r = evaluate(&config(&["-w", "100%", "-c", "10%"]), &info(16380, 16380));
        assert_eq!(r.status, Status::Warning);
        assert_eq!(&*r.perfdata, "swap=15728640B;15728600;1572860;0;15728640");
    }

    #[test]
    fn no_swap_is_critical_unless_told() {
        let r = evaluate(&config(&["-w", "20%", "-c", "10%"]), &info(0, 0));
        assert_eq!(r.status, Status::Critical);
        assert_eq!(
            &*r.output,
            "SWAP CRITICAL - 0% free (0MB out of 0MB) - Swap is either disabled, not present, or of zero size."
        );
        assert_eq!(&*r.perfdata, "swap=0B;0;0;0;0");
        let r = evaluate(
            &config(&["-w", "20%", "-c", "10%", "-n", "ok"]),
            &info(0, 0),
        );
        assert_eq!(r.status, Status::Ok);
    }

    #[test]
    fn thresholds_in_percent_and_bytes() {
        let c = config(&["-w", "50%", "-c", "10%"]);
        assert_eq!(evaluate(&c, &info(102400, 51200)).status, Status::Warning);
        assert_eq!(evaluate(&c, &info(102400, 60000)).status, Status::Ok);
        assert_eq!(evaluate(&c, &info(102400, 5000)).status, Status::Critical);
        let c = config(&["-w", "2097152", "-c", "1048576"]);
        assert_eq!(evaluate(&c, &info(102400, 2048)).status, Status::Warning);
        assert_eq!(evaluate(&c, &info(102400, 1024)).status, Status::Critical);
        // Byte limits are judged before percent limits, as the plugin does.
        let c = config(&["-w", "2097152", "-c", "50%"]);
        assert_eq!(evaluate(&c, &info(102400, 2048)).status, Status::Warning);
        // SwapCached counts as free.
        let cached = Meminfo {
            swap_cached: Some(40960),
            ..info(102400, 10240)
        };
        assert_eq!(
            &*evaluate(&c, &cached).output,
            "SWAP CRITICAL - 50% free (50MB out of 100MB)"
        );
        // Free above total (a kernel race) must not underflow.
        assert_eq!(evaluate(&c, &info(102400, 999_999)).status, Status::Ok);
        assert_eq!(evaluate(&c, &Meminfo::default()).status, Status::Unknown);
    }

    #[test]
    fn bad_flags_are_errors() {
        let bad: &[&[&str]] = &[
            &["-w", "20%"],
            &["-w", "x", "-c", "1"],
            &["-w", "120%", "-c", "1"],
            &["-w", "-5", "-c", "1"],
            &["-w", "1", "-c", "1", "-n", "maybe"],
            &["-w", "1", "-c", "1", "-a"],
            &["-w", "10%", "-c", "20%"],
            &["-w", "10", "-c", "20"],
            &["-w", "0%", "-c", "0"],
            &["-w", "20.5%", "-c", "10%"],
        ];
        for args in bad {
            assert!(SwapConfig::from_args(args).is_err(), "{args:?}");
        }
    }
}
