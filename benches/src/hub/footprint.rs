//! `agent-footprint`: one real `vedette-agent`, enrolled with a token
//! against a real engine that assigns it 30 checks a minute (the
//! built-in load, memory, disk, cpu and net checks and one plugin), its
//! resident memory and CPU read from /proc every second.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use super::config;
use super::engine::{self, EngineProcess};
use super::procfs::ProcView;
use super::{median, Scratch};
use crate::parse_duration;

/// Arguments of `vedette-benches agent-footprint`.
#[derive(Debug, Clone, clap::Args)]
pub struct FootprintArgs {
    /// Measured time, after the first round of checks.
    #[arg(long, default_value = "120s", value_parser = parse_duration)]
    pub duration: Duration,
    /// The engine binary (default: `vedette` beside this one).
    #[arg(long)]
    pub vedette: Option<PathBuf>,
    /// The agent binary (default: `vedette-agent` beside this one).
    #[arg(long)]
    pub agent: Option<PathBuf>,
}

/// Six checks every 12 s: 30 a minute, as issue 5 asks.
const INTERVAL: &str = "12s";
const CHECKS_PER_MINUTE: f64 = 30.0;

/// The host the agent enrols as.
const HOST: &str = "footprint";

/// Time for enrolment, the first assignment and the first round of checks
/// before measuring.
const SETTLE: Duration = Duration::from_secs(15);

/// Targets from issue 5.
const TARGET_RSS_MIB: f64 = 10.0;
const TARGET_CPU: f64 = 0.005;

fn services() -> Vec<(String, String)> {
    [
        ("load", "check_load -w 15,10,5 -c 30,25,20"),
        ("memory", "check_memory -w 90 -c 95"),
        ("disk-root", "check_disk -w 10% -c 5% -p /"),
        ("cpu", "check_cpu -w 90 -c 95"),
        ("net-lo", "check_net -i lo -w 1000000000 -c 2000000000"),
        ("dummy", "/usr/lib/nagios/plugins/check_dummy 0 fine"),
    ]
    .into_iter()
    .map(|(n, l)| (n.to_string(), l.to_string()))
    .collect()
}

/// A child process killed (SIGTERM, then SIGKILL) on drop.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child's pid, which we have not reaped.
        unsafe { libc::kill(self.0.id() as libc::pid_t, libc::SIGTERM) };
        for _ in 0..100 {
            if matches!(self.0.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs the agent footprint benchmark and prints its figures.
pub fn run(args: &FootprintArgs) -> anyhow::Result<()> {
    let vedette = engine::binary("vedette", args.vedette.as_deref())?;
    let agent_bin = engine::binary("vedette-agent", args.agent.as_deref())?;
    let scratch = Scratch::new("footprint")?;
    let state = scratch.0.join("engine");
    let agent_state = scratch.0.join("agent");
    std::fs::create_dir_all(&state)?;
    let services = services();
    let config = config::write_single(&scratch.0, HOST, INTERVAL, &services)?;
    let engine = EngineProcess::start(&vedette, &config, &state, 1)?;
    let out = Command::new(&vedette)
        .args(["agent", "token", "--host", HOST, "--state-dir"])
        .arg(&state)
        .output()
        .context("run vedette agent token")?;
    if !out.status.success() {
        bail!(
            "vedette agent token failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let token = stdout
        .lines()
        .last()
        .context("vedette agent token printed nothing")?
        .trim()
        .to_string();
    let agent_log = scratch.0.join("agent.log");
    let agent = ChildGuard(
        Command::new(&agent_bin)
            .arg("run")
            .arg("--server")
            .arg(engine.agent_addr.to_string())
            .arg("--token")
            .arg(&token)
            .arg("--state-dir")
            .arg(&agent_state)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&agent_log)?)
            .spawn()
            .with_context(|| format!("start {}", agent_bin.display()))?,
    );
    let agent_tail = || {
        let text = std::fs::read_to_string(&agent_log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(8)..].join("\n")
    };
    let view = ProcView::open(agent.0.id()).context("open the agent's /proc files")?;
    let t0 = Instant::now();
    loop {
        let a = applied(&engine)?;
        if a.0 && a.1 > 0 {
            break;
        }
        if t0.elapsed() > Duration::from_secs(60) {
            bail!(
                "the agent did not connect and report within 60 s; agent log:\n{}\nengine log:\n{}",
                agent_tail(),
                engine.log_tail()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(SETTLE);
    let (_, applied0) = applied(&engine)?;
    let s0 = view.sample().context("the agent exited")?;
    let w0 = Instant::now();
    let mut rss = Vec::new();
    let mut cpu = Vec::new();
    let mut prev = s0;
    let mut next = w0;
    while w0.elapsed() < args.duration {
        next += Duration::from_secs(1);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        let Some(s) = view.sample() else {
            bail!("the agent exited; its log:\n{}", agent_tail());
        };
        rss.push(s.rss as f64 / (1 << 20) as f64);
        cpu.push(s.cpu_s - prev.cpu_s);
        prev = s;
    }
    let wall = w0.elapsed().as_secs_f64();
    let (connected, applied1) = applied(&engine)?;
    let cpu_mean = (prev.cpu_s - s0.cpu_s) / wall;
    let rss_max = rss.iter().copied().fold(0.0, f64::max);
    let results = applied1 - applied0;
    println!(
        "agent-footprint: {} checks every {INTERVAL} ({CHECKS_PER_MINUTE} a minute) duration={wall:.0}s",
        services.len()
    );
    println!("  rss MiB: median={:.2} max={rss_max:.2}", median(&rss));
    println!(
        "  cpu % of a core: mean={:.3} (1 s windows: median={:.1} max={:.1}; {:.1} ms CPU per check)",
        cpu_mean * 100.0,
        median(&cpu) * 100.0,
        cpu.iter().copied().fold(0.0, f64::max) * 100.0,
        (prev.cpu_s - s0.cpu_s) * 1000.0 / results.max(1) as f64
    );
    println!(
        "  results applied by the engine in the window: {results} (expected ~{:.0}), still connected: {connected}",
        CHECKS_PER_MINUTE * wall / 60.0
    );
    verdict_le("target rss <= 10 MiB", rss_max, TARGET_RSS_MIB, "MiB");
    verdict_le(
        "target cpu <= 0.5% of a core",
        cpu_mean * 100.0,
        TARGET_CPU * 100.0,
        "%",
    );
    drop(agent);
    // One round of slack at each edge of the window (checks are splayed).
    let least = CHECKS_PER_MINUTE * wall / 60.0 - 2.0 * services.len() as f64;
    if !connected || (results as f64) < least {
        bail!(
            "the agent did not deliver its checks (connected={connected}, {results} results); agent log:\n{}",
            agent_tail()
        );
    }
    Ok(())
}

/// A ceiling target line: `met`, or `MISSED` with the overshoot.
fn verdict_le(what: &str, got: f64, max: f64, unit: &str) {
    if got <= max {
        println!("  {what}: {got:.2} {unit} met");
    } else {
        let over = (got / max - 1.0) * 100.0;
        println!("  {what}: {got:.2} {unit} MISSED ({over:.0}% over)");
    }
}

/// Whether the agent is connected and how many results the engine applied
/// for it.
fn applied(engine: &EngineProcess) -> anyhow::Result<(bool, u64)> {
    let agents = engine.agents()?;
    let me = agents
        .iter()
        .find(|a| a.get("host").and_then(serde_json::Value::as_str) == Some(HOST))
        .context("the engine does not list the agent host")?;
    Ok((
        me.get("connected").and_then(serde_json::Value::as_bool) == Some(true),
        me.get("applied")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0),
    ))
}
