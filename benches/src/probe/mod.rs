//! `probe --kind K`: one probe, three ways, in one process run against one
//! peer (issue 3):
//!
//! 1. the bare floor: a loop doing only the probe's syscalls ([`Floor`]);
//! 2. the native probe through the full engine (wheel, state machine,
//!    result), offered at least the floor's rate so it runs flat out;
//! 3. the same command line forked as the real plugin
//!    (`[engine] native_probes = false`), once below saturation (its CPU
//!    per check) and once saturated (its ceiling).
//!
//! A native run that is not possible yet (no native probe for the plugin,
//! or an engine setting the config does not know) is reported as such and
//! the rest still runs.

pub mod kinds;

use std::path::Path;
use std::time::Duration;

use crate::floor::FloorResult;
use crate::scenario::{measure, report, scratch, write_config, Measured};
use crate::Load;
use kinds::{Kind, Spec, Target};

/// Native runs at most per probe (see [`native_runs`]).
const NATIVE_STEPS: usize = 6;

/// Options of `probe`.
#[derive(Debug, Clone, clap::Args)]
pub struct ProbeArgs {
    /// Which probe; all of them, one after the other, when absent.
    #[arg(long, value_enum)]
    pub kind: Option<Kind>,
    /// Native checks per second offered (checks at a 1 s interval), one
    /// run. Default: the target or 1.1 × the floor, whichever is
    /// more, then lower offers while a run cannot keep up.
    #[arg(long)]
    pub rate: Option<usize>,
    /// Measured time of each run (floor, native, each forked run).
    #[arg(long, default_value = "10s", value_parser = crate::parse_duration)]
    pub duration: Duration,
    /// Scheduler shards, and floor threads (default: one per core).
    #[arg(long)]
    pub shards: Option<usize>,
    /// Forked checks per second below saturation, for CPU per check.
    #[arg(long, default_value_t = 40)]
    pub forked_light: usize,
    /// Forked checks per second offered to find the ceiling. Default:
    /// 1.5 × what the cores could do at the light run's CPU per check
    /// (offering far more only piles up processes that time out).
    #[arg(long)]
    pub forked_saturated: Option<usize>,
    /// An extra `[engine]` setting for the native runs, e.g.
    /// `--engine 'tcp_io = "tokio"'` (repeatable): to compare the engine's
    /// own choices within one command.
    #[arg(long = "engine", value_name = "SETTING")]
    pub engine: Vec<String>,
}

/// Runs one kind, or all of them.
///
/// # Errors
/// When a peer, the floor or a run fails; a native run that is not
/// available is not an error.
pub fn run(args: &ProbeArgs) -> anyhow::Result<()> {
    match args.kind {
        Some(k) => run_one(k, args),
        None => {
            let mut failed = Vec::new();
            for k in Kind::ALL {
                if let Err(e) = run_one(k, args) {
                    println!("{}: FAILED: {e:#}", k.name());
                    failed.push(k.name());
                }
            }
            anyhow::ensure!(failed.is_empty(), "failed: {}", failed.join(", "));
            Ok(())
        }
    }
}

fn run_one(kind: Kind, args: &ProbeArgs) -> anyhow::Result<()> {
    let name = kind.name();
    let spec = kinds::spec(kind)?;
    let threads = args.shards.unwrap_or_else(cores);
    let floor = spec.floor.run(threads, args.duration)?;
    println!(
        "{name}/floor: {}, {threads} threads: {:.0}/s, {:.4} cpu-s/1000 checks",
        spec.floor.describe(),
        floor.rate,
        floor.cpu_per_1000
    );
    let dir = scratch(name)?;
    let outcome = runs(name, &spec, &floor, args, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    outcome
}

fn runs(
    name: &str,
    spec: &Spec,
    floor: &FloorResult,
    args: &ProbeArgs,
    dir: &Path,
) -> anyhow::Result<()> {
    let load = |checks: usize| Load {
        checks: checks.max(1),
        interval: Duration::from_secs(1),
        duration: args.duration,
        shards: args.shards,
        reload: false,
    };
    let native = match native_unavailable(&spec.line) {
        Some(why) => {
            println!("{name}/native: not available, the engine would fork it: {why}");
            None
        }
        None => native_runs(name, spec, floor, args, dir, &load)?,
    };
    let forked = |checks: usize, tag: &str| -> anyhow::Result<Measured> {
        let l = load(checks);
        let cfg = write_config(dir, &l, &spec.line, &["native_probes = false"])?;
        let m = measure(&cfg, dir, &l)?;
        report(&format!("{name}/forked-{tag}"), &l, &m);
        Ok(m)
    };
    let light = forked(args.forked_light, "light")?;
    let cores = args.shards.unwrap_or_else(cores) as f64;
    let ceiling = cores / (light.cpu_per_1000 / 1000.0).max(1e-4);
    let saturated = forked(
        args.forked_saturated
            .unwrap_or((ceiling * 1.5).ceil() as usize),
        "saturated",
    )?;
    print_ratios(name, spec, floor, native.as_ref(), &light, &saturated);
    Ok(())
}

/// Native runs, offered the target or 1.1 × the floor at first.
/// A run that falls short of its offer by more than 10% was overloaded
/// (checks queue, time out, and the rate can collapse), so the next offers
/// a little more than it achieved, at least half the previous offer. Once
/// one offer held and a higher one did not, the offers bisect between the
/// two until they are within 15%, up to [`NATIVE_STEPS`] runs in all: an
/// overloaded open-loop run says little about the highest rate that holds,
/// and halving alone would overshoot it. The fastest run is the figure.
fn native_runs(
    name: &str,
    spec: &Spec,
    floor: &FloorResult,
    args: &ProbeArgs,
    dir: &Path,
    load: &dyn Fn(usize) -> Load,
) -> anyhow::Result<Option<Measured>> {
    let first = match spec.target {
        Target::Rate(r) => r.max(floor.rate * 1.1),
        Target::Floor => floor.rate * 1.1,
    };
    let mut offer = args.rate.unwrap_or(first.ceil() as usize);
    let mut best: Option<Measured> = None;
    // The highest offer that held, and the lowest that did not.
    let (mut held, mut failed): (Option<usize>, Option<usize>) = (None, None);
    for _ in 0..NATIVE_STEPS {
        let l = load(offer);
        let settings: Vec<&str> = spec
            .engine
            .iter()
            .copied()
            .chain(args.engine.iter().map(String::as_str))
            .collect();
        let cfg = write_config(dir, &l, &spec.line, &settings)?;
        let m = match measure(&cfg, dir, &l) {
            Ok(m) => m,
            Err(e) if rejected_setting(&e, &settings) => {
                println!(
                    "{name}/native: not available: the engine rejects `{}` ({e:#})",
                    settings.join("`, `")
                );
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        report(&format!("{name}/native"), &l, &m);
        let kept_up = m.ok_rate >= 0.9 * offer as f64;
        let below_half = ((m.ok_rate * 1.05) as usize).max(offer / 2);
        if kept_up {
            held = held.max(Some(offer));
        } else {
            failed = Some(failed.map_or(offer, |f| f.min(offer)));
        }
        if best.as_ref().is_none_or(|b| m.ok_rate > b.ok_rate) {
            best = Some(m);
        }
        if args.rate.is_some() {
            break;
        }
        offer = match (held, failed) {
            (Some(h), Some(f)) if f as f64 > h as f64 * 1.15 => (h + f) / 2,
            (Some(_), _) => break,
            (None, _) => below_half,
        };
    }
    Ok(best)
}

/// The cores this process may use: the engine's default shard count.
fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// Why the engine would fork `line` instead of running it natively.
fn native_unavailable(line: &str) -> Option<String> {
    match vedette::probes::cmdline::compile(line) {
        Ok(_) => None,
        Err(why) => Some(why.to_string()),
    }
}

/// Whether loading failed on one of the scenario's own engine settings
/// (one another branch is adding).
fn rejected_setting(e: &anyhow::Error, settings: &[&str]) -> bool {
    let text = format!("{e:#}");
    text.starts_with("config:")
        && settings.iter().any(|s| {
            let key = s.split('=').next().unwrap_or(s).trim();
            text.contains(key)
        })
}

fn print_ratios(
    name: &str,
    spec: &Spec,
    floor: &FloorResult,
    native: Option<&Measured>,
    light: &Measured,
    saturated: &Measured,
) {
    println!(
        "{name}/forked: saturated at {:.0}/s; {:.4} cpu-s/1000 checks at {:.0}/s, {:.4} saturated",
        saturated.ok_rate, light.cpu_per_1000, light.ok_rate, saturated.cpu_per_1000
    );
    let Some(n) = native else {
        println!("{name}/ratios: no native run");
        return;
    };
    let target = match spec.target {
        Target::Rate(r) => format!("target {r:.0}/s: {}", met(n.ok_rate >= r)),
        Target::Floor => "target: the peer's ceiling (the floor)".to_string(),
    };
    let of_floor = n.ok_rate / floor.rate.max(1.0);
    let ratio = light.cpu_per_1000 / n.cpu_per_1000.max(1e-9);
    println!(
        "{name}/ratios: native {:.0} OK checks/s ({target}); native/floor rate = {of_floor:.2} (>= 0.80: {}); \
         native/floor cpu per check = {:.2}; forked/native cpu per check = {ratio:.0}x (>= 50x: {})",
        n.ok_rate,
        met(of_floor >= 0.8),
        n.cpu_per_1000 / floor.cpu_per_1000.max(1e-9),
        met(ratio >= 50.0)
    );
}

fn met(yes: bool) -> &'static str {
    if yes {
        "met"
    } else {
        "MISSED"
    }
}
