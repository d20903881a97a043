//! `cpu`: CPU usage in percent between two /proc/stat samples.
//!
//! The check object keeps the previous sample, so each run reports the
//! usage since the run before it; the first run compares with boot (all
//! counters zero), which is a true average rather than a made-up value.
//! No standard plugin exists, so the form is ours: `-w`/`-c` are Nagios
//! ranges on the percentage busy (`-w 80 -c 95`). Busy is everything but
//! idle and iowait. Output `CPU OK - 12.34% used (user 10.00%, system
//! 2.34%, iowait 0.00%)`; perfdata `cpu=12.34%;80;95;0;100 user=..%;;;0;100
//! system=..%;;;0;100 iowait=..%;;;0;100`.

use vedette_proto::check::CheckResult;

use super::args::{judge, range_flags, ArgError, RangeArg};

/// Where the kernel publishes CPU time counters.
const STAT: &str = "/proc/stat";

/// The `cpu` check's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct CpuConfig {
    /// Warning range on the percentage busy.
    pub warn: Option<RangeArg>,
    /// Critical range on the percentage busy.
    pub crit: Option<RangeArg>,
}

impl CpuConfig {
    /// Reads `-w` and `-c`, both optional Nagios ranges.
    ///
    /// # Errors
    /// [`ArgError`] for unknown flags or values that are not ranges.
    pub fn from_args(args: &[&str]) -> Result<CpuConfig, ArgError> {
        let f = range_flags(args, None)?;
        Ok(CpuConfig {
            warn: f.warn,
            crit: f.crit,
        })
    }
}

/// The all-CPU counters of /proc/stat's `cpu` line, in clock ticks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuSample {
    /// user + nice.
    pub user: u64,
    /// system + irq + softirq.
    pub system: u64,
    /// idle.
    pub idle: u64,
    /// iowait.
    pub iowait: u64,
    /// steal (time a hypervisor gave to someone else).
    pub steal: u64,
}

impl CpuSample {
    fn total(&self) -> u64 {
        self.user
            .saturating_add(self.system)
            .saturating_add(self.idle)
            .saturating_add(self.iowait)
            .saturating_add(self.steal)
    }
}

/// Parses the `cpu ` line of /proc/stat. Guest time is already inside user
/// time, so it is not added again. Kernels before 2.6.11 lack steal: it
/// counts as zero; fewer than five numbers is not a format we know.
pub fn parse_stat(text: &str) -> Option<CpuSample> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let mut n = [0u64; 8];
    let mut count = 0;
    for (slot, word) in n.iter_mut().zip(line.split_ascii_whitespace().skip(1)) {
        *slot = word.parse().ok()?;
        count += 1;
    }
    if count < 5 {
        return None;
    }
    let [user, nice, system, idle, iowait, irq, softirq, steal] = n;
    Some(CpuSample {
        user: user.saturating_add(nice),
        system: system.saturating_add(irq).saturating_add(softirq),
        idle,
        iowait,
        steal,
    })
}

/// The `cpu` check; it keeps the last sample between runs.
#[derive(Debug, Clone)]
pub struct Cpu {
    config: CpuConfig,
    previous: CpuSample,
}

impl Cpu {
    /// A cpu check with this configuration; its first run measures since boot.
    pub fn new(config: CpuConfig) -> Cpu {
        Cpu {
            config,
            previous: CpuSample::default(),
        }
    }

    /// Runs the check once, measuring since the previous run.
    pub fn run(&mut self) -> CheckResult {
        let text = match std::fs::read_to_string(STAT) {
            Ok(t) => t,
            Err(e) => return super::unknown("CPU", format_args!("cannot read {STAT}: {e}")),
        };
        let Some(now) = parse_stat(&text) else {
            return super::unknown("CPU", format_args!("cannot parse the cpu line of {STAT}"));
        };
        let result = evaluate(&self.config, &self.previous, &now);
        self.previous = now;
        result
    }
}

/// Judges the usage between samples `before` and `now`.
pub fn evaluate(config: &CpuConfig, before: &CpuSample, now: &CpuSample) -> CheckResult {
    let dt = now.total().saturating_sub(before.total());
    if dt == 0 {
        // Same tick twice (or counters went backwards): no interval to judge.
        return super::unknown("CPU", "no CPU time passed since the last sample");
    }
    let pct = |a: u64, b: u64| a.saturating_sub(b) as f64 * 100.0 / dt as f64;
    let user = pct(now.user, before.user);
    let system = pct(now.system, before.system);
    let iowait = pct(now.iowait, before.iowait);
    let idle = pct(now.idle, before.idle);
    let busy = (100.0 - idle - iowait).clamp(0.0, 100.0);
    let status = judge(config.warn.as_ref(), config.crit.as_ref(), busy);
    let output = format!(
        "CPU {status} - {busy:.2}% used (user {user:.2}%, system {system:.2}%, iowait {iowait:.2}%)"
    );
    let text = |r: &Option<RangeArg>| r.as_ref().map(|r| r.text.clone()).unwrap_or_default();
    let perf = format!(
        "cpu={busy:.2}%;{};{};0;100 user={user:.2}%;;;0;100 system={system:.2}%;;;0;100 iowait={iowait:.2}%;;;0;100",
        text(&config.warn),
        text(&config.crit)
    );
    CheckResult::new(status, output).with_perfdata(perf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vedette_proto::check::Status;

    const STAT_A: &str = "cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3 4\nintr 5\n";
    const STAT_B: &str = "cpu  160 20 70 900 50 0 0 0 0 0\n";

    #[test]
    fn usage_between_two_samples() {
        let c = CpuConfig::from_args(&["-w", "40", "-c", "90"]).expect("config");
        let a = parse_stat(STAT_A).expect("a");
        let b = parse_stat(STAT_B).expect("b");
        let r = evaluate(&c, &a, &b);
        // 200 ticks passed, 100 idle: 50% busy.
        assert_eq!(r.status, Status::Warning);
        assert_eq!(
            &*r.output,
            "CPU WARNING - 50.00% used (user 40.00%, system 10.00%, iowait 0.00%)"
        );
        assert_eq!(
            &*r.perfdata,
            "cpu=50.00%;40;90;0;100 user=40.00%;;;0;100 system=10.00%;;;0;100 iowait=0.00%;;;0;100"
        );
        assert_eq!(evaluate(&c, &b, &b).status, Status::Unknown);
        assert_eq!(evaluate(&c, &b, &a).status, Status::Unknown);
    }

    #[test]
    fn parser_never_panics() {
        assert_eq!(parse_stat("cpu  1 2 3 4 5\n").map(|s| s.total()), Some(15));
        for garbage in [
            "",
            "cpu",
            "cpu 1 2 3 4",
            "cpu 1 x 3 4 5",
            "cpu0 1 2 3 4 5",
            "\u{0}cpu 1",
        ] {
            assert_eq!(parse_stat(garbage), None, "{garbage:?}");
        }
        let huge = format!("cpu {m} {m} {m} {m} {m} {m} {m} {m}", m = u64::MAX);
        assert!(parse_stat(&huge).is_some());
    }

    #[test]
    fn keeps_the_previous_sample() {
        let mut cpu = Cpu::new(CpuConfig::from_args(&[]).expect("config"));
        let first = cpu.run();
        assert_eq!(first.status, Status::Ok, "{}", first.output);
        assert_ne!(cpu.previous, CpuSample::default());
        assert!(CpuConfig::from_args(&["-w"]).is_err());
    }
}
