//! Load scenario runner: generates a config, runs the engine in-process, and
//! prints what it achieved. Figures in BENCHMARKS.md come from here.
//!
//! ```text
//! cargo run --release -p vedette-benches -- scheduler --checks 1000000 --interval 60s --duration 120s
//! cargo run --release -p vedette-benches -- tcp --checks 18000 --interval 1s --duration 30s
//! ```

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod proc_stat;
mod scenario;
mod tcp;

use std::time::Duration;

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
    /// Native `tcp` checks against a local listener, beside a bare tokio
    /// connect loop and forked `check_tcp`.
    Tcp(Load),
    /// Internal: a TCP listener with a 4096 backlog that accepts and closes.
    #[command(hide = true)]
    Listen {
        /// Port to listen on.
        #[arg(long)]
        port: u16,
    },
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    vedette::config::duration::parse(s)
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Scheduler(load) => scenario::scheduler(&load),
        Command::Tcp(load) => tcp::run(&load),
        Command::Listen { port } => tcp::listen(port),
    }
}
