//! Load scenario runner: generates a config, runs the engine in-process, and
//! prints what it achieved. Figures in BENCHMARKS.md come from here.
//!
//! ```text
//! cargo run --release -p vedette-benches -- scheduler --checks 1000000 --interval 60s --duration 120s
//! cargo run --release -p vedette-benches -- probe --kind tcp --duration 10s
//! cargo run --release -p vedette-benches -- mixed --duration 30s
//! cargo run --release -p vedette-benches -- compare --kind tcp --duration 15s
//! ```

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod compare;
mod floor;
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
        Command::Compare(args) => compare::run(&args),
        Command::Listen { addr } => peers::listen(addr),
    }
}
