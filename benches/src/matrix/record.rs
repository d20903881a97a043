//! What the matrix writes: one JSON record per run (figures and samples),
//! the samples again as CSV for other tools, and the machine's conditions.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::sample::{Phase, Sample, Totals};

/// One scenario run: a workload at a size and interval.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRecord {
    /// The run's group (`matrix`, `sysalloc`, ...): its directory.
    pub label: String,
    /// Workload name.
    pub kind: String,
    /// Checks configured.
    pub checks: usize,
    /// Check interval, seconds.
    pub interval_s: f64,
    /// Checks per second asked for: checks / interval.
    pub target_per_s: f64,
    /// Results applied per second in the measured window.
    pub achieved_per_s: f64,
    /// OK results per second in it.
    pub ok_per_s: f64,
    /// Lateness p50, p99, p999, max (ms) over the measured window.
    pub lateness_ms: [f64; 4],
    /// CPU seconds per 1,000 checks.
    pub cpu_s_per_1000: f64,
    /// CPU as a share of one core.
    pub cpu_share: f64,
    /// Highest resident memory added, per check (bytes).
    pub rss_per_check: f64,
    /// Config load and validation, seconds.
    pub load_s: f64,
    /// Conditions of the run.
    pub env: Env,
    /// Up to three distinct outputs of checks left in a problem state at
    /// the end, so a rate that was missed says why.
    #[serde(default)]
    pub problems: Vec<String>,
    /// Every second of it.
    pub samples: Vec<Sample>,
}

impl RunRecord {
    /// The figures of `checks` at `interval_s` from the measured `totals`.
    pub fn new(
        label: &str,
        kind: &str,
        checks: usize,
        interval_s: f64,
        totals: &Totals,
        load_s: f64,
        samples: Vec<Sample>,
    ) -> RunRecord {
        let secs = totals.secs.max(1e-9);
        RunRecord {
            label: label.to_string(),
            kind: kind.to_string(),
            checks,
            interval_s,
            target_per_s: checks as f64 / interval_s,
            achieved_per_s: totals.done as f64 / secs,
            ok_per_s: totals.ok as f64 / secs,
            lateness_ms: totals.lateness_ms(),
            cpu_s_per_1000: totals.cpu_s / totals.done.max(1) as f64 * 1000.0,
            cpu_share: totals.cpu_s / secs,
            rss_per_check: totals.rss_max as f64 / checks.max(1) as f64,
            load_s,
            env: Env::now(),
            problems: Vec::new(),
            samples,
        }
    }

    /// The median over the measured seconds of each second's lateness
    /// p99 (ms): the typical second, which a few seconds of a busy
    /// machine do not move the way they move the window's p99.
    pub fn median_second_p99_ms(&self) -> f64 {
        let mut p99: Vec<f64> = self
            .samples
            .iter()
            .filter(|s| s.phase == Phase::Measure)
            .map(|s| s.lateness_ms[1])
            .collect();
        p99.sort_by(f64::total_cmp);
        p99.get(p99.len() / 2).copied().unwrap_or(0.0)
    }

    /// `kind-checks`, the stem of its files.
    pub fn stem(&self) -> String {
        format!("{}-{}", self.kind, self.checks)
    }

    /// The report: one line, then the problems seen.
    pub fn line(&self) -> String {
        let l = &self.lateness_ms;
        let problems: String = self
            .problems
            .iter()
            .map(|p| format!("\n  e.g. {p}"))
            .collect();
        format!(
            "{}/{}: checks={} target={:.0}/s achieved={:.0}/s ok={:.0}/s lateness_ms p50={:.3} \
             p99={:.3} p999={:.3} max={:.3} cpu={:.1}% of a core, {:.4} cpu-s/1000 checks, \
             rss={:.0} B/check, load={} ({}){problems}",
            self.label,
            self.kind,
            self.checks,
            self.target_per_s,
            self.achieved_per_s,
            self.ok_per_s,
            l[0],
            l[1],
            l[2],
            l[3],
            self.cpu_share * 100.0,
            self.cpu_s_per_1000,
            self.rss_per_check,
            self.env.loadavg,
            self.env.allocator
        )
    }
}

/// Conditions a run was measured in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Env {
    /// Unix time at the end of the run.
    pub unix_s: u64,
    /// /proc/loadavg's 1, 5 and 15 minute figures: the machine is shared.
    pub loadavg: String,
    /// `mimalloc` or `system`.
    pub allocator: String,
    /// CPUs this process may use.
    pub cpus: usize,
}

impl Env {
    /// The conditions now.
    pub fn now() -> Env {
        let loadavg = std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ");
        Env {
            unix_s: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            loadavg,
            allocator: crate::ALLOCATOR.to_string(),
            cpus: std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
        }
    }
}

/// `out/label`, created.
///
/// # Errors
/// When it cannot be created.
pub fn dir(out: &Path, label: &str) -> anyhow::Result<PathBuf> {
    let d = out.join(label);
    std::fs::create_dir_all(&d).with_context(|| format!("create {}", d.display()))?;
    Ok(d)
}

/// Writes `value` as pretty JSON to `path`.
///
/// # Errors
/// When it cannot be written.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    std::fs::write(path, text).with_context(|| format!("write {}", path.display()))
}

/// Writes the samples as CSV, one row a second, with the rates derived.
///
/// # Errors
/// When it cannot be written.
pub fn write_csv(path: &Path, samples: &[Sample], checks: usize) -> anyhow::Result<()> {
    use std::fmt::Write;
    let mut t = String::from(
        "t_s,phase,checks_per_s,ok_per_s,lateness_p50_ms,lateness_p99_ms,lateness_p999_ms,\
         lateness_max_ms,cpu_s_per_1000,rss_bytes_per_check\n",
    );
    for s in samples {
        let l = &s.lateness_ms;
        writeln!(
            t,
            "{:.3},{},{:.1},{:.1},{:.3},{:.3},{:.3},{:.3},{:.5},{:.1}",
            s.t_s,
            serde_json::to_value(s.phase)?.as_str().unwrap_or("?"),
            s.rate(),
            s.ok as f64 / s.secs.max(1e-9),
            l[0],
            l[1],
            l[2],
            l[3],
            s.cpu_s / s.done.max(1) as f64 * 1000.0,
            s.rss_bytes as f64 / checks.max(1) as f64
        )?;
    }
    std::fs::write(path, t).with_context(|| format!("write {}", path.display()))
}
