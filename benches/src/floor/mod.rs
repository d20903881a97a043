//! Bare floors: the least a probe's work can cost, a loop doing only the
//! probe's syscalls against the same peer, with no engine around it.
//!
//! Each floor runs on as many threads as the engine has shards (one
//! current-thread loop each, as a shard is), so floor and native get the
//! same cores. What each loop does is in its module: TCP and HTTP on tokio
//! ([`stream`]), DNS and SNMP as a window of UDP requests in flight
//! ([`datagram`]), ICMP as a window of echoes on one raw socket ([`icmp`]).

mod datagram;
mod icmp;
mod stream;
mod uring;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use crate::proc_stat::cpu_seconds;

/// One probe's bare loop and its peer.
#[derive(Debug, Clone)]
pub enum Floor {
    /// tokio connect + close.
    TcpConnect(SocketAddr),
    /// The same, as io_uring chains submitted in batches.
    TcpConnectUring(SocketAddr),
    /// connect, one `GET` with `Connection: close`, read to EOF.
    HttpNew(SocketAddr),
    /// `GET` after `GET` on connections kept open.
    HttpKeepAlive(SocketAddr),
    /// Echo request / reply on a raw ICMP socket.
    Icmp(Ipv4Addr),
    /// Prebuilt UDP requests, each answered by the peer; one round trip
    /// is all of them (check_dns asks A and AAAA).
    Udp {
        /// The peer.
        addr: SocketAddr,
        /// The requests of one round trip.
        requests: Vec<Vec<u8>>,
    },
}

/// What one floor run did.
pub struct FloorResult {
    /// Round trips per second, all threads.
    pub rate: f64,
    /// CPU seconds of this process per 1,000 round trips.
    pub cpu_per_1000: f64,
}

impl Floor {
    /// A short description for the report line.
    pub fn describe(&self) -> String {
        match self {
            Floor::TcpConnect(_) => format!(
                "tokio connect+close, {} in flight per thread",
                stream::TASKS
            ),
            Floor::TcpConnectUring(_) => format!(
                "io_uring socket+connect+close chains, {} in flight per thread",
                uring::WINDOW
            ),
            Floor::HttpNew(_) => format!(
                "tokio connect+GET+read to EOF, {} in flight per thread",
                stream::TASKS
            ),
            Floor::HttpKeepAlive(_) => format!(
                "tokio GET+read on kept-open connections, {} per thread",
                stream::TASKS
            ),
            Floor::Icmp(_) => format!(
                "raw ICMP socket echo send/recv, {} in flight per thread",
                icmp::WINDOW
            ),
            Floor::Udp { requests, .. } => format!(
                "UDP {} request(s)/response(s) per check, {} checks in flight per thread",
                requests.len(),
                datagram::WINDOW
            ),
        }
    }

    /// Runs the loop on `threads` threads for `duration`.
    ///
    /// # Errors
    /// When a thread cannot set up its socket or runtime.
    pub fn run(&self, threads: usize, duration: Duration) -> anyhow::Result<FloorResult> {
        let (cpu0, _) = cpu_seconds();
        let start = Instant::now();
        let deadline = start + duration;
        let counts: Vec<anyhow::Result<u64>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads.max(1))
                .map(|i| s.spawn(move || self.one_thread(i, deadline)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(anyhow::anyhow!("floor thread panicked")))
                })
                .collect()
        });
        let wall = start.elapsed().as_secs_f64();
        let (cpu1, _) = cpu_seconds();
        let mut n = 0;
        for c in counts {
            n += c?;
        }
        anyhow::ensure!(n > 0, "the floor loop completed no round trip");
        Ok(FloorResult {
            rate: n as f64 / wall,
            cpu_per_1000: (cpu1 - cpu0) / n as f64 * 1000.0,
        })
    }

    fn one_thread(&self, index: usize, deadline: Instant) -> anyhow::Result<u64> {
        match self {
            Floor::TcpConnect(a) => stream::run(stream::Mode::Connect, *a, deadline),
            Floor::TcpConnectUring(a) => uring::run(*a, deadline),
            Floor::HttpNew(a) => stream::run(stream::Mode::HttpNew, *a, deadline),
            Floor::HttpKeepAlive(a) => stream::run(stream::Mode::HttpKeepAlive, *a, deadline),
            Floor::Icmp(a) => icmp::run(*a, index, deadline),
            Floor::Udp { addr, requests } => datagram::run(*addr, requests, deadline),
        }
    }
}
