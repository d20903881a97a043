//! `matrix`: issue 6's scenario matrix. Every workload (dummy, tcp, http,
//! icmp, snmp, a mix) at every size (60K, 250K, 1M checks at 60 s) runs
//! in-process against its real peers on loopback, sampled once a second
//! ([`sample`]); then a saturation run per probe ([`saturate`]). Each run
//! leaves `out/label/kind-checks.{json,csv,svg}`; `summary` turns the
//! JSON files into tables ([`summary`]); `restart` is the restart run
//! ([`restart`]); `ablation` runs scenarios with and without core pinning
//! (and on the system allocator) ([`ablation`]).
//!
//! Ground rules: the config generators, peers and command lines are the
//! `scheduler`, `probe` and `mixed` scenarios' own, except that the tcp
//! and http hosts are spread over many loopback addresses
//! ([`workload`]); this module only runs them for longer, samples them
//! and writes what it saw.

pub mod ablation;
pub mod plot;
pub mod record;
pub mod restart;
pub mod sample;
pub mod saturate;
pub mod summary;
pub mod workload;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use vedette::engine::Engine;

use crate::proc_stat::rss_bytes;
use crate::scenario::scratch;
use crate::Load;
use record::RunRecord;
use sample::{Phase, Sampler};
use workload::{round_checks, Peers, Workload};

/// Options of `matrix`.
#[derive(Debug, Clone, clap::Args)]
pub struct MatrixArgs {
    /// Scenario sizes (checks).
    #[arg(long, value_delimiter = ',', default_value = "60000,250000,1000000")]
    pub sizes: Vec<usize>,
    /// Workloads.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "dummy,tcp,http,icmp,snmp,mix"
    )]
    pub kinds: Vec<Workload>,
    /// Check interval.
    #[arg(long, default_value = "60s", value_parser = crate::parse_duration)]
    pub interval: Duration,
    /// Warm-up before the measured window (sampled, not counted); default
    /// one interval, the checks' first splayed pass.
    #[arg(long, value_parser = crate::parse_duration)]
    pub warmup: Option<Duration>,
    /// Measured window.
    #[arg(long, default_value = "60s", value_parser = crate::parse_duration)]
    pub duration: Duration,
    /// Scheduler shards (default: one per core).
    #[arg(long)]
    pub shards: Option<usize>,
    /// Where results go (a directory per label).
    #[arg(long, default_value = "benches/results")]
    pub out: PathBuf,
    /// Name of this set of runs, e.g. `sysalloc` for an ablation.
    #[arg(long, default_value = "matrix")]
    pub label: String,
    /// Skip the saturation runs.
    #[arg(long)]
    pub no_saturation: bool,
    /// Leave the engine's shard threads unpinned (`[engine] pin_cores =
    /// false`).
    #[arg(long)]
    pub no_pin: bool,
    /// Measured window of each saturation step.
    #[arg(long, default_value = "10s", value_parser = crate::parse_duration)]
    pub saturation_duration: Duration,
}

/// Runs every scenario, then the saturation runs; a scenario that fails
/// is reported and the rest still run.
///
/// # Errors
/// When any scenario failed (after all ran).
pub fn run(args: &MatrixArgs) -> anyhow::Result<()> {
    let dir = record::dir(&args.out, &args.label)?;
    let mut failed = Vec::new();
    if args.kinds.len() * args.sizes.len() > 1 {
        // One process per scenario: resident memory per check is only
        // honest in a fresh process (a previous run's freed memory stays
        // mapped), and a scenario that dies takes no other down.
        for &kind in &args.kinds {
            for &size in &args.sizes {
                if let Err(e) = run_child(args, kind, size) {
                    println!("{}/{}-{size}: FAILED: {e:#}", args.label, kind.name());
                    failed.push(format!("{}-{size}", kind.name()));
                }
            }
        }
    } else {
        failed = run_here(args, &dir);
    }
    if !args.no_saturation {
        for &kind in args.kinds.iter().filter(|&&k| k != Workload::Mix) {
            if let Err(e) = saturate::run(kind, args, &dir) {
                println!("{}/saturation-{}: FAILED: {e:#}", args.label, kind.name());
                failed.push(format!("saturation-{}", kind.name()));
            }
        }
    }
    anyhow::ensure!(failed.is_empty(), "failed: {}", failed.join(", "));
    Ok(())
}

/// Runs one scenario in a child process of this binary.
fn run_child(args: &MatrixArgs, kind: Workload, size: usize) -> anyhow::Result<()> {
    let ms = |d: Duration| format!("{}ms", d.as_millis());
    let mut cmd = std::process::Command::new(std::env::current_exe()?);
    cmd.args(["matrix", "--no-saturation", "--kinds", kind.name()])
        .arg(format!("--sizes={size}"))
        .arg(format!("--interval={}", ms(args.interval)))
        .arg(format!("--duration={}", ms(args.duration)))
        .arg("--out")
        .arg(&args.out)
        .arg(format!("--label={}", args.label));
    if let Some(w) = args.warmup {
        cmd.arg(format!("--warmup={}", ms(w)));
    }
    if let Some(n) = args.shards {
        cmd.arg(format!("--shards={n}"));
    }
    if args.no_pin {
        cmd.arg("--no-pin");
    }
    let status = cmd.status()?;
    anyhow::ensure!(status.success(), "exited with {status}");
    Ok(())
}

/// Runs the scenarios in this process; returns the ones that failed.
fn run_here(args: &MatrixArgs, dir: &Path) -> Vec<String> {
    let mut failed = Vec::new();
    for &kind in &args.kinds {
        let peers = match peers(kind, args) {
            Ok(p) => p,
            Err(e) => {
                println!("{}/{}: FAILED: {e:#}", args.label, kind.name());
                failed.push(kind.name().to_string());
                continue;
            }
        };
        for &size in &args.sizes {
            let load = Load {
                checks: round_checks(kind, size),
                interval: args.interval,
                duration: args.duration,
                shards: args.shards,
                reload: false,
            };
            let warmup = args.warmup.unwrap_or(args.interval);
            match run_and_write(&peers, &args.label, dir, &load, warmup) {
                Ok(r) => println!("{}", r.line()),
                Err(e) => {
                    println!("{}/{}-{size}: FAILED: {e:#}", args.label, kind.name());
                    failed.push(format!("{}-{size}", kind.name()));
                }
            }
        }
    }
    failed
}

/// Starts `kind`'s peers, unpinned when `args` say so.
///
/// # Errors
/// When a peer cannot start.
pub fn peers(kind: Workload, args: &MatrixArgs) -> anyhow::Result<Peers> {
    let p = Peers::start(kind)?;
    Ok(if args.no_pin { p.unpinned() } else { p })
}

/// One scenario: run it, write its JSON, CSV and plot.
fn run_and_write(
    peers: &Peers,
    label: &str,
    dir: &Path,
    load: &Load,
    warmup: Duration,
) -> anyhow::Result<RunRecord> {
    let r = run_once(peers, label, load, warmup)?;
    let stem = r.stem();
    record::write_json(&dir.join(format!("{stem}.json")), &r)?;
    record::write_csv(&dir.join(format!("{stem}.csv")), &r.samples, r.checks)?;
    let title = format!(
        "{label}: {} x {} checks at {:.0} s",
        r.kind, r.checks, r.interval_s
    );
    plot::run(
        &dir.join(format!("{stem}.svg")),
        &title,
        &r.samples,
        r.target_per_s,
        &[],
    )?;
    Ok(r)
}

/// Runs `load` of `peers`' workload: start, `warmup`, then the measured
/// window, sampling every second of it.
///
/// # Errors
/// When the config cannot be written or loaded, or the engine cannot start.
pub fn run_once(
    peers: &Peers,
    label: &str,
    load: &Load,
    warmup: Duration,
) -> anyhow::Result<RunRecord> {
    let dir = scratch(&format!("matrix-{}", peers.workload().name()))?;
    let outcome = (|| {
        let cfg = peers.write_config(&dir, load)?;
        let rss0 = rss_bytes();
        let (engine, load_s) = start(&cfg, &dir)?;
        let mut sampler = Sampler::start(rss0);
        let t0 = Instant::now();
        sampler.run_until(&engine, t0 + warmup, Phase::Warmup);
        let totals = sampler.run_until(&engine, t0 + warmup + load.duration, Phase::Measure);
        let problems = crate::scenario::problems(&engine);
        engine.stop();
        let record = RunRecord::new(
            label,
            peers.workload().name(),
            load.checks,
            load.interval.as_secs_f64(),
            &totals,
            load_s,
            sampler.samples,
        );
        Ok(RunRecord { problems, ..record })
    })();
    let _ = std::fs::remove_dir_all(&dir);
    outcome
}

/// Loads `config` and starts an engine on it with `state_dir`; returns it
/// with the load time (seconds).
///
/// # Errors
/// When the config does not load or the engine cannot start.
pub fn start(config: &Path, state_dir: &Path) -> anyhow::Result<(Engine, f64)> {
    let t0 = Instant::now();
    let model = vedette::config::load(config).map_err(|e| anyhow::anyhow!("config: {e}"))?;
    let load_s = t0.elapsed().as_secs_f64();
    let checks = model.services.len();
    let engine = Engine::start(model, config, state_dir)?;
    eprintln!("loaded {checks} checks in {load_s:.3}s");
    Ok((engine, load_s))
}
