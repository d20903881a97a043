//! Load scenario runner: generates a config, runs the engine in-process, and
//! prints what it achieved. Figures in BENCHMARKS.md come from here.
//!
//! ```text
//! cargo run --release -p vedette-benches -- scheduler --checks 1000000 --interval 60s --duration 120s
//! cargo run --release -p vedette-benches -- probe --kind tcp --duration 10s
//! cargo run --release -p vedette-benches -- mixed --duration 30s
//! cargo run --release -p vedette-benches -- hub --agents 10000 --rate 50000
//! cargo run --release -p vedette-benches -- agent-footprint --duration 120s
//! bash benches/run-all.sh   # issue 6's matrix, restart, ablations, profile
//! cargo run --release -p vedette-benches -- ablation --rounds 3   # pinning on/off
//! cargo run --release -p vedette-benches -- compare --kind tcp --duration 15s
//! ```

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The global allocator this build runs on, for the records.
pub const ALLOCATOR: &str = if cfg!(feature = "mimalloc") {
    "mimalloc"
} else {
    "system"
};

mod compare;
mod floor;
mod hub;
mod io_paths;
mod matrix;
mod mixed;
mod netns;
mod peers;
mod probe;
mod proc_stat;
mod scenario;
mod wire;

use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};

/// Vedette load scenarios.
#[derive(Debug, Parser)]
#[command(name = "vedette-benches")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Shared scenario size.
#[derive(Debug, Clone, clap::Args)]
pub struct Load {
    /// Number of checks.
    #[arg(long, default_value_t = 60_000)]
    pub checks: usize,
    /// Check interval.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub interval: Duration,
    /// Measured time, after one interval of warm-up.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Scheduler shards (default: one per core).
    #[arg(long)]
    pub shards: Option<usize>,
    /// Reload the (unchanged) config halfway through the measured window,
    /// as SIGHUP would, and report how long it took.
    #[arg(long)]
    pub reload: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// `dummy` checks only: the scheduler, wheel and state machine.
    Scheduler(Load),
    /// One native probe (or all of them) beside its bare floor and the
    /// forked plugin, against a real peer on loopback.
    Probe(probe::ProbeArgs),
    /// 60,000 tcp/http/icmp/dns/dummy checks, 10% of them to dead or
    /// lossy addresses in a network namespace: lateness under timeouts.
    Mixed(mixed::MixedArgs),
    /// Many simulated agents (mTLS WebSocket sessions) against a real
    /// `vedette run`: connections held, results/s acknowledged.
    Hub(hub::HubArgs),
    /// One real `vedette-agent` with 30 checks a minute: its RSS and CPU.
    AgentFootprint(hub::footprint::FootprintArgs),
    /// The TCP connect loop on tokio/mio against the same on io_uring.
    IoPaths(io_paths::IoPathsArgs),
    /// Issue 6's matrix: every workload at 60K/250K/1M checks, sampled
    /// per second into JSON, CSV and SVG, then a saturation search each.
    Matrix(matrix::MatrixArgs),
    /// Core pinning on and off (and the system allocator, given that
    /// build), alternating in rounds: medians and ratios.
    Ablation(matrix::ablation::AblationArgs),
    /// Stop and restart the engine on its state dir under load: the rate
    /// in the first minute against the steady rate.
    Restart(matrix::restart::RestartArgs),
    /// The tables of every record in a results directory (summary.md).
    Summary(matrix::summary::SummaryArgs),
    /// The same tcp or http workload through Vedette native, Vedette
    /// forking, Nagios 4 and Icinga 2: rates held and CPU per check.
    Compare(compare::CompareArgs),
    /// Internal: a TCP listener with a 4096 backlog that accepts and closes.
    #[command(hide = true)]
    Listen {
        /// Address to listen on.
        #[arg(long)]
        addr: std::net::SocketAddr,
    },
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    vedette::config::duration::parse(s)
}

fn main() -> anyhow::Result<()> {
    // Thousands of checks in flight hold a socket each.
    vedette::limits::raise_open_files().context("raise the open files limit")?;
    proc_stat::init();
    match Cli::parse().command {
        Command::Scheduler(load) => scenario::scheduler(&load),
        Command::Probe(args) => probe::run(&args),
        Command::Mixed(args) => mixed::run(&args),
        Command::Hub(args) => hub::run(&args),
        Command::AgentFootprint(args) => hub::footprint::run(&args),
        Command::IoPaths(args) => io_paths::run(&args),
        Command::Matrix(args) => matrix::run(&args),
        Command::Ablation(args) => matrix::ablation::run(&args),
        Command::Restart(args) => matrix::restart::run(&args),
        Command::Summary(args) => matrix::summary::run(&args),
        Command::Compare(args) => compare::run(&args),
        Command::Listen { addr } => peers::listen(addr),
    }
}
