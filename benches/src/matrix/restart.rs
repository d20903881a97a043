//! `restart`: dummy checks (250K at 60 s by default) with retained state;
//! after a steady window the engine stops (writing its states) and a new
//! one starts on the same config and state dir. The rate over the first
//! minute after the stop, gap included, should stay within 10% of the
//! steady rate: no check storm, no gap (issue 6).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::record::{self, Env};
use super::sample::{Phase, Sample, Sampler};
use super::workload::{Peers, Workload};
use crate::proc_stat::rss_bytes;
use crate::scenario::scratch;
use crate::Load;

/// The steady and restarted rates may differ by this share.
const TOLERANCE: f64 = 0.10;

/// Options of `restart`.
#[derive(Debug, Clone, clap::Args)]
pub struct RestartArgs {
    /// Number of checks.
    #[arg(long, default_value_t = 250_000)]
    pub checks: usize,
    /// Check interval.
    #[arg(long, default_value = "60s", value_parser = crate::parse_duration)]
    pub interval: Duration,
    /// Warm-up before the steady window (default: one interval).
    #[arg(long, value_parser = crate::parse_duration)]
    pub warmup: Option<Duration>,
    /// The steady window measured before the restart.
    #[arg(long, default_value = "60s", value_parser = crate::parse_duration)]
    pub steady: Duration,
    /// The window measured from the stop on.
    #[arg(long, default_value = "60s", value_parser = crate::parse_duration)]
    pub after: Duration,
    /// Scheduler shards (default: one per core).
    #[arg(long)]
    pub shards: Option<usize>,
    /// Where results go (`out/restart/`).
    #[arg(long, default_value = "benches/results")]
    pub out: PathBuf,
}

/// What the restart run measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RestartRecord {
    /// Checks configured.
    pub checks: usize,
    /// Check interval, seconds.
    pub interval_s: f64,
    /// Results per second in the steady window.
    pub steady_per_s: f64,
    /// Results per second from the stop to the end of the after window.
    pub after_per_s: f64,
    /// `after_per_s / steady_per_s`.
    pub ratio: f64,
    /// Stop of the old engine to the new one running, seconds.
    pub gap_s: f64,
    /// The lowest and highest one-second rate after the restart.
    pub after_min_max_per_s: [f64; 2],
    /// Lateness p99 in the steady window and after the restart, ms.
    pub p99_ms: [f64; 2],
    /// Whether the ratio is within 10% of 1.
    pub within_10pct: bool,
    /// Conditions of the run.
    pub env: Env,
    /// Every second of it.
    pub samples: Vec<Sample>,
}

/// Runs the restart scenario and writes `out/restart/restart-checks.*`.
///
/// # Errors
/// When the config or an engine fails.
pub fn run(args: &RestartArgs) -> anyhow::Result<()> {
    let dir = scratch("restart")?;
    let outcome = measure(args, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    let rec = outcome?;
    let out = record::dir(&args.out, "restart")?;
    let stem = format!("restart-{}", rec.checks);
    record::write_json(&out.join(format!("{stem}.json")), &rec)?;
    record::write_csv(&out.join(format!("{stem}.csv")), &rec.samples, rec.checks)?;
    let restarted_at = rec
        .samples
        .iter()
        .find(|s| s.phase == Phase::Restart)
        .map(|s| s.t_s - s.secs);
    super::plot::run(
        &out.join(format!("{stem}.svg")),
        &format!(
            "restart: dummy x {} checks at {:.0} s (red: stop + start)",
            rec.checks, rec.interval_s
        ),
        &rec.samples,
        rec.checks as f64 / rec.interval_s,
        restarted_at.as_slice(),
    )?;
    println!(
        "restart: checks={} steady={:.0}/s first {:.0} s after the stop={:.0}/s ratio={:.3} \
         (within 10%: {}) gap={:.3}s per-second min/max after={:.0}/{:.0} p99 steady/after={:.3}/{:.3} ms load={}",
        rec.checks,
        rec.steady_per_s,
        args.after.as_secs_f64(),
        rec.after_per_s,
        rec.ratio,
        if rec.within_10pct { "met" } else { "MISSED" },
        rec.gap_s,
        rec.after_min_max_per_s[0],
        rec.after_min_max_per_s[1],
        rec.p99_ms[0],
        rec.p99_ms[1],
        rec.env.loadavg
    );
    Ok(())
}

fn measure(args: &RestartArgs, dir: &std::path::Path) -> anyhow::Result<RestartRecord> {
    let load = Load {
        checks: args.checks,
        interval: args.interval,
        duration: args.steady,
        shards: args.shards,
        reload: false,
    };
    let peers = Peers::start(Workload::Dummy)?;
    let cfg = peers.write_config(dir, &load)?;
    // The generated configs retain nothing; a restart on the same state
    // dir is about what was retained.
    let text = std::fs::read_to_string(&cfg)?;
    anyhow::ensure!(
        text.contains("retain_state = false"),
        "the generated config no longer sets retain_state"
    );
    std::fs::write(
        &cfg,
        text.replacen("retain_state = false", "retain_state = true", 1),
    )?;
    let rss0 = rss_bytes();
    let (engine, _) = super::start(&cfg, dir)?;
    let mut sampler = Sampler::start(rss0);
    let t0 = Instant::now();
    let warmup = args.warmup.unwrap_or(args.interval);
    sampler.run_until(&engine, t0 + warmup, Phase::Warmup);
    let steady = sampler.run_until(&engine, t0 + warmup + args.steady, Phase::Measure);
    let stopped = Instant::now();
    engine.stop();
    let (engine, _) = super::start(&cfg, dir)?;
    let gap_s = stopped.elapsed().as_secs_f64();
    sampler.engine_restarted();
    let after = sampler.run_until(&engine, stopped + args.after, Phase::Restart);
    engine.stop();
    let steady_per_s = steady.done as f64 / steady.secs.max(1e-9);
    // The first restart sample starts at the last steady one, so the
    // stop-to-start gap counts against the restart.
    let after_per_s = after.done as f64 / after.secs.max(1e-9);
    let rates: Vec<f64> = sampler
        .samples
        .iter()
        .filter(|s| s.phase == Phase::Restart)
        .map(Sample::rate)
        .collect();
    let ratio = after_per_s / steady_per_s.max(1e-9);
    Ok(RestartRecord {
        checks: args.checks,
        interval_s: args.interval.as_secs_f64(),
        steady_per_s,
        after_per_s,
        ratio,
        gap_s,
        after_min_max_per_s: [
            rates.iter().copied().fold(f64::INFINITY, f64::min),
            rates.iter().copied().fold(0.0, f64::max),
        ],
        p99_ms: [steady.lateness_ms()[1], after.lateness_ms()[1]],
        within_10pct: (ratio - 1.0).abs() <= TOLERANCE,
        env: Env::now(),
        samples: sampler.samples,
    })
}
