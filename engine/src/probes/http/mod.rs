//! `http`: native `check_http` — one request per check (following
//! redirects with `-f follow`), the status line, `-e`, `-d`, `-s`,
//! `-r`/`-R`, `-m`, `-w`/`-c` and `-C` judged and printed exactly as
//! monitoring-plugins 2.3's `check_http` does (its `check_http()` and
//! `redir()`, step for step).
//!
//! The strings reproduced, from the plugin run against nginx:
//!
//! ```text
//! HTTP OK: HTTP/1.1 200 OK - 261 bytes in 0.001 second response time |time=0.000518s;;;0.000000;10.000000 size=261B;;;0;
//! HTTP WARNING: HTTP/1.1 404 Not Found - 303 bytes in 0.005 second response time |...
//! HTTP OK: Status line output matched "404" - 303 bytes in 0.000 second response time |...
//! HTTP CRITICAL: HTTP/1.1 200 OK - string 'x' not found on 'http://h:80/' - 261 bytes in ...
//! HTTP CRITICAL - Invalid HTTP response received from host on port 8080: garbage
//! connect to address 127.0.0.1 and port 1: Connection refused
//! HTTP CRITICAL - Unable to open TCP socket
//! CRITICAL - Socket timeout after 10 seconds
//! HTTP UNKNOWN: Failed to unchunk message body
//! ```
//!
//! By default no connection is kept alive between checks, like the
//! plugin: its response time includes connecting (and the TLS handshake),
//! and a pooled connection would both change that figure and hide a
//! server that stopped accepting. `[engine] http_keepalive = true` opts in
//! to the shard's [`pool::Pool`]: HTTP/1.1 `Connection: keep-alive`
//! requests, answers read to the end their framing gives, connections
//! reused while the server allows. The size is every byte received,
//! headers included, as the plugin counts it; only the first
//! [`wire::KEEP`] bytes are kept, so `-s`, `-r` and `-d` see only those.

mod check;
pub mod config;
mod framing;
pub mod pool;
mod redirect;
mod request;
mod response;
mod wire;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::check::{CheckResult, Status};
use crate::plugin_output;
use crate::probes::tcp::Family;
use crate::probes::{tls_common, within_limits, ProbeContext};
use crate::threshold::Perf;

use check::{PageSize, Pattern};
use pool::Pool;
use redirect::{redirect, Hop};
use wire::{Conn, End, Failed, Target};

pub use crate::probes::tls_common::CertDays;

/// What `-f` does with a 3xx answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnRedirect {
    /// Report this state for it.
    State(Status),
    /// Request the `Location` instead.
    Follow,
}

/// A compiled `check_http` command line.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpProbe {
    /// `-H`: virtual host, sent as `Host:` (and then HTTP/1.1).
    host_name: Option<Box<str>>,
    /// `-I`, else `-H`: where to connect.
    address: Box<str>,
    port: u16,
    uri: Box<str>,
    ssl: bool,
    sni: bool,
    cert_days: Option<CertDays>,
    /// `-e`: comma-separated status line substrings.
    expect: Option<Box<str>>,
    string: Option<Box<str>>,
    warn: Option<f64>,
    crit: Option<f64>,
    /// `-t`: the plugin's own timeout, whole seconds.
    timeout_s: u32,
    /// `-j`; `None`: GET, or POST with `-P`.
    method: Option<Box<str>>,
    on_redirect: OnRedirect,
    no_body: bool,
    family: Family,
    /// The engine's timeout for this check (`None`: the shard default).
    check_timeout: Option<Duration>,
    /// `-r`/`-R`: searched in the page.
    regex: Option<Pattern>,
    /// `--invert-regex`: CRITICAL when the pattern is found instead.
    invert_regex: bool,
    /// `-a user:pass`, sent as basic authorization.
    auth: Option<Box<str>>,
    /// `-k`: extra header lines, in order.
    headers: Vec<Box<str>>,
    /// `-A`: the `User-Agent`.
    user_agent: Option<Box<str>>,
    /// `-P`: the request body.
    post: Option<Box<str>>,
    /// `-T`: its `Content-Type`.
    content_type: Option<Box<str>>,
    /// `-m`: accepted page sizes.
    page_size: PageSize,
    /// `-d`: searched in the response headers.
    header_string: Option<Box<str>>,
    /// `--max-redirs`: redirects followed at most.
    max_redirects: u32,
}

impl HttpProbe {
    /// Sets the engine's timeout for the check (Nagios'
    /// `service_check_timeout`), which wins when shorter than `-t`.
    pub fn with_check_timeout(mut self, timeout: Option<Duration>) -> HttpProbe {
        self.check_timeout = timeout;
        self
    }

    /// Runs one check.
    pub async fn run(&self, ctx: &ProbeContext) -> CheckResult {
        let socket_timeout = Duration::from_secs(u64::from(self.timeout_s));
        let engine_timeout = self.check_timeout.unwrap_or(ctx.default_timeout);
        let session = async {
            match self.session(ctx.http_pool.as_deref()).await {
                Ok(done) | Err(done) => done,
            }
        };
        // The plugin's alarm(2) prints its own message.
        let alarm = (socket_timeout, || {
            format!("CRITICAL - Socket timeout after {} seconds", self.timeout_s)
        });
        let (status, text) =
            within_limits(session, Some(alarm), engine_timeout, ctx.timeout_status).await;
        plugin_output::parse(status, &text)
    }

    /// The request method.
    fn method(&self) -> &str {
        match (&self.method, &self.post) {
            (Some(m), _) => m,
            (None, Some(_)) => "POST",
            (None, None) => "GET",
        }
    }

    /// Everything check_http does between argument parsing and exit;
    /// `pool` when connections are kept alive.
    async fn session(&self, pool: Option<&Pool>) -> Result<Failed, Failed> {
        // `-C` needs a handshake of its own: it never uses the pool.
        let pool = pool.filter(|_| self.cert_days.is_none());
        let end = End::Framed {
            head: self.method() == "HEAD",
        };
        let start = Instant::now();
        let mut hop = Hop {
            host_name: self.host_name.as_deref().map(String::from),
            address: self.address.to_string(),
            port: self.port,
            ssl: self.ssl,
            scheme: if self.ssl { "https" } else { "http" }.to_string(),
            uri: self.uri.to_string(),
        };
        let mut depth = 0;
        loop {
            let target = Target {
                address: &hop.address,
                port: hop.port,
                family: self.family,
                ssl: hop.ssl,
                sni: hop.host_name.as_deref().filter(|_| self.sni),
            };
            let request = self.request(&hop, pool.is_some());
            let answer = match pool {
                Some(pool) => pool.exchange(target, &request, self.no_body, end).await?,
                None => {
                    let mut conn = Conn::open(target).await?;
                    if let (Some(days), true) = (self.cert_days, hop.ssl) {
                        return Ok(cert_verdict(&conn, days));
                    }
                    conn.exchange(&request, self.no_body, End::Close)
                        .await?
                        .received()?
                }
            };
            let page = response::split(&answer.raw);
            let line = &page.status_line;
            let expect = self.expect.as_deref().unwrap_or("HTTP/1.");
            if !response::expected(line, expect) {
                let on_port = if hop.port == 80 {
                    String::new()
                } else {
                    format!(" on port {}", hop.port)
                };
                let text = format!(
                    "HTTP CRITICAL - Invalid HTTP response received from host{on_port}: {line}"
                );
                return Err((Status::Critical, text));
            }
            let mut status = Status::Ok;
            let mut msg = match &self.expect {
                Some(e) => format!("Status line output matched \"{e}\" - "),
                None => {
                    let code = status_code(line)?;
                    if code >= 500 {
                        status = Status::Critical;
                    } else if code >= 400 {
                        status = Status::Warning;
                    } else if code >= 300 {
                        match self.on_redirect {
                            OnRedirect::State(s) => status = s,
                            OnRedirect::Follow => {
                                depth += 1;
                                hop = redirect(&hop, page.header, line, depth, self.max_redirects)?;
                                continue;
                            }
                        }
                    }
                    format!("{line} - ")
                }
            };
            // The plugin unchunks only now, after judging the status line.
            let Some(body) = &page.body else {
                let text = "HTTP UNKNOWN: Failed to unchunk message body".to_string();
                return Err((Status::Unknown, text));
            };
            let url = || {
                let host = hop.host_name.as_deref().unwrap_or(&hop.address);
                format!("{}://{host}:{}{}", hop.scheme, hop.port, hop.uri)
            };
            let checked = self.content_checks(page.header, body, answer.size, &url, &mut msg);
            status = worse(status, checked);
            // The plugin cuts the trailing ", " or " - ".
            let cut = if msg.ends_with(", ") { 2 } else { 3 };
            msg.truncate(msg.len().saturating_sub(cut));
            let elapsed = start.elapsed().as_micros() as f64 / 1e6;
            return Ok(self.report(status, msg, answer.size, elapsed));
        }
    }

    /// The plugin's final `die`, with `-w`/`-c` applied to the time.
    fn report(&self, status: Status, msg: String, size: usize, elapsed: f64) -> (Status, String) {
        let timed = if self.crit.is_some_and(|c| elapsed > c) {
            Status::Critical
        } else if self.warn.is_some_and(|w| elapsed > w) {
            Status::Warning
        } else {
            Status::Ok
        };
        let status = worse(status, timed);
        let perf = Perf {
            label: "time",
            value: elapsed,
            uom: "s",
            warn: self.warn,
            crit: self.crit,
            min: Some(0.0),
            max: Some(f64::from(self.timeout_s)),
        };
        // The plugin's `perfd_size`: `-m MIN` shows as the warning figure.
        let min = self.page_size.min;
        let size_perf = if min > 0 {
            format!("size={size}B;{min};0;0;")
        } else {
            format!("size={size}B;;;0;")
        };
        let text = format!(
            "HTTP {status}: {msg} - {size} bytes in {elapsed:.3} second response time |{perf} {size_perf}"
        );
        (status, text)
    }
}

/// The `-C` check on the connection's certificate, the only check then.
fn cert_verdict(conn: &Conn, days: CertDays) -> Failed {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let der = conn.peer_certificate().map(|c| c.as_ref());
    tls_common::check_expiry(der, days, now)
}

/// The three-digit code after the first space, or the plugin's verdict.
fn status_code(line: &str) -> Result<u16, Failed> {
    let invalid = |what: &str| (Status::Critical, format!("HTTP CRITICAL: {what} ({line})"));
    let after = line.split_once(' ').map_or("", |(_, rest)| rest);
    let digits = after.bytes().take_while(u8::is_ascii_digit).count();
    let code = match after.get(..3) {
        Some(code) if digits == 3 => code
            .parse::<u16>()
            .map_err(|_| invalid("Invalid Status Line"))?,
        _ => return Err(invalid("Invalid Status Line")),
    };
    if !(100..600).contains(&code) {
        return Err(invalid("Invalid Status"));
    }
    Ok(code)
}

/// monitoring-plugins' `max_state_alt`: CRITICAL over WARNING over
/// UNKNOWN over OK.
fn worse(a: Status, b: Status) -> Status {
    let rank = |s| match s {
        Status::Ok => 0,
        Status::Unknown => 1,
        Status::Warning => 2,
        Status::Critical => 3,
    };
    if rank(b) > rank(a) {
        b
    } else {
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(args: &str) -> HttpProbe {
        let args: Vec<String> = args.split_whitespace().map(String::from).collect();
        config::parse(&args).expect("native")
    }

    #[test]
    fn status_line_codes_like_the_plugin() {
        let crit = |t: &str| Err((Status::Critical, t.to_string()));
        assert_eq!(status_code("HTTP/1.1 200 OK"), Ok(200));
        assert_eq!(status_code("HTTP/1.0 404"), Ok(404));
        assert_eq!(
            status_code("HTTP/1.1 2000 Huh"),
            crit("HTTP CRITICAL: Invalid Status Line (HTTP/1.1 2000 Huh)")
        );
        assert_eq!(
            status_code("HTTP/1.1"),
            crit("HTTP CRITICAL: Invalid Status Line (HTTP/1.1)")
        );
        assert_eq!(
            status_code("HTTP/1.1 099 Low"),
            crit("HTTP CRITICAL: Invalid Status (HTTP/1.1 099 Low)")
        );
    }

    #[test]
    fn report_prints_like_the_plugin() {
        let p = probe("-H www -p 8080 -u /x -w 1 -c 2 -t 5");
        let (status, text) = p.report(Status::Ok, "HTTP/1.1 200 OK".into(), 261, 1.5);
        assert_eq!(status, Status::Warning);
        assert_eq!(
            text,
            "HTTP WARNING: HTTP/1.1 200 OK - 261 bytes in 1.500 second response time |time=1.500000s;1.000000;2.000000;0.000000;5.000000 size=261B;;;0;"
        );
        let p = probe("-I 10.0.0.1 -m 100:200");
        let (_, text) = p.report(Status::Ok, "HTTP/1.1 200 OK".into(), 261, 0.5);
        assert!(text.ends_with(" size=261B;100;0;0;"), "{text}");
    }
}
