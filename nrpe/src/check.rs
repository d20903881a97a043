//! check_nrpe's command line and its report, shared by the `vedette-nrpe`
//! CLI and the engine's native probe so both print exactly what the real
//! plugin prints (messages verified against check_nrpe 4.1).

use std::path::PathBuf;
use std::time::Duration;

use crate::client::{self, os_message, ClientError, Options, Response, Versions};
use crate::frame::ReadError;
use crate::packet::{PacketError, Version};
use crate::tls::{CertFiles, Security};

/// check_nrpe's default port.
pub const DEFAULT_PORT: u16 = 5666;
/// check_nrpe's default timeout, seconds.
const DEFAULT_TIMEOUT_SECS: u64 = 10;
/// The command check_nrpe sends without `-c`: the daemon answers its version.
const VERSION_COMMAND: &str = "_NRPE_CHECK";

/// A parsed check_nrpe command line.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckNrpe {
    /// `-H`.
    pub host: String,
    /// `-p`.
    pub port: u16,
    /// `-c` (default `_NRPE_CHECK`).
    pub command: String,
    /// `-a`: every word after it.
    pub args: Vec<String>,
    /// `-t` seconds.
    pub timeout_secs: u64,
    /// State of a timeout or connection problem: CRITICAL, or UNKNOWN with
    /// `-u` or `-t N:3`.
    pub timeout_state: u8,
    /// `-n`, or certificate files.
    pub security: Security,
    /// `-2`, `-3`.
    pub versions: Versions,
    /// `-E`: what check_nrpe would print on stderr goes to stdout.
    pub stderr_to_stdout: bool,
}

/// A check_nrpe command line the emulation does not take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgError {
    /// A flag not implemented here.
    #[error("flag '{0}' not understood")]
    Flag(String),
    /// A flag at the end without its value.
    #[error("flag '{0}' needs a value")]
    MissingValue(String),
    /// A value check_nrpe would refuse or read differently.
    #[error("value '{value}' of '{flag}' not understood")]
    Value {
        /// The flag.
        flag: String,
        /// Its value.
        value: String,
    },
    /// No `-H`.
    #[error("no '-H' given")]
    NoHost,
}

/// Flags that take a value, and flags accepted as no-ops because they do
/// not change what is sent or printed.
const VALUE_FLAGS: &[&str] = &["-H", "-p", "-c", "-t", "-P", "-C", "-K", "-A"];
const IGNORED_FLAGS: &[&str] = &["-D"];

impl CheckNrpe {
    /// Parses check_nrpe's arguments (without the program name). Flags and
    /// values are separate words or joined (`-p5666`); `-a` takes every
    /// word after it.
    ///
    /// # Errors
    /// [`ArgError`] for anything not reproduced exactly.
    pub fn parse<S: AsRef<str>>(args: &[S]) -> Result<CheckNrpe, ArgError> {
        let mut c = CheckNrpe {
            host: String::new(),
            port: DEFAULT_PORT,
            command: VERSION_COMMAND.to_string(),
            args: Vec::new(),
            timeout_secs: DEFAULT_TIMEOUT_SECS,
            timeout_state: 2,
            security: Security::Anonymous,
            versions: Versions::AUTO,
            stderr_to_stdout: false,
        };
        let mut plain = false;
        let mut files = CertFiles::default();
        let mut unknown_on_timeout = false;
        let mut words = args.iter().map(AsRef::as_ref);
        while let Some(word) = words.next() {
            if word == "-a" {
                c.args = words.by_ref().map(str::to_string).collect();
                break;
            }
            let (flag, joined) = match word.get(..2) {
                Some(f) if word.starts_with('-') && word.len() > 2 => (f, Some(&word[2..])),
                _ => (word, None),
            };
            if VALUE_FLAGS.contains(&flag) {
                let value = match joined {
                    Some(v) => v,
                    None => words
                        .next()
                        .ok_or_else(|| ArgError::MissingValue(flag.to_string()))?,
                };
                let bad = || ArgError::Value {
                    flag: flag.to_string(),
                    value: value.to_string(),
                };
                match flag {
                    "-H" => c.host = value.to_string(),
                    "-p" => c.port = value.parse().ok().filter(|&p| p > 0).ok_or_else(bad)?,
                    "-c" => c.command = value.to_string(),
                    "-t" => {
                        let (secs, state) = parse_timeout(value).ok_or_else(bad)?;
                        c.timeout_secs = secs;
                        if let Some(s) = state {
                            c.timeout_state = s;
                        }
                    }
                    // Only NSClient++ needs a payload size; v2 has none and
                    // the v4 padding is what check_nrpe sends by default.
                    "-P" => {
                        if value != "1024" {
                            return Err(bad());
                        }
                    }
                    "-C" => files.cert = Some(PathBuf::from(value)),
                    "-K" => files.key = Some(PathBuf::from(value)),
                    _ => files.ca = Some(PathBuf::from(value)),
                }
                continue;
            }
            match word {
                "-n" => plain = true,
                "-u" => unknown_on_timeout = true,
                "-E" => c.stderr_to_stdout = true,
                "-2" => c.versions = Versions::V2_ONLY,
                "-3" => {
                    c.versions = Versions {
                        first: Version::V3,
                        fall_back_to_v2: true,
                    }
                }
                w if IGNORED_FLAGS.contains(&w) => {}
                w => return Err(ArgError::Flag(w.to_string())),
            }
        }
        if c.host.is_empty() {
            return Err(ArgError::NoHost);
        }
        if unknown_on_timeout {
            c.timeout_state = 3;
        }
        if plain {
            c.security = Security::Plain;
        } else if files != CertFiles::default() {
            c.security = Security::Certificates(files);
        }
        Ok(c)
    }

    /// The client options this command line means.
    pub fn options(&self) -> Options {
        Options {
            security: self.security.clone(),
            timeout: Duration::from_secs(self.timeout_secs),
            versions: self.versions,
        }
    }

    /// Runs the query and reports as check_nrpe would.
    pub async fn run(&self) -> Report {
        let line = client::command_line(&self.command, &self.args);
        self.report(client::query(&self.host, self.port, &line, &self.options()).await)
    }

    /// check_nrpe's report of a query's outcome.
    pub fn report(&self, outcome: Result<Response, ClientError>) -> Report {
        let mut report = self.report_streams(outcome);
        if self.stderr_to_stdout {
            let err = std::mem::take(&mut report.stderr);
            report.stdout.push_str(&err);
        }
        report
    }

    fn report_streams(&self, outcome: Result<Response, ClientError>) -> Report {
        let stdout = |state: u8, text: String| Report {
            state,
            stdout: text,
            stderr: String::new(),
        };
        match outcome {
            Ok(r) => {
                let state = u8::try_from(r.result).ok().filter(|&s| s <= 3).unwrap_or(3);
                stdout(state, format!("{}\n", r.text))
            }
            Err(ClientError::Timeout(_)) => stdout(
                self.timeout_state,
                format!(
                    "CHECK_NRPE STATE {}: Socket timeout after {} seconds.\n",
                    state_name(self.timeout_state),
                    self.timeout_secs
                ),
            ),
            Err(ClientError::Connect { addr, source }) => {
                let (ip, port, why) = (addr.ip(), addr.port(), os_message(&source));
                Report {
                    state: self.timeout_state,
                    stdout: String::new(),
                    stderr: format!(
                        "connect to address {ip} port {port}: {why}\nconnect to host {ip} port {port}: {why}\n"
                    ),
                }
            }
            Err(ClientError::Handshake {
                addr,
                reason,
                ssl_error: 5,
            }) => stdout(
                self.timeout_state,
                format!(
                    "CHECK_NRPE: Error - Could not connect to {}: {}\n",
                    addr.ip(),
                    reason
                ),
            ),
            Err(ClientError::Handshake {
                addr, ssl_error, ..
            }) => stdout(
                self.timeout_state,
                format!(
                    "CHECK_NRPE: (ssl_err != 5) Error - Could not complete SSL handshake with {}: {ssl_error}\n",
                    addr.ip(),
                ),
            ),
            Err(ClientError::Send(_)) => stdout(
                3,
                "CHECK_NRPE: Error sending query to host.\n".to_string(),
            ),
            // check_nrpe says this on stderr and exits 1 (WARNING).
            Err(ClientError::Resolve { host, source }) => Report {
                state: 1,
                stdout: String::new(),
                stderr: format!(
                    "Could not resolve hostname {host}: {}\n",
                    resolver_message(&source)
                ),
            },
            Err(ClientError::Receive(ReadError::Closed { got })) => stdout(
                3,
                format!("CHECK_NRPE: Receive header underflow - only {got} bytes received (4 expected).\n"),
            ),
            Err(ClientError::Receive(ReadError::Io(_))) => stdout(
                3,
                "CHECK_NRPE: Receive header underflow - only -1 bytes received (4 expected).\n"
                    .to_string(),
            ),
            Err(ClientError::Receive(ReadError::Packet(PacketError::Crc { .. }))) => stdout(
                3,
                "CHECK_NRPE: Response packet had invalid CRC32.\n".to_string(),
            ),
            Err(e) => stdout(3, format!("CHECK_NRPE: Error - {e}\n")),
        }
    }
}

/// What check_nrpe would print and exit with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Exit status: the remote state, 0..=3.
    pub state: u8,
    /// Standard output (the remote output and a newline, or our message).
    pub stdout: String,
    /// Standard error (connection failures).
    pub stderr: String,
}

/// The resolver's own message (`Name or service not known`), as
/// `gai_strerror` prints it.
fn resolver_message(e: &std::io::Error) -> String {
    let s = os_message(e);
    match s.strip_prefix("failed to lookup address information: ") {
        Some(rest) => rest.to_string(),
        None => s,
    }
}

/// `secs` or `secs:state`; check_nrpe refuses 0 seconds.
fn parse_timeout(value: &str) -> Option<(u64, Option<u8>)> {
    let (secs, state) = match value.split_once(':') {
        Some((s, st)) => (s, Some(st)),
        None => (value, None),
    };
    if secs.is_empty() || !secs.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: u64 = secs.parse().ok().filter(|&s| s > 0 && s <= 86_400)?;
    let state = match state {
        None => None,
        Some(s) => Some(match s.to_ascii_uppercase().as_str() {
            "0" | "OK" => 0,
            "1" | "WARNING" => 1,
            "2" | "CRITICAL" => 2,
            "3" | "UNKNOWN" => 3,
            _ => return None,
        }),
    };
    Some((secs, state))
}

fn state_name(state: u8) -> &'static str {
    match state {
        0 => "OK",
        1 => "WARNING",
        2 => "CRITICAL",
        _ => "UNKNOWN",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a test may unwrap: a panic is its failure
    use super::*;

    fn parse(line: &str) -> Result<CheckNrpe, String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        CheckNrpe::parse(&words).map_err(|e| e.to_string())
    }

    #[test]
    fn parses_check_nrpe_flags() {
        let c = parse("-H h -p5667 -n -2 -t 5:3 -c load -a 1 -x 2").unwrap();
        assert_eq!(c.host, "h");
        assert_eq!(c.port, 5667);
        assert_eq!(c.security, Security::Plain);
        assert_eq!(c.versions, Versions::V2_ONLY);
        assert_eq!((c.timeout_secs, c.timeout_state), (5, 3));
        assert_eq!(c.command, "load");
        assert_eq!(c.args, ["1", "-x", "2"]);
        let d = parse("-H h").unwrap();
        assert_eq!(
            (d.port, d.command.as_str(), d.timeout_secs, d.timeout_state),
            (5666, "_NRPE_CHECK", 10, 2)
        );
        assert_eq!(d.security, Security::Anonymous);
        assert_eq!(parse("-H h -u").unwrap().timeout_state, 3);
        assert!(matches!(
            parse("-H h -A ca.pem").unwrap().security,
            Security::Certificates(_)
        ));
    }

    #[test]
    fn refuses_what_it_does_not_reproduce() {
        let table = [
            ("-c x", "no '-H' given"),
            ("-H h -x", "flag '-x' not understood"),
            ("-H h -t", "flag '-t' needs a value"),
            ("-H h -t 0", "value '0' of '-t' not understood"),
            ("-H h -t 5:9", "value '5:9' of '-t' not understood"),
            ("-H h -p 0", "value '0' of '-p' not understood"),
            ("-H h -P 8192", "value '8192' of '-P' not understood"),
        ];
        for (line, want) in table {
            assert_eq!(parse(line).unwrap_err(), want, "{line}");
        }
    }

    #[test]
    fn reports_like_check_nrpe() {
        let e = parse("-H h -E").unwrap();
        let refused = std::io::Error::from_raw_os_error(libc::ECONNREFUSED);
        let r = e.report(Err(ClientError::Connect {
            addr: "127.0.0.1:9".parse().unwrap(),
            source: refused,
        }));
        assert!(r.stdout.starts_with("connect to address") && r.stderr.is_empty());
        let c = parse("-H h -t 7").unwrap();
        let r = c.report(Err(ClientError::Timeout(Duration::from_secs(7))));
        assert_eq!(
            (r.state, r.stdout.as_str()),
            (
                2,
                "CHECK_NRPE STATE CRITICAL: Socket timeout after 7 seconds.\n"
            )
        );
        let r = c.report(Ok(Response {
            result: 5,
            text: "five".into(),
            version: Version::V4,
        }));
        assert_eq!((r.state, r.stdout.as_str()), (3, "five\n"));
        let refused = std::io::Error::from_raw_os_error(libc::ECONNREFUSED);
        let r = c.report(Err(ClientError::Connect {
            addr: "127.0.0.1:9".parse().unwrap(),
            source: refused,
        }));
        assert_eq!(
            (r.state, r.stdout.as_str(), r.stderr.as_str()),
            (
                2,
                "",
                "connect to address 127.0.0.1 port 9: Connection refused\n\
                 connect to host 127.0.0.1 port 9: Connection refused\n"
            )
        );
    }
}
