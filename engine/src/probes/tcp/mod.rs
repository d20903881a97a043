//! `tcp`: native `check_tcp` — connect, optionally send, match the answer,
//! time it, and print exactly what monitoring-plugins 2.3's `check_tcp`
//! prints for the same flags (its `main`, step for step).
//!
//! The strings reproduced, from the plugin run against loopback:
//!
//! ```text
//! TCP OK - 0.000 second response time on 127.0.0.1 port 22 [SSH-2.0-x]|time=0.000123s;;;0.000000;10.000000
//! TCP WARNING - Unexpected response from host/socket: BANNER|time=2.003379s;;;0.000000;10.000000
//! connect to address 127.0.0.1 and port 1: Connection refused
//! No data received from host
//! CRITICAL - Socket timeout after 10 seconds
//! TCP CRITICAL - Invalid hostname, address or socket: HOST
//! CRITICAL - Cannot make SSL connection.
//! ```
//!
//! Called as `check_imap` and the like ([`service`]), the plugin prints the
//! service's name for `TCP`. With `-D` a certificate verdict other than OK
//! is the whole output; an OK one is printed before the rest.
//!
//! The text is then split by [`plugin_output::parse`] like a forked
//! plugin's, so a multi-line banner lands in the long output alike.

pub mod config;
pub mod service;
mod tls;
pub mod uring;

use std::fmt::Write as _;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::check::{CheckResult, Status};
use crate::plugin_output;
use crate::probes::tls_common::CertDays;
use crate::probes::{engine_timed_out, ProbeContext};
use crate::threshold::Perf;

/// After data arrived but no expect string matched yet, how long the
/// plugin waits for more (`READ_TIMEOUT` in check_tcp.c).
const READ_MORE: Duration = Duration::from_secs(2);

/// Which address family `-4`/`-6` allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Either (the plugin's `AF_UNSPEC`).
    Any,
    /// `-4`.
    V4,
    /// `-6`.
    V6,
}

/// A compiled `check_tcp` command line.
#[derive(Debug, Clone, PartialEq)]
pub struct TcpProbe {
    /// The name printed for `TCP` (`IMAP` when called as `check_imap`).
    service: &'static str,
    host: Box<str>,
    /// `-H` given: the output names the host (`on HOST port N`).
    host_specified: bool,
    port: u16,
    family: Family,
    send: Option<Box<[u8]>>,
    /// The quit string with its `\r\n` already appended.
    quit: Option<Box<[u8]>>,
    expect: Vec<Box<str>>,
    /// The answer must start with an expect string (a service's own);
    /// `-e` strings match anywhere.
    exact: bool,
    expect_all: bool,
    warn: Option<f64>,
    crit: Option<f64>,
    /// `-t`: the plugin's own socket timeout, whole seconds.
    timeout_s: u32,
    refuse: Status,
    mismatch: Status,
    hide_output: bool,
    /// `-S` (or `-D`, or a TLS service).
    tls: bool,
    /// `-D`.
    cert_days: Option<CertDays>,
    /// `--sni`: the server name sent in the handshake.
    sni: Option<Box<str>>,
    /// The engine's timeout for this check (`None`: the shard default).
    check_timeout: Option<Duration>,
}

/// How the answer compared with the expect strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Match {
    /// Nothing expected.
    NotTried,
    Success,
    /// Not yet: more of the answer might still match.
    Retry,
    Failure,
}

impl TcpProbe {
    /// Sets the engine's timeout for the check (Nagios'
    /// `service_check_timeout`), which wins when shorter than `-t`.
    pub fn with_check_timeout(mut self, timeout: Option<Duration>) -> TcpProbe {
        self.check_timeout = timeout;
        self
    }

    /// Runs one check.
    pub async fn run(&self, ctx: &ProbeContext) -> CheckResult {
        let socket_timeout = Duration::from_secs(u64::from(self.timeout_s));
        let engine_timeout = self.check_timeout.unwrap_or(ctx.default_timeout);
        // An OK certificate line, printed before whatever comes next (even
        // the plugin's own timeout message).
        let mut cert_ok = None;
        let session = self.session(ctx, &mut cert_ok);
        let (status, mut text) =
            match tokio::time::timeout(socket_timeout.min(engine_timeout), session).await {
                Ok(done) => done,
                // The plugin's alarm(2) fires first: its own message.
                Err(_) if socket_timeout <= engine_timeout => (
                    Status::Critical,
                    format!("CRITICAL - Socket timeout after {} seconds", self.timeout_s),
                ),
                // Nagios would have killed the plugin first, and shows none
                // of what it printed.
                Err(_) => {
                    let (status, text) = engine_timed_out(ctx.timeout_status, engine_timeout);
                    return plugin_output::parse(status, &text);
                }
            };
        if let Some(line) = cert_ok {
            text = format!("{line}\n{text}");
        }
        plugin_output::parse(status, &text)
    }

    /// Everything check_tcp does between argument parsing and exit; an OK
    /// `-D` line goes to `cert_ok`.
    async fn session(&self, ctx: &ProbeContext, cert_ok: &mut Option<String>) -> (Status, String) {
        let addrs = match self.resolve().await {
            Some(addrs) if !addrs.is_empty() => addrs,
            _ => {
                let text = format!(
                    "{} CRITICAL - Invalid hostname, address or socket: {}",
                    self.service, self.host
                );
                return (Status::Critical, text);
            }
        };
        let start = Instant::now();
        if self.connect_only() {
            if let Some(ring) = uring::current() {
                return self.connect_on(ctx, &ring, &addrs, start).await;
            }
        }
        let stream = match connect(&addrs).await {
            Ok(stream) => stream,
            Err(e) => {
                return self.refused(&e);
            }
        };
        if !self.tls {
            return self.exchange(stream, start).await;
        }
        let mut stream = match tls::handshake(stream, self.sni.as_deref()).await {
            Ok(stream) => stream,
            Err(verdict) => return verdict,
        };
        if let Some(days) = self.cert_days {
            let (status, line) = tls::cert_verdict(&stream, days);
            if status != Status::Ok {
                return (status, line);
            }
            *cert_ok = Some(line);
        }
        let verdict = self.exchange(&mut stream, start).await;
        // The plugin's SSL_shutdown: say goodbye properly.
        stream.get_mut().1.send_close_notify();
        let _ = stream.flush().await;
        verdict
    }

    /// Whether the check is a connect and nothing else: nothing sent,
    /// nothing read, no TLS.
    pub(crate) fn connect_only(&self) -> bool {
        !self.tls && self.send.is_none() && self.expect.is_empty() && self.quit.is_none()
    }

    /// A connect-only check on the shard's io_uring: each address in
    /// turn, as [`connect`]; the response time ends when the driver saw
    /// the connect complete. Without a free ring slot an address is tried
    /// through tokio.
    async fn connect_on(
        &self,
        ctx: &ProbeContext,
        ring: &std::rc::Rc<uring::Ring>,
        addrs: &[SocketAddr],
        start: Instant,
    ) -> (Status, String) {
        let mut last = io::Error::from(io::ErrorKind::AddrNotAvailable);
        for addr in addrs {
            let connected = match ring.connect(*addr) {
                Some(connecting) => connecting.await,
                // A real descriptor: it counts against the budget
                // [`crate::probes::Probe::run`] left this check out of.
                None => match ctx.descriptors.take(1) {
                    Ok(_held) => TcpStream::connect(addr).await.map(|_| Instant::now()),
                    Err(refused) => return (refused.status, refused.output.to_string()),
                },
            };
            match connected {
                Ok(at) => {
                    let elapsed = at.saturating_duration_since(start).as_micros() as f64 / 1e6;
                    let status = self.status(elapsed, Match::NotTried);
                    return (status, self.report(status, elapsed, Match::NotTried, b""));
                }
                Err(e) => last = e,
            }
        }
        self.refused(&last)
    }

    /// The verdict on a connect that failed.
    fn refused(&self, e: &io::Error) -> (Status, String) {
        let text = format!(
            "connect to address {} and port {}: {}",
            self.host,
            self.port,
            strerror(e)
        );
        (self.refuse, text)
    }

    /// Send, expect, quit, and the verdict, on a plain or TLS stream.
    async fn exchange<S>(&self, mut stream: S, start: Instant) -> (Status, String)
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        // Write errors are ignored, as the plugin ignores send()'s result:
        // a peer that hung up shows in what is (not) read.
        if let Some(send) = &self.send {
            let _ = write_out(&mut stream, send).await;
        }
        let mut answer = Vec::new();
        let mut matched = Match::NotTried;
        if !self.expect.is_empty() {
            matched = self.read_answer(&mut stream, &mut answer).await;
            if answer.is_empty() {
                return (Status::Critical, "No data received from host".to_string());
            }
        }
        if let Some(quit) = &self.quit {
            let _ = write_out(&mut stream, quit).await;
        }
        drop(stream);
        let elapsed = start.elapsed().as_micros() as f64 / 1e6;
        let status = self.status(elapsed, matched);
        (status, self.report(status, elapsed, matched, &answer))
    }

    /// Resolves the host like `getaddrinfo` with the plugin's family hint.
    async fn resolve(&self) -> Option<Vec<SocketAddr>> {
        let family = self.family;
        let wanted = move |a: &SocketAddr| match family {
            Family::Any => true,
            Family::V4 => a.is_ipv4(),
            Family::V6 => a.is_ipv6(),
        };
        if let Ok(ip) = self.host.parse::<IpAddr>() {
            let addr = SocketAddr::new(ip, self.port);
            return Some(wanted(&addr).then_some(addr).into_iter().collect());
        }
        let found = tokio::net::lookup_host((&*self.host, self.port))
            .await
            .ok()?;
        Some(found.filter(wanted).collect())
    }

    /// Reads until an expect decision, as the plugin's receive loop: read
    /// what is there (1 KiB at a time); while the answer might still match,
    /// wait up to [`READ_MORE`] for more; stop at EOF or error.
    async fn read_answer<S>(&self, stream: &mut S, answer: &mut Vec<u8>) -> Match
    where
        S: AsyncRead + Unpin,
    {
        let mut chunk = [0u8; 1024];
        loop {
            let read = if answer.is_empty() {
                stream.read(&mut chunk).await
            } else {
                match tokio::time::timeout(READ_MORE, stream.read(&mut chunk)).await {
                    Ok(read) => read,
                    Err(_) => break,
                }
            };
            match read {
                Ok(n) if n > 0 => answer.extend_from_slice(&chunk[..n]),
                _ => break,
            }
            match self.expect_match(answer) {
                Match::Retry => {}
                decided => return decided,
            }
        }
        Match::Failure
    }

    /// `np_expect_match` on the text up to the first NUL (the plugin
    /// handles it as a C string): a service's own strings must start the
    /// answer, `-e` strings may be anywhere in it.
    fn expect_match(&self, answer: &[u8]) -> Match {
        let text = c_str(answer);
        let (mut hits, mut partial) = (0, 0);
        for e in &self.expect {
            let e = e.as_bytes();
            if self.exact {
                if text.starts_with(e) {
                    hits += 1;
                } else if e.starts_with(text) {
                    // What came so far is the start of it: worth waiting.
                    partial += 1;
                }
            } else if e.is_empty() || text.windows(e.len()).any(|w| w == e) {
                hits += 1;
            }
        }
        let wanted = if self.expect_all {
            self.expect.len()
        } else {
            1
        };
        if hits >= wanted {
            Match::Success
        } else if partial > 0 || !self.exact {
            Match::Retry
        } else {
            Match::Failure
        }
    }

    fn status(&self, elapsed: f64, matched: Match) -> Status {
        let mut status = Status::Ok;
        if self.crit.is_some_and(|c| elapsed > c) {
            status = Status::Critical;
        } else if self.warn.is_some_and(|w| elapsed > w) {
            status = Status::Warning;
        }
        if matched == Match::Failure && status != Status::Critical {
            status = self.mismatch;
        }
        status
    }

    /// The plugin's final `printf`s.
    fn report(&self, status: Status, elapsed: f64, matched: Match, answer: &[u8]) -> String {
        // The plugin strips trailing whitespace but never the first byte.
        let raw = c_str(answer);
        let keep = raw
            .iter()
            .rposition(|&b| !c_isspace(b))
            .map_or(1, |i| i + 1);
        let shown = String::from_utf8_lossy(&raw[..keep.min(raw.len())]);
        let failed = matched == Match::Failure;

        let mut out = format!("{} {status} - ", self.service);
        // Writing to a String cannot fail; the results are ignored.
        if failed && !answer.is_empty() && !self.hide_output {
            let _ = write!(out, "Unexpected response from host/socket: {shown}");
        } else {
            if failed {
                out.push_str("Unexpected response from host/socket on ");
            } else {
                let _ = write!(out, "{elapsed:.3} second response time on ");
            }
            if self.host_specified {
                let _ = write!(out, "{} port {}", self.host, self.port);
            } else {
                let _ = write!(out, "port {}", self.port);
            }
        }
        if !failed && !self.hide_output && !answer.is_empty() {
            let _ = write!(out, " [{shown}]");
        }
        // On a mismatch the plugin prints 0 for the thresholds it has.
        let (warn, crit) = if failed {
            (self.warn.map(|_| 0.0), self.crit.map(|_| 0.0))
        } else {
            (self.warn, self.crit)
        };
        let perf = Perf {
            label: "time",
            value: elapsed,
            uom: "s",
            warn,
            crit,
            min: Some(0.0),
            max: Some(f64::from(self.timeout_s)),
        };
        let _ = write!(out, "|{perf}");
        out
    }
}

/// Writes all of `bytes` and flushes (TLS holds records until then).
async fn write_out<S: AsyncWrite + Unpin>(stream: &mut S, bytes: &[u8]) -> io::Result<()> {
    stream.write_all(bytes).await?;
    stream.flush().await
}

/// Tries each address in order, like the plugin's `np_net_connect`; the
/// last error is the one reported.
async fn connect(addrs: &[SocketAddr]) -> io::Result<TcpStream> {
    let mut last = io::Error::from(io::ErrorKind::AddrNotAvailable);
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => return Ok(stream),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// The text of `strerror(errno)`: std's message without ` (os error N)`.
fn strerror(e: &io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// C's `isspace` in the C locale (Rust's ASCII whitespace lacks `\v`).
fn c_isspace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// The bytes up to the first NUL.
fn c_str(bytes: &[u8]) -> &[u8] {
    bytes
        .iter()
        .position(|&b| b == 0)
        .map_or(bytes, |i| &bytes[..i])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(args: &str) -> TcpProbe {
        let args: Vec<String> = args.split_whitespace().map(String::from).collect();
        config::parse("check_tcp", &args).expect("native")
    }

    #[test]
    fn expect_matching_is_any_or_all_up_to_nul() {
        use Match::{Failure, Retry, Success};
        let table: &[(&str, &str, &[u8], Match)] = &[
            ("check_tcp", "-p 1 -e SSH", b"SSH-2.0", Success),
            ("check_tcp", "-p 1 -e 2.0", b"SSH-2.0", Success),
            ("check_tcp", "-p 1 -e FOO -e SSH", b"SSH-2.0", Success),
            ("check_tcp", "-p 1 -e FOO -e SSH -A", b"SSH-2.0", Retry),
            ("check_tcp", "-p 1 -e 2.0 -e SSH -A", b"SSH-2.0", Success),
            ("check_tcp", "-p 1 -e late", b"early\0late", Retry),
            // A service's greeting must come first; a cut-off one may
            // still arrive whole.
            ("check_imap", "", b"* OK ready", Success),
            ("check_imap", "", b"+OK ready", Failure),
            ("check_imap", "", b"* ", Retry),
            ("check_nntp", "", b"201 news", Success),
        ];
        for &(program, args, answer, want) in table {
            let args: Vec<String> = args.split_whitespace().map(String::from).collect();
            let probe = config::parse(program, &args).expect("native");
            assert_eq!(probe.expect_match(answer), want, "{program} {args:?}");
        }
    }

    #[test]
    fn report_prints_like_the_plugin() {
        let p = probe("-H h -p 7 -w 1 -e x");
        let text = p.report(Status::Ok, 0.0005, Match::Success, b"hello x \r\n");
        assert_eq!(
            text,
            "TCP OK - 0.001 second response time on h port 7 [hello x]|time=0.000500s;1.000000;;0.000000;10.000000"
        );
        // All-blank answers keep their first byte, as the C loop does.
        let text = p.report(Status::Warning, 0.5, Match::Failure, b"\r\n\r\n");
        assert_eq!(
            text,
            "TCP WARNING - Unexpected response from host/socket: \r|time=0.500000s;0.000000;;0.000000;10.000000"
        );
        let p = probe("-p 7 -j");
        let text = p.report(Status::Ok, 0.0, Match::NotTried, b"");
        assert_eq!(
            text,
            "TCP OK - 0.000 second response time on port 7|time=0.000000s;;;0.000000;10.000000"
        );
    }
}
