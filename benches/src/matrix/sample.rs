//! Per-second samples of a running engine: results applied, dispatch
//! lateness, CPU and resident memory.
//!
//! Each sample takes every shard's write lock once, merges its lateness
//! windows and clears them, so a sample's percentiles cover exactly the
//! second since the previous one (the shards' own windows are a minute
//! long). Nothing else reads those windows while a bench runs: the engine
//! runs in-process without its API.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use vedette::engine::Engine;
use vedette::scheduler::stats::empty_histogram;

use crate::proc_stat::{cpu_seconds, rss_bytes};

/// Which part of a run a sample belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// The first interval: checks splay in; not part of the figures.
    Warmup,
    /// The measured window.
    Measure,
    /// After a restart of the engine on the same state dir.
    Restart,
}

/// One second (about) of a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sample {
    /// Seconds since the first engine started.
    pub t_s: f64,
    /// Seconds this sample covers.
    pub secs: f64,
    /// Which part of the run.
    pub phase: Phase,
    /// Results applied in it.
    pub done: u64,
    /// OK results in it.
    pub ok: u64,
    /// Dispatch lateness p50, p99, p999, max (ms) of the checks started in it.
    pub lateness_ms: [f64; 4],
    /// CPU seconds of the process (and reaped children) in it.
    pub cpu_s: f64,
    /// Resident memory at its end, bytes, less what the process held before
    /// the engine started.
    pub rss_bytes: u64,
}

impl Sample {
    /// Results per second.
    pub fn rate(&self) -> f64 {
        self.done as f64 / self.secs.max(1e-9)
    }
}

/// Sums of the samples of one phase.
pub struct Totals {
    /// Seconds covered.
    pub secs: f64,
    /// Results applied.
    pub done: u64,
    /// OK results.
    pub ok: u64,
    /// CPU seconds.
    pub cpu_s: f64,
    /// The highest resident memory seen (bytes over the start).
    pub rss_max: u64,
    /// Lateness of every check started in the phase (µs).
    pub lateness: Histogram<u64>,
}

impl Totals {
    /// Lateness p50, p99, p999, max in ms.
    pub fn lateness_ms(&self) -> [f64; 4] {
        quantiles_ms(&self.lateness)
    }
}

fn quantiles_ms(h: &Histogram<u64>) -> [f64; 4] {
    let ms = |us: u64| us as f64 / 1000.0;
    [
        ms(h.value_at_quantile(0.5)),
        ms(h.value_at_quantile(0.99)),
        ms(h.value_at_quantile(0.999)),
        ms(h.max()),
    ]
}

/// Takes the samples of one run, across engine restarts.
pub struct Sampler {
    start: Instant,
    last: Instant,
    /// Cumulative results (all, OK) of the current engine at the last sample.
    last_counts: (u64, u64),
    last_cpu: f64,
    rss0: u64,
    /// Every sample so far.
    pub samples: Vec<Sample>,
}

impl Sampler {
    /// Starts the clock once the engine runs; `rss0` is [`rss_bytes`]
    /// from before it loaded its config, so the memory it adds counts.
    pub fn start(rss0: u64) -> Sampler {
        let now = Instant::now();
        Sampler {
            start: now,
            last: now,
            last_counts: (0, 0),
            last_cpu: total_cpu(),
            rss0,
            samples: Vec::new(),
        }
    }

    /// A new engine replaced the old one: its counts start from zero.
    pub fn engine_restarted(&mut self) {
        self.last_counts = (0, 0);
    }

    /// Samples `engine` once a second until `until`, tagging each `phase`,
    /// and returns the totals of those samples.
    pub fn run_until(&mut self, engine: &Engine, until: Instant, phase: Phase) -> Totals {
        let mut totals = Totals {
            secs: 0.0,
            done: 0,
            ok: 0,
            cpu_s: 0.0,
            rss_max: 0,
            lateness: empty_histogram(),
        };
        loop {
            let now = Instant::now();
            if now >= until {
                break;
            }
            let next = self.last + Duration::from_secs(1);
            std::thread::sleep(next.min(until).saturating_duration_since(now));
            let s = self.take(engine, phase, &mut totals.lateness);
            totals.secs += s.secs;
            totals.done += s.done;
            totals.ok += s.ok;
            totals.cpu_s += s.cpu_s;
            totals.rss_max = totals.rss_max.max(s.rss_bytes);
            self.samples.push(s);
        }
        totals
    }

    fn take(&mut self, engine: &Engine, phase: Phase, all: &mut Histogram<u64>) -> Sample {
        let mut lateness = empty_histogram();
        let (mut done, mut ok) = (0, 0);
        let now_ms = engine.clock.now_us() / 1000;
        for shard in &engine.shards {
            let mut core = shard.core.write();
            core.stats.last_minute(now_ms, &mut lateness);
            core.stats.reset_windows(now_ms);
            for (_, counts) in &core.stats.executed {
                done += counts.iter().sum::<u64>();
                ok += counts[0];
            }
        }
        // Same bounds on both sides; an error would only drop this second.
        let _ = all.add(&lateness);
        let now = Instant::now();
        let cpu = total_cpu();
        let s = Sample {
            t_s: now.duration_since(self.start).as_secs_f64(),
            secs: now.duration_since(self.last).as_secs_f64(),
            phase,
            done: done.saturating_sub(self.last_counts.0),
            ok: ok.saturating_sub(self.last_counts.1),
            lateness_ms: quantiles_ms(&lateness),
            cpu_s: cpu - self.last_cpu,
            rss_bytes: rss_bytes().saturating_sub(self.rss0),
        };
        self.last = now;
        self.last_counts = (done, ok);
        self.last_cpu = cpu;
        s
    }
}

/// CPU of this process plus its reaped children.
fn total_cpu() -> f64 {
    let (own, children) = cpu_seconds();
    own + children
}
