//! Running the engine in-process on a generated config and measuring it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use vedette::engine::Engine;

use crate::proc_stat::{cpu_seconds, rss_bytes};
use crate::Load;

/// What one run measured.
pub struct Measured {
    /// Checks configured.
    pub checks: usize,
    /// Config load + validation time.
    pub load_s: f64,
    /// Results applied per second over the measured window.
    pub rate: f64,
    /// OK results per second: a check that failed (engine error, timeout,
    /// late reply) is not throughput.
    pub ok_rate: f64,
    /// Engine CPU seconds (with forked plugins) per 1,000 checks.
    pub cpu_per_1000: f64,
    /// Engine CPU as a share of one core.
    pub cpu_share: f64,
    /// Resident memory added by the engine, per check.
    pub rss_per_check: f64,
    /// Up to three distinct outputs of checks left in a problem state.
    pub problems: Vec<String>,
    /// Lateness p50, p99, p999, max (ms), last minute.
    pub lateness_ms: [f64; 4],
    /// Results in the measured window by probe name and state (OK,
    /// WARNING, CRITICAL, UNKNOWN): a rate of failures is no benchmark.
    pub results: Vec<(&'static str, [u64; 4])>,
}

/// A scratch directory for generated configs and the state dir.
pub fn scratch(tag: &str) -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("vedette-bench-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    Ok(dir)
}

/// Writes a config of `checks` services spread 30 per host, all running
/// `line`, attached through one host group so the file stays small.
/// `engine` holds extra `[engine]` settings (`native_probes = false`).
/// Every host's address is 127.0.0.1.
pub fn write_config(
    dir: &Path,
    load: &Load,
    line: &str,
    engine: &[&str],
) -> anyhow::Result<PathBuf> {
    write_config_at(dir, load, line, engine, |_| "127.0.0.1".to_string())
}

/// [`write_config`] with host `h`'s address `address(h)` (its
/// `$HOSTADDRESS$`).
pub fn write_config_at(
    dir: &Path,
    load: &Load,
    line: &str,
    engine: &[&str],
    address: impl Fn(usize) -> String,
) -> anyhow::Result<PathBuf> {
    use std::fmt::Write;
    let per_host = 30;
    let hosts = load.checks.div_ceil(per_host);
    let mut t = String::with_capacity(hosts * 40 + 4096);
    let interval = load.interval.as_secs_f64();
    write_engine(&mut t, load, engine)?;
    writeln!(t, "[commands.c]\nline = \"{line}\"")?;
    writeln!(t, "[hostgroups.all]\n[hostgroups.rest]")?;
    // Full hosts get every service; the last host only what is left.
    let last = load.checks - (hosts - 1) * per_host;
    for h in 0..hosts {
        let g = if h + 1 == hosts && last < per_host {
            "rest"
        } else {
            "all"
        };
        writeln!(
            t,
            "[hosts.h{h}]\naddress = \"{}\"\ngroups = [\"{g}\"]",
            address(h)
        )?;
    }
    for s in 0..per_host {
        let groups = if s < last {
            "[\"all\", \"rest\"]"
        } else {
            "[\"all\"]"
        };
        writeln!(
            t,
            "[[services]]\nhostgroups = {groups}\nname = \"s{s}\"\ncheck = \"c\"\ncheck_interval = \"{interval}s\"\nretry_interval = \"{interval}s\""
        )?;
    }
    let path = dir.join("bench.toml");
    std::fs::write(&path, t)?;
    Ok(path)
}

/// Writes the `[engine]` table: the shard count and `extra` settings.
/// Hosts get no default `hostalive` ping (a scenario measures its own
/// checks only) and no states are retained (the run's end would write a
/// file of every check).
pub fn write_engine(t: &mut String, load: &Load, extra: &[&str]) -> std::fmt::Result {
    use std::fmt::Write;
    writeln!(t, "[engine]")?;
    writeln!(t, "default_host_check = false")?;
    writeln!(t, "retain_state = false")?;
    if let Some(n) = load.shards {
        writeln!(t, "shards = {n}")?;
    }
    for e in extra {
        writeln!(t, "{e}")?;
    }
    Ok(())
}

/// Loads `config`, runs the engine through one interval of warm-up and then
/// `load.duration`, and measures.
pub fn measure(config: &Path, state_dir: &Path, load: &Load) -> anyhow::Result<Measured> {
    let rss0 = rss_bytes();
    let t0 = Instant::now();
    let model = vedette::config::load(config).map_err(|e| anyhow::anyhow!("config: {e}"))?;
    let load_s = t0.elapsed().as_secs_f64();
    let checks = model.services.len();
    let engine = Engine::start(model, config, state_dir)?;
    let rss = rss_bytes().saturating_sub(rss0);
    eprintln!(
        "loaded {checks} checks in {load_s:.3}s; warming up for {:?}",
        load.interval
    );
    std::thread::sleep(load.interval + Duration::from_secs(2));
    engine.reset_windows();
    let rss = rss.max(rss_bytes().saturating_sub(rss0));
    let results0 = engine.figures().executed;
    let cpu0 = total_cpu();
    let w0 = Instant::now();
    if load.reload {
        std::thread::sleep(load.duration / 2);
        let r0 = Instant::now();
        let outcome = std::thread::scope(|s| s.spawn(|| engine.reload()).join());
        match outcome {
            Ok(Ok(r)) => eprintln!(
                "reloaded {} checks in {:.3}s while checks ran",
                r.checks,
                r0.elapsed().as_secs_f64()
            ),
            Ok(Err(e)) => anyhow::bail!("reload failed: {e}"),
            Err(_) => anyhow::bail!("reload thread panicked"),
        }
        std::thread::sleep(load.duration.saturating_sub(w0.elapsed()));
    } else {
        std::thread::sleep(load.duration);
    }
    let wall = w0.elapsed().as_secs_f64();
    let cpu1 = total_cpu();
    let f = engine.figures();
    let results = delta(&f.executed, &results0);
    let done: u64 = results.iter().map(|(_, c)| c.iter().sum::<u64>()).sum();
    let h = &f.lateness;
    let ms = |us: u64| us as f64 / 1000.0;
    let m = Measured {
        checks,
        load_s,
        rate: done as f64 / wall,
        ok_rate: results.iter().map(|(_, c)| c[0]).sum::<u64>() as f64 / wall,
        cpu_per_1000: (cpu1 - cpu0) / (done.max(1) as f64) * 1000.0,
        cpu_share: (cpu1 - cpu0) / wall,
        rss_per_check: rss as f64 / checks.max(1) as f64,
        lateness_ms: [
            ms(h.value_at_quantile(0.5)),
            ms(h.value_at_quantile(0.99)),
            ms(h.value_at_quantile(0.999)),
            ms(h.max()),
        ],
        results,
        problems: Vec::new(),
    };
    let m = Measured {
        problems: problems(&engine),
        ..m
    };
    engine.stop();
    Ok(m)
}

/// Up to three distinct outputs of checks whose last result is not OK,
/// so a run that missed its rate says why.
pub(crate) fn problems(engine: &Engine) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for shard in &engine.shards {
        let core = shard.core.read();
        for slot in core.slots() {
            let Some(last) = &slot.last else { continue };
            if last.result.status == vedette::check::Status::Ok {
                continue;
            }
            let text = format!("{}: {}", last.result.status, last.result.output);
            if !seen.contains(&text) {
                seen.push(text);
            }
            if seen.len() >= 3 {
                return seen;
            }
        }
    }
    seen
}

/// CPU of this process plus its reaped children (forked plugins).
fn total_cpu() -> f64 {
    let (own, children) = cpu_seconds();
    own + children
}

/// Results by probe and state between two cumulative snapshots.
fn delta(
    now: &[(&'static str, [u64; 4])],
    before: &[(&'static str, [u64; 4])],
) -> Vec<(&'static str, [u64; 4])> {
    now.iter()
        .map(|(probe, c)| {
            let b = before
                .iter()
                .find(|(p, _)| p == probe)
                .map_or([0; 4], |(_, b)| *b);
            (*probe, std::array::from_fn(|i| c[i].saturating_sub(b[i])))
        })
        .collect()
}

/// Prints one result line.
pub fn report(name: &str, load: &Load, m: &Measured) {
    let target = m.checks as f64 / load.interval.as_secs_f64();
    println!(
        "{name}: checks={} interval={:?} load={:.3}s target={:.0}/s achieved={:.0}/s \
ok={:.0}/s lateness_ms p50={:.3} p99={:.3} p999={:.3} max={:.3} \
         cpu={:.1}% of a core, {:.4} cpu-s/1000 checks, rss={:.0} B/check",
        m.checks,
        load.interval,
        m.load_s,
        target,
        m.rate,
        m.ok_rate,
        m.lateness_ms[0],
        m.lateness_ms[1],
        m.lateness_ms[2],
        m.lateness_ms[3],
        m.cpu_share * 100.0,
        m.cpu_per_1000,
        m.rss_per_check
    );
    for (probe, c) in &m.results {
        println!(
            "  results by {probe}: ok={} warning={} critical={} unknown={}",
            c[0], c[1], c[2], c[3]
        );
    }
    for p in &m.problems {
        println!("  e.g. {p}");
    }
}

/// `scheduler`: dummy checks.
pub fn scheduler(load: &Load) -> anyhow::Result<()> {
    let dir = scratch("scheduler")?;
    let cfg = write_config(&dir, load, "check_dummy 0 ok", &[])?;
    let m = measure(&cfg, &dir, load)?;
    report("scheduler/dummy", load, &m);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
