//! `dns`: native `check_dns` — ask one server for a name's addresses and
//! print exactly what monitoring-plugins 2.3's `check_dns` prints for the
//! same flags.
//!
//! The plugin runs `nslookup NAME SERVER` (bind9 9.18: an A query, then an
//! AAAA query unless the A query failed, 3 tries of 5 s each) and scans its
//! text. This probe asks the same two questions itself, concurrently, on
//! one UDP socket opened per run (TCP for a truncated answer), and rebuilds the plugin's verdict from
//! the two answers ([`exchange`], then [`DnsProbe::verdict`]):
//!
//! ```text
//! DNS OK: 0.004 seconds response time. a.test returns 192.0.2.20,2001:db8::5|time=0.004123s;;;0.000000
//! DNS CRITICAL: 0.004 seconds response time. a.test returns 192.0.2.4|time=0.004123s;;0.000001;0.000000
//! DNS CRITICAL - expected '192.0.2.11' but got '192.0.2.4'
//! DNS CRITICAL - server 127.53.0.1 is not authoritative for a.test
//! Domain 'nx.test' was not found by the server        (any rcode but REFUSED, or no answers)
//! Connection to DNS 127.53.0.1 was refused
//! No response from DNS 127.53.0.9
//! CRITICAL - Plugin timed out while executing system call
//! ```
//!
//! A truncated UDP answer is asked again over TCP, as nslookup does. Not
//! the plugin's: a malformed answer (nslookup would complain and retry)
//! is `DNS CRITICAL - malformed response from DNS S: why`.

pub mod config;
mod exchange;
pub mod wire;

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use crate::check::{CheckResult, Status};
use crate::plugin_output;
use crate::probes::{within_limits, ProbeContext, PLUGIN_TIMED_OUT};
use crate::threshold::Perf;

use exchange::{exchange, Exchange};

/// One `-a` value.
#[derive(Debug, Clone, PartialEq)]
pub struct Expected {
    /// As written; compared with each address like `strcmp`.
    text: Box<str>,
    /// `SUBNET/BITS` on IPv4: the network and the prefix length (1–32).
    cidr: Option<(u32, u32)>,
}

/// A compiled `check_dns` command line.
#[derive(Debug, Clone, PartialEq)]
pub struct DnsProbe {
    /// `-H`, as written.
    query: Box<str>,
    /// `-s`.
    server: IpAddr,
    /// `-a` items, commas split.
    expected: Vec<Expected>,
    /// `-n`.
    expect_nxdomain: bool,
    /// `-A`.
    expect_authority: bool,
    /// `-L`.
    all_match: bool,
    /// `-w` seconds.
    warn: Option<f64>,
    /// `-c` seconds.
    crit: Option<f64>,
    /// `-t`: the plugin's alarm, whole seconds.
    timeout_s: u32,
    /// The engine's timeout for this check (`None`: the shard default).
    check_timeout: Option<Duration>,
}

impl DnsProbe {
    /// Sets the engine's timeout for the check, which wins when shorter
    /// than `-t`.
    pub fn with_check_timeout(mut self, timeout: Option<Duration>) -> DnsProbe {
        self.check_timeout = timeout;
        self
    }

    /// Runs one check.
    pub async fn run(&self, ctx: &ProbeContext) -> CheckResult {
        let alarm = Duration::from_secs(u64::from(self.timeout_s));
        let engine_timeout = self.check_timeout.unwrap_or(ctx.default_timeout);
        let start = Instant::now();
        let asked = async {
            let answers = exchange(self.server, &self.query).await;
            self.verdict(answers, start.elapsed().as_micros() as f64 / 1e6)
        };
        let alarm = (alarm, || PLUGIN_TIMED_OUT.to_string());
        let (status, text) =
            within_limits(asked, Some(alarm), engine_timeout, ctx.timeout_status).await;
        plugin_output::parse(status, &text)
    }

    /// check_dns' `main` after nslookup returned: status and text.
    fn verdict(&self, answers: Exchange, elapsed: f64) -> (Status, String) {
        let server = self.server;
        let (a, aaaa) = match answers {
            Exchange::Answers { a, aaaa } => (a, aaaa),
            Exchange::NoResponse => {
                return (Status::Critical, format!("No response from DNS {server}"))
            }
            Exchange::Malformed(why) => {
                let text = format!("DNS CRITICAL - malformed response from DNS {server}: {why}");
                return (Status::Critical, text);
            }
            Exchange::Local(e) => {
                return (Status::Unknown, format!("DNS UNKNOWN - cannot query: {e}"))
            }
        };
        // nslookup prints `** server can't find NAME: RCODE` per failed
        // query; the plugin's scan reads REFUSED as refused, any other as
        // NXDOMAIN.
        let mut nxdomain = false;
        let mut found: Vec<String> = Vec::new();
        for reply in std::iter::once(&a).chain(aaaa.as_ref()) {
            if reply.rcode == wire::RCODE_REFUSED {
                let text = format!("Connection to DNS {server} was refused");
                return (Status::Critical, text);
            }
            if reply.rcode != 0 {
                nxdomain = true;
            }
            found.extend(reply.addresses.iter().map(|a| match a {
                wire::Address::V4(ip) => ip.to_string(),
                wire::Address::V6(ip) => ip.to_string(),
            }));
        }
        // Two empty answers: nslookup's `*** Can't find NAME: No answer`,
        // which the plugin's scan also reads as NXDOMAIN.
        let mut answered = std::iter::once(&a).chain(aaaa.as_ref());
        if answered.all(|r| r.answer_count == 0) {
            nxdomain = true;
        }
        if nxdomain && !self.expect_nxdomain {
            let text = format!("Domain '{}' was not found by the server", self.query);
            return (Status::Critical, text);
        }
        found.sort();
        let mut address = found.join(",");
        // `Non-authoritative answer:` comes with a successful A answer only.
        let non_authoritative = a.rcode == 0 && !a.authoritative;

        let mut failure = None;
        if !self.expected.is_empty() {
            failure = self.mismatch(&found, &address);
        }
        if self.expect_nxdomain {
            if !nxdomain {
                failure = Some(format!(
                    "Domain '{}' was found by the server: '{address}'",
                    self.query
                ));
            } else {
                address = "NXDOMAIN".to_string();
            }
        }
        if failure.is_none() && self.expect_authority && non_authoritative {
            failure = Some(format!(
                "server {server} is not authoritative for {}",
                self.query
            ));
        }
        if let Some(msg) = failure {
            return (Status::Critical, format!("DNS CRITICAL - {msg}"));
        }
        let status = if self.crit.is_some_and(|c| elapsed > c) {
            Status::Critical
        } else if self.warn.is_some_and(|w| elapsed > w) {
            Status::Warning
        } else {
            Status::Ok
        };
        // ngettext picks the singular for a whole part of exactly 1.
        let unit = if elapsed as u64 == 1 {
            "second"
        } else {
            "seconds"
        };
        let mut text = format!(
            "DNS {status}: {elapsed:.3} {unit} response time. {} returns {address}",
            self.query
        );
        let perf = Perf {
            label: "time",
            value: elapsed,
            uom: "s",
            warn: self.warn,
            crit: self.crit,
            min: Some(0.0),
            max: None,
        };
        // Writing to a String cannot fail.
        let _ = write!(text, "|{perf}");
        (status, text)
    }

    /// The `-a` comparison: any expected value equal to (or, as a CIDR,
    /// containing) any address is OK; with `-L` every one on both sides
    /// must be paired. The failure text when not.
    fn mismatch(&self, found: &[String], address: &str) -> Option<String> {
        let mut any = false;
        let mut expect_hit = vec![false; self.expected.len()];
        let mut addr_hit = vec![false; found.len()];
        for (i, e) in self.expected.iter().enumerate() {
            for (j, addr) in found.iter().enumerate() {
                if **addr == *e.text || e.cidr.is_some_and(|c| in_cidr(addr, c)) {
                    any = true;
                    expect_hit[i] = true;
                    addr_hit[j] = true;
                }
            }
        }
        let all = expect_hit.iter().chain(&addr_hit).all(|&hit| hit);
        if any && (all || !self.all_match) {
            return None;
        }
        let wanted: Vec<&str> = self.expected.iter().map(|e| &*e.text).collect();
        Some(format!(
            "expected '{}' but got '{address}'",
            wanted.join("; ")
        ))
    }
}

/// The plugin's `ip_match_cidr`: its `ip2long` reads a non-IPv4 address
/// as 0, so an IPv6 address sits in every network whose top bits are 0.
fn in_cidr(addr: &str, (network, bits): (u32, u32)) -> bool {
    let ip = addr.parse::<Ipv4Addr>().map_or(0, u32::from);
    let shift = 32 - bits;
    // `bits` is 1..=32, so the shift is 0..=31.
    (ip >> shift) == (network >> shift)
}

#[cfg(test)]
mod tests;
