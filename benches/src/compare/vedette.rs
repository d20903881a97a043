//! Vedette's side: the engine in this process (as the probe scenarios run
//! it), natively or forking the plugin. Nothing else runs in this process
//! during a window (the peers are processes of their own), so its CPU is
//! the engine's, and its reaped children's CPU the plugins'.

use std::path::Path;
use std::time::{Duration, Instant};

use vedette::engine::Engine;

use super::run::Run;
use crate::proc_stat::{cpu_seconds, rss_bytes};
use crate::scenario::write_config;
use crate::Load;

/// Runs `checks` services of `line` every `interval`, natively or forked,
/// and measures `duration` after one interval of warm-up.
///
/// # Errors
/// When the config does not load or the engine does not start.
pub fn run(
    dir: &Path,
    line: &str,
    native: bool,
    checks: usize,
    interval: Duration,
    duration: Duration,
) -> anyhow::Result<Run> {
    let load = Load {
        checks,
        interval,
        duration,
        shards: None,
        reload: false,
    };
    let engine_settings: &[&str] = if native {
        &[]
    } else {
        &["native_probes = false"]
    };
    let cfg = write_config(dir, &load, line, engine_settings)?;
    let model = vedette::config::load(&cfg).map_err(|e| anyhow::anyhow!("config: {e}"))?;
    let engine = Engine::start(model, &cfg, dir)?;
    std::thread::sleep(interval + Duration::from_secs(2));
    let outcome = window(&engine, checks as f64 / interval.as_secs_f64(), duration);
    engine.stop();
    Ok(outcome)
}

/// Measures one window: rates from the engine's own result counters,
/// lateness medians of its first and last thirds from its histograms.
fn window(engine: &Engine, offered: f64, duration: Duration) -> Run {
    let third = duration / 3;
    engine.reset_windows();
    let done0 = results(engine);
    let cpu0 = cpu();
    let t0 = Instant::now();
    std::thread::sleep(third);
    let first = median_lateness_s(engine);
    std::thread::sleep((third * 2).saturating_sub(t0.elapsed()));
    engine.reset_windows();
    std::thread::sleep(duration.saturating_sub(t0.elapsed()));
    let last = median_lateness_s(engine);
    let wall = t0.elapsed().as_secs_f64();
    let cpu1 = cpu();
    let done1 = results(engine);
    Run {
        offered,
        done: (done1[0] - done0[0]) as f64 / wall,
        ok: (done1[1] - done0[1]) as f64 / wall,
        cpu_share: (cpu1 - cpu0) / wall,
        rss_bytes: rss_bytes(),
        latency_s: [first, last],
        example: problem(engine),
    }
}

/// The output of one check whose last result is not OK.
fn problem(engine: &Engine) -> Option<String> {
    engine.shards.iter().find_map(|shard| {
        let core = shard.core.read();
        let found = core.slots().find_map(|slot| {
            let last = slot.last.as_ref()?;
            (last.result.status != vedette::check::Status::Ok)
                .then(|| format!("{}: {}", last.result.status, last.result.output))
        });
        found
    })
}

/// Cumulative results: all of them, and the OK ones.
fn results(engine: &Engine) -> [u64; 2] {
    engine
        .figures()
        .executed
        .iter()
        .fold([0, 0], |[all, ok], (_, c)| {
            [all + c.iter().sum::<u64>(), ok + c[0]]
        })
}

fn median_lateness_s(engine: &Engine) -> f64 {
    engine.figures().lateness.value_at_quantile(0.5) as f64 / 1e6
}

/// This process's CPU and its reaped children's (forked plugins).
fn cpu() -> f64 {
    let (own, children) = cpu_seconds();
    own + children
}
