//! Agent and hub benchmarks (issue 5), against a real `vedette run` in a
//! process of its own.
//!
//! - `hub`: one process simulates many agents ([`sim`]) over mutual TLS
//!   and measures connections held, results acknowledged per second, ack
//!   latency, and the engine's CPU and memory.
//! - `agent-footprint` ([`footprint`]): one real `vedette-agent` with 30
//!   checks a minute, its memory and CPU sampled every second.

mod certs;
mod config;
mod engine;
pub mod footprint;
mod procfs;
mod sim;

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::parse_duration;
use engine::EngineProcess;
use sim::{Fleet, Phase, Plan};

/// Arguments of `vedette-benches hub`.
#[derive(Debug, Clone, clap::Args)]
pub struct HubArgs {
    /// Simulated agents, one mTLS session each.
    #[arg(long, default_value_t = 10_000)]
    pub agents: usize,
    /// Aggregate results per second, spread evenly over the agents.
    #[arg(long, default_value_t = 50_000.0)]
    pub rate: f64,
    /// Measured time, after the connections are up and a warm-up.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Services per agent (each result names one of them).
    #[arg(long, default_value_t = 5)]
    pub services: usize,
    /// How often each agent sends a frame with the results it has.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub flush: Duration,
    /// Threads of the load tool (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// The engine binary (default: `vedette` beside this one).
    #[arg(long)]
    pub vedette: Option<PathBuf>,
}

/// Warm-up between the last connection and the measured window.
const WARM_UP: Duration = Duration::from_secs(5);

/// How long the acks of the last frames may take after sending stops.
const DRAIN: Duration = Duration::from_secs(20);

/// Targets from issue 5.
const TARGET_CONNECTIONS: u64 = 10_000;
const TARGET_RATE: f64 = 50_000.0;

/// A scratch directory removed on drop.
pub(crate) struct Scratch(pub PathBuf);

impl Scratch {
    pub(crate) fn new(tag: &str) -> anyhow::Result<Scratch> {
        Ok(Scratch(crate::scenario::scratch(tag)?))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the hub benchmark and prints its figures.
pub fn run(args: &HubArgs) -> anyhow::Result<()> {
    if args.agents == 0 || args.services == 0 || args.rate <= 0.0 {
        bail!("--agents, --services and --rate must be positive");
    }
    let vedette = engine::binary("vedette", args.vedette.as_deref())?;
    let scratch = Scratch::new("hub")?;
    let state = scratch.0.join("state");
    std::fs::create_dir_all(&state)?;
    let hosts: Vec<String> = (0..args.agents).map(config::host_name).collect();
    let config = config::write_fleet(&scratch.0, args.agents, args.services)?;
    let ids = Arc::new(certs::Identities::issue(&state, &hosts)?);
    let engine = EngineProcess::start(&vedette, &config, &state, args.agents)?;
    let threads = args.threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
    });
    let fleet = Fleet::start(
        Plan {
            addr: engine.agent_addr,
            agents: args.agents,
            services: args.services,
            rate: args.rate,
            flush: args.flush,
            threads,
        },
        ids,
    )?;
    let outcome = measure(args, &engine, &fleet);
    let hist = fleet.finish();
    let (m, hist) = (outcome?, hist?);
    report(args, &engine, &m, &hist)
}

/// What the measured window and the end checks found.
struct Measured {
    connect_s: f64,
    established: u64,
    failed: u64,
    held: u64,
    engine_connected: usize,
    sent_rate: Vec<f64>,
    acked_rate: Vec<f64>,
    wall: f64,
    sent_in_window: u64,
    acked_in_window: u64,
    engine_cpu: f64,
    engine_rss: u64,
    engine_rss_max: u64,
    engine_cpu_windows: Vec<f64>,
    idle_windows: Vec<f64>,
    tool_cpu: f64,
    sent_total: u64,
    acked_total: u64,
    applied_total: u64,
    errors: u64,
    first_error: Option<String>,
}

fn measure(args: &HubArgs, engine: &EngineProcess, fleet: &Fleet) -> anyhow::Result<Measured> {
    let t = &fleet.totals;
    let t0 = Instant::now();
    let mut last_print = Instant::now();
    loop {
        let done = t.established.load(Ordering::Relaxed) + t.failed.load(Ordering::Relaxed);
        if done >= args.agents as u64 {
            break;
        }
        if last_print.elapsed() > Duration::from_secs(5) {
            eprintln!(
                "connecting: {} established, {} failed after {:.0}s",
                t.established.load(Ordering::Relaxed),
                t.failed.load(Ordering::Relaxed),
                t0.elapsed().as_secs_f64()
            );
            last_print = Instant::now();
        }
        if t0.elapsed() > Duration::from_secs(600) {
            bail!("connections not done after 600 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let connect_s = t0.elapsed().as_secs_f64();
    eprintln!(
        "{} sessions up in {connect_s:.1}s ({} failed); sending at {}/s",
        t.established.load(Ordering::Relaxed),
        t.failed.load(Ordering::Relaxed),
        args.rate
    );
    fleet.set_phase(Phase::Run);
    std::thread::sleep(WARM_UP);
    t.measuring.store(true, Ordering::Relaxed);
    let e0 = engine.proc.sample().context("the engine is gone")?;
    let (tool0, _) = crate::proc_stat::cpu_seconds();
    let (sent0, acked0) = (
        t.sent.load(Ordering::Relaxed),
        t.acked.load(Ordering::Relaxed),
    );
    let w0 = Instant::now();
    let mut sent_rate = Vec::new();
    let mut acked_rate = Vec::new();
    let mut rss_max = e0.rss;
    let mut engine_cpu_windows = Vec::new();
    let mut idle_windows = Vec::new();
    let mut cpu_prev = e0.cpu_s;
    let mut idle_prev = machine_idle_s();
    let (mut s_prev, mut a_prev, mut at_prev) = (sent0, acked0, w0);
    let mut next = w0;
    while w0.elapsed() < args.duration {
        next += Duration::from_secs(1);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        let (s, a, now) = (
            t.sent.load(Ordering::Relaxed),
            t.acked.load(Ordering::Relaxed),
            Instant::now(),
        );
        let dt = now.duration_since(at_prev).as_secs_f64();
        sent_rate.push((s - s_prev) as f64 / dt);
        acked_rate.push((a - a_prev) as f64 / dt);
        (s_prev, a_prev, at_prev) = (s, a, now);
        if let Some(e) = engine.proc.sample() {
            rss_max = rss_max.max(e.rss);
            engine_cpu_windows.push((e.cpu_s - cpu_prev) / dt);
            cpu_prev = e.cpu_s;
        }
        let idle = machine_idle_s();
        if let (Some(i1), Some(i0)) = (idle, idle_prev) {
            idle_windows.push((i1 - i0) / dt);
        }
        idle_prev = idle;
    }
    let wall = w0.elapsed().as_secs_f64();
    let e1 = engine.proc.sample().context("the engine is gone")?;
    let (tool1, _) = crate::proc_stat::cpu_seconds();
    t.measuring.store(false, Ordering::Relaxed);
    let sent_in_window = t.sent.load(Ordering::Relaxed) - sent0;
    let acked_in_window = t.acked.load(Ordering::Relaxed) - acked0;
    fleet.set_phase(Phase::Drain);
    // Every agent sees the phase within a tick; a frame already on its
    // way is counted as sent before this wait ends.
    std::thread::sleep(Duration::from_secs(1));
    let d0 = Instant::now();
    while t.acked.load(Ordering::Relaxed) < t.sent.load(Ordering::Relaxed) && d0.elapsed() < DRAIN {
        std::thread::sleep(Duration::from_millis(100));
    }
    let held = t.open.load(Ordering::Relaxed);
    let agents = engine.agents()?;
    let applied_total = agents
        .iter()
        .filter_map(|a| a.get("applied").and_then(serde_json::Value::as_u64))
        .sum();
    let engine_connected = agents
        .iter()
        .filter(|a| a.get("connected").and_then(serde_json::Value::as_bool) == Some(true))
        .count();
    Ok(Measured {
        connect_s,
        established: t.established.load(Ordering::Relaxed),
        failed: t.failed.load(Ordering::Relaxed),
        held,
        engine_connected,
        sent_rate,
        acked_rate,
        wall,
        sent_in_window,
        acked_in_window,
        engine_cpu: (e1.cpu_s - e0.cpu_s) / wall,
        engine_rss: e1.rss,
        engine_rss_max: rss_max,
        engine_cpu_windows,
        idle_windows,
        tool_cpu: (tool1 - tool0) / wall,
        sent_total: t.sent.load(Ordering::Relaxed),
        acked_total: t.acked.load(Ordering::Relaxed),
        applied_total,
        errors: t.errors.load(Ordering::Relaxed),
        first_error: t.first_error.lock().ok().and_then(|e| e.clone()),
    })
}

fn report(
    args: &HubArgs,
    engine: &EngineProcess,
    m: &Measured,
    hist: &hdrhistogram::Histogram<u64>,
) -> anyhow::Result<()> {
    let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    println!(
        "hub: agents={} services={} rate={}/s flush={:?} duration={:.0}s",
        args.agents, args.services, args.rate, args.flush, m.wall
    );
    println!(
        "  connections: established={} in {:.1}s, failed={}, held at end={} (engine: connected={})",
        m.established, m.connect_s, m.failed, m.held, m.engine_connected
    );
    println!(
        "  results/s: sent={:.0} acked={:.0} (medians of 1 s windows; acked min {:.0} max {:.0}; window mean sent {:.0} acked {:.0})",
        median(&m.sent_rate),
        median(&m.acked_rate),
        m.acked_rate.iter().copied().fold(f64::INFINITY, f64::min),
        m.acked_rate.iter().copied().fold(0.0, f64::max),
        m.sent_in_window as f64 / m.wall,
        m.acked_in_window as f64 / m.wall,
    );
    let per_s: Vec<String> = m
        .acked_rate
        .iter()
        .map(|r| format!("{:.1}", r / 1000.0))
        .collect();
    println!("  acked per 1 s window (thousands): {}", per_s.join(" "));
    let pct = |v: &[f64]| {
        v.iter()
            .map(|c| format!("{:.0}", c * 100.0))
            .collect::<Vec<_>>()
            .join(" ")
    };
    println!(
        "  engine cpu % of a core per window: {}",
        pct(&m.engine_cpu_windows)
    );
    println!(
        "  machine idle % of a core per window (all cores): {}",
        pct(&m.idle_windows)
    );
    println!(
        "  ack latency ms: p50={:.2} p99={:.2} p999={:.2} max={:.2} ({} frames)",
        ms(0.5),
        ms(0.99),
        ms(0.999),
        hist.max() as f64 / 1000.0,
        hist.len()
    );
    println!(
        "  engine (pid {}): cpu={:.0}% of a core, rss={:.0} MiB (max {:.0} MiB); load tool: cpu={:.0}% of a core",
        engine.pid(),
        m.engine_cpu * 100.0,
        mib(m.engine_rss),
        mib(m.engine_rss_max),
        m.tool_cpu * 100.0
    );
    let refused = engine.log_count("refused");
    println!(
        "  totals: sent={} acked={} applied (GET /v1/agents)={} error frames/sessions ended={} engine log 'refused' lines={refused}",
        m.sent_total, m.acked_total, m.applied_total, m.errors
    );
    if let Some(e) = &m.first_error {
        println!("  first error: {e}");
    }
    let held_target = TARGET_CONNECTIONS.min(args.agents as u64);
    verdict(
        &format!("target >= {TARGET_CONNECTIONS} concurrent TLS agent connections held"),
        m.held as f64,
        TARGET_CONNECTIONS as f64,
        args.agents as u64 >= TARGET_CONNECTIONS && m.held >= held_target,
    );
    let acked = median(&m.acked_rate);
    verdict(
        &format!("target >= {TARGET_RATE} results/s applied"),
        acked,
        TARGET_RATE,
        acked >= TARGET_RATE,
    );
    if m.applied_total != m.acked_total {
        bail!(
            "the engine applied {} results but acknowledged {}",
            m.applied_total,
            m.acked_total
        );
    }
    println!(
        "  verified: sum of applied over GET /v1/agents = acked = {}",
        m.acked_total
    );
    Ok(())
}

/// Idle CPU seconds of the whole machine (all cores) from /proc/stat:
/// shows whether the engine was short of work or short of CPU.
fn machine_idle_s() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let cpu = stat.lines().next()?.strip_prefix("cpu ")?;
    let f: Vec<f64> = cpu
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    // Fields: user nice system idle iowait ...
    Some((f.get(3)? + f.get(4)?) / hz)
}

/// Prints a target line ending in `met` or `MISSED (by N%)`.
fn verdict(what: &str, got: f64, want: f64, met: bool) {
    if met {
        println!("  {what}: {got:.0} met");
    } else {
        let short = (1.0 - got / want) * 100.0;
        println!("  {what}: {got:.0} MISSED ({short:.0}% short, or not run at that size)");
    }
}

/// The median of `v` (0 when empty).
fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => 0.0,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[]), 0.0);
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
