//! `io-paths`: the TCP connect loop on tokio/mio against the same loop on
//! io_uring, alternated in one run against one peer, so the choice of I/O
//! path for the engine's hottest probe loop rests on a ratio measured
//! under the same conditions.

use std::time::Duration;

use crate::floor::Floor;
use crate::peers;

/// Options of `io-paths`.
#[derive(Debug, Clone, clap::Args)]
pub struct IoPathsArgs {
    /// Length of each run.
    #[arg(long, default_value = "5s", value_parser = crate::parse_duration)]
    pub duration: Duration,
    /// Runs of each path (alternated); medians are reported.
    #[arg(long, default_value_t = 5)]
    pub rounds: usize,
    /// Threads per run (default: one per core, as the engine's shards).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// Runs both paths `rounds` times each and prints every run, the medians
/// and their ratio.
///
/// # Errors
/// When the peer cannot start or a loop cannot set up its ring or runtime.
pub fn run(args: &IoPathsArgs) -> anyhow::Result<()> {
    let peer = peers::tcp_listener(peers::Bind::Peer)?;
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let paths = [
        ("tokio", Floor::TcpConnect(peer.addr)),
        ("io_uring", Floor::TcpConnectUring(peer.addr)),
    ];
    let mut figures: [Vec<(f64, f64)>; 2] = [Vec::new(), Vec::new()];
    for round in 1..=args.rounds.max(1) {
        for (i, (name, floor)) in paths.iter().enumerate() {
            let r = floor.run(threads, args.duration)?;
            println!(
                "round {round} {name:8} {:>9.0} connects/s  {:.3} CPU-s per 1,000  ({})",
                r.rate,
                r.cpu_per_1000,
                floor.describe()
            );
            figures[i].push((r.rate, r.cpu_per_1000));
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let mut out = Vec::new();
    for (i, (name, _)) in paths.iter().enumerate() {
        let mut rates: Vec<f64> = figures[i].iter().map(|f| f.0).collect();
        let mut cpus: Vec<f64> = figures[i].iter().map(|f| f.1).collect();
        let (rate, cpu) = (median(&mut rates), median(&mut cpus));
        println!("median   {name:8} {rate:>9.0} connects/s  {cpu:.3} CPU-s per 1,000");
        out.push((rate, cpu));
    }
    println!(
        "io_uring / tokio: rate {:.2}x, CPU per connect {:.2}x",
        out[1].0 / out[0].0,
        out[1].1 / out[0].1
    );
    Ok(())
}
