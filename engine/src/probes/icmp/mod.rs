//! `icmp`: native `check_ping` and `check_icmp` — send echo requests on
//! the shard's one ICMP socket ([`socket`]), time the replies, and print
//! what each plugin prints ([`report`]).
//!
//! The rounds follow the plugins' timing:
//! - `check_ping` runs `ping -c P -w T`: one request a second until `P`
//!   replies came or `T` seconds passed (so with loss it sends more than
//!   `P`); `T` is `-t`, raised to `crit_rta * P + P` seconds.
//! - `check_icmp` sends `P` requests 80 ms apart (sooner when all replies
//!   are in), then waits for stragglers until `P * (80 ms + crit_rta) +
//!   crit_rta` after the start, or `-t` seconds if that comes first.
//!
//! IPv4 and IPv6: a literal address picks its family, a name resolves to
//! IPv4 unless `-6` is given. An ICMP error quoting a request (host
//! unreachable, prohibited, TTL exceeded) ends a `check_ping` round with
//! the error's name, as the plugin's scan of `ping`'s output does;
//! `check_icmp` counts it as loss and, when nothing answered, names the
//! last IPv4 error and its sender, as that plugin does. Errors reach raw
//! sockets only: on datagram sockets they are loss for both.

pub mod config;
mod packet;
pub mod report;
pub mod socket;

use std::future::{poll_fn, Future};
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use crate::check::{CheckResult, Status};
use crate::plugin_output;
use crate::probes::{within_limits, ProbeContext};

use packet::Version;
use report::Round;
use socket::{IcmpSocket, InFlight, Reply};

/// check_icmp's default gap between requests to one host.
const ICMP_INTERVAL: Duration = Duration::from_millis(80);
/// `ping`'s default gap between requests.
const PING_INTERVAL: Duration = Duration::from_secs(1);

/// Which plugin the command line named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// `check_ping`.
    Ping,
    /// `check_icmp`.
    Icmp,
}

/// One pair of `-w`/`-c` limits: round-trip average and packet loss.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Round-trip average, milliseconds.
    pub rta_ms: f64,
    /// Packet loss, percent.
    pub pl: u32,
}

/// A compiled `check_ping` or `check_icmp` command line.
#[derive(Debug, Clone, PartialEq)]
pub struct IcmpProbe {
    flavour: Flavour,
    host: Box<str>,
    /// `-4`/`-6`, if given.
    family: Option<Version>,
    packets: u32,
    /// The plugin's own time limit, whole seconds (after check_ping's
    /// adjustment).
    timeout_s: u32,
    warn: Limits,
    crit: Limits,
    /// The engine's timeout for this check (`None`: the shard default).
    check_timeout: Option<Duration>,
}

impl IcmpProbe {
    fn new(
        flavour: Flavour,
        (host, family): (Box<str>, Option<Version>),
        packets: u32,
        timeout_s: u32,
        warn: Limits,
        crit: Limits,
    ) -> IcmpProbe {
        IcmpProbe {
            flavour,
            host,
            family,
            packets,
            timeout_s,
            warn,
            crit,
            check_timeout: None,
        }
    }

    /// Sets the engine's timeout for the check, which wins when shorter
    /// than the plugin's own.
    pub fn with_check_timeout(mut self, timeout: Option<Duration>) -> IcmpProbe {
        self.check_timeout = timeout;
        self
    }

    /// Runs one check.
    pub async fn run(&self, ctx: &ProbeContext) -> CheckResult {
        let engine_timeout = self.check_timeout.unwrap_or(ctx.default_timeout);
        // No alarm of its own here: the rounds end by their own clocks.
        let no_alarm: Option<(Duration, fn() -> String)> = None;
        let (status, text) = within_limits(
            self.session(ctx),
            no_alarm,
            engine_timeout,
            ctx.timeout_status,
        )
        .await;
        plugin_output::parse(status, &text)
    }

    /// Everything the plugin does after parsing its arguments.
    async fn session(&self, ctx: &ProbeContext) -> (Status, String) {
        let Some(peer) = self.resolve().await else {
            let text = match self.flavour {
                Flavour::Ping => format!("check_ping: Invalid hostname/address - {}", self.host),
                Flavour::Icmp => format!(
                    "check_icmp: Failed to resolve {}: Name or service not known",
                    self.host
                ),
            };
            return (Status::Unknown, text);
        };
        let version = match peer {
            IpAddr::V4(_) => Version::V4,
            IpAddr::V6(_) => Version::V6,
        };
        let socket = match ctx.icmp.get(version).await {
            Ok(socket) => socket,
            Err(text) => return (Status::Unknown, text),
        };
        let start = Instant::now();
        let limit = start + Duration::from_secs(u64::from(self.timeout_s));
        match self.flavour {
            Flavour::Ping => {
                let round = self.ping_round(&socket, peer, limit).await;
                report::ping(&self.host, &round, self.warn, self.crit)
            }
            Flavour::Icmp => {
                let round = self.icmp_round(&socket, peer, start, limit).await;
                report::icmp(&self.host, &round, self.warn, self.crit)
            }
        }
    }

    /// The literal address, or the name's first address of the family
    /// (IPv4 unless `-6`).
    async fn resolve(&self) -> Option<IpAddr> {
        if let Ok(ip) = self.host.parse::<IpAddr>() {
            return Some(ip);
        }
        let want_v6 = self.family == Some(Version::V6);
        let mut found = tokio::net::lookup_host((&*self.host, 0)).await.ok()?;
        found.find_map(|a| (a.is_ipv6() == want_v6).then_some(a.ip()))
    }

    /// `ping -c P -w T`: a request a second until `P` replies or `limit`.
    async fn ping_round(&self, socket: &Arc<IcmpSocket>, peer: IpAddr, limit: Instant) -> Round {
        let mut round = Round::default();
        let mut pending = Vec::new();
        let mut next_send = Instant::now();
        while round.rtts.len() < self.packets as usize && round.ping_error.is_none() {
            let now = Instant::now();
            if now >= limit {
                break;
            }
            if now >= next_send {
                send(socket, peer, &mut round, &mut pending).await;
                next_send += PING_INTERVAL;
                continue;
            }
            let until = next_send.min(limit);
            if pending.is_empty() {
                // All answered (or unsendable): `ping` idles to its next send.
                tokio::time::sleep_until(until.into()).await;
                continue;
            }
            let want = self.packets as usize;
            let done = |r: &Round| r.rtts.len() >= want || r.ping_error.is_some();
            collect(&mut pending, &mut round, until, done).await;
        }
        round
    }

    /// check_icmp's `run_checks`: `P` requests [`ICMP_INTERVAL`] apart,
    /// then the final wait.
    async fn icmp_round(
        &self,
        socket: &Arc<IcmpSocket>,
        peer: IpAddr,
        start: Instant,
        limit: Instant,
    ) -> Round {
        let crit_rta = Duration::from_secs_f64(self.crit.rta_ms / 1000.0);
        let completion = start + (ICMP_INTERVAL + crit_rta) * self.packets + crit_rta;
        let limit = limit.min(completion);
        let mut round = Round::default();
        let mut pending = Vec::new();
        for _ in 0..self.packets {
            if Instant::now() >= limit {
                return round;
            }
            send(socket, peer, &mut round, &mut pending).await;
            let until = (Instant::now() + ICMP_INTERVAL).min(limit);
            collect(&mut pending, &mut round, until, |_| false).await;
        }
        collect(&mut pending, &mut round, limit, |_| false).await;
        round
    }
}

/// A request in flight and when it left.
type Pending = (InFlight, Instant);

/// Sends one request; a send error counts as a lost packet, as in `ping`,
/// and no route to the peer is also the error `ping` prints for it.
async fn send(
    socket: &Arc<IcmpSocket>,
    peer: IpAddr,
    round: &mut Round,
    pending: &mut Vec<Pending>,
) {
    round.sent += 1;
    match socket.send(peer).await {
        Ok(sent) => pending.push(sent),
        Err(e) => {
            // `Network is unreachable`, `No route to host`.
            let no_route = matches!(
                e.raw_os_error(),
                Some(libc::ENETUNREACH | libc::EHOSTUNREACH)
            );
            if no_route {
                round.ping_error.get_or_insert("Network Unreachable");
            }
        }
    }
}

/// Records replies until `until`, until nothing is in flight, or until
/// `done` says the round is complete.
async fn collect(
    pending: &mut Vec<Pending>,
    round: &mut Round,
    until: Instant,
    done: impl Fn(&Round) -> bool,
) {
    let deadline = tokio::time::sleep_until(until.into());
    tokio::pin!(deadline);
    while !pending.is_empty() && !done(round) {
        let next = poll_fn(|cx| {
            for (i, (in_flight, _)) in pending.iter_mut().enumerate() {
                if let Poll::Ready(reply) = Pin::new(&mut in_flight.reply).poll(cx) {
                    return Poll::Ready((i, reply.ok()));
                }
            }
            Poll::Pending
        });
        tokio::select! {
            (i, reply) = next => {
                let (_, sent_at) = pending.swap_remove(i);
                match reply {
                    Some(Reply { error: Some(error), .. }) => round.error(&error),
                    Some(reply) => round.rtts.push(reply.at.saturating_duration_since(sent_at)),
                    None => {}
                }
            }
            _ = &mut deadline => return,
        }
    }
}
