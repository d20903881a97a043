//! The `check_tcp` command line, read the way the plugin's
//! `process_arguments` (monitoring-plugins 2.3) reads it, into a
//! [`TcpProbe`], under any of the names check_tcp answers to
//! ([`Service`]).
//!
//! Only what the native probe reproduces exactly is accepted:
//! `-H -p -t -w -c -s -e -q -r -M -A -j -4 -6 -S -D --sni` (and their long
//! forms), one flag per word, values attached (`-p22`, `--port=22`) or
//! following. Everything else — `-E` escapes, `-m`, `-d`, `-v`, unix
//! sockets, abbreviated long options, values the plugin would reject or
//! read oddly (`-w 1e1`, `-p 70000`, an `--sni` that is no DNS name) — is
//! [`NotNative`] and the real plugin runs, so its own messages and quirks
//! stay its own.

use rustls::pki_types::ServerName;

use crate::check::Status;
use crate::probes::cmdline::{positive, seconds, NotNative};
use crate::probes::getopt::{getopt, Arg, Opt, NO_SHORT};
use crate::probes::tls_common::CertDays;

use super::service::Service;
use super::{Family, TcpProbe};

/// check_tcp's `DEFAULT_SOCKET_TIMEOUT`.
const DEFAULT_TIMEOUT_S: u32 = 10;

/// The options the native probe reads.
const OPTIONS: &[Opt] = &[
    ('H', "hostname", true),
    ('p', "port", true),
    ('t', "timeout", true),
    ('w', "warning-time", true),
    ('c', "critical-time", true),
    ('s', "send", true),
    ('q', "quit", true),
    ('e', "expect", true),
    ('r', "refuse", true),
    ('M', "mismatch", true),
    ('4', "use-ipv4", false),
    ('6', "use-ipv6", false),
    ('A', "all", false),
    ('j', "jail", false),
    ('S', "ssl", false),
    ('D', "certificate", true),
    (NO_SHORT, "sni", true),
];

/// Reads the arguments (without `argv[0]`) of check_tcp called as
/// `program` (the file name: `check_tcp`, `check_imap`, ...).
///
/// # Errors
/// [`NotNative`] for a name that is no native service, or naming the
/// first flag or value the native probe does not reproduce.
pub fn parse(program: &str, args: &[String]) -> Result<TcpProbe, NotNative> {
    let service = Service::named(program).ok_or_else(|| NotNative::Plugin(program.into()))?;
    let mut probe = TcpProbe {
        service: service.name,
        host: "127.0.0.1".into(),
        host_specified: false,
        port: service.port,
        family: Family::Any,
        send: service.send.map(|s| s.as_bytes().into()),
        quit: service.quit.map(|s| s.as_bytes().into()),
        expect: service.expect.iter().map(|&e| e.into()).collect(),
        exact: true,
        expect_all: false,
        warn: None,
        crit: None,
        timeout_s: DEFAULT_TIMEOUT_S,
        refuse: Status::Critical,
        mismatch: Status::Warning,
        hide_output: service.hide_output,
        tls: service.tls,
        cert_days: None,
        sni: None,
        check_timeout: None,
    };
    // The first `-e` replaces a service's expect string, unless the plugin
    // had already counted it (then every `-e` adds one).
    let mut expect_replaced = service.expect_kept;
    let mut rest = args;
    // `check_tcp HOST -p 22`: a leading non-option is the host, and then the
    // output says `on port 22` without the host (no `host_specified`).
    if let Some((first, tail)) = rest.split_first() {
        if !first.starts_with('-') {
            probe.host = host(first)?;
            rest = tail;
        }
    }
    for arg in getopt(OPTIONS, rest) {
        let flag = match arg? {
            Arg::Flag(flag) => flag,
            Arg::Positional(word) => return Err(NotNative::Flag(word.to_string())),
        };
        let (value, bad) = (flag.value, || flag.bad());
        match flag.short {
            'H' => {
                probe.host = host(value)?;
                probe.host_specified = true;
            }
            'p' => {
                probe.port = positive(value)
                    .and_then(|p| u16::try_from(p).ok())
                    .ok_or_else(bad)?
            }
            't' => probe.timeout_s = positive(value).ok_or_else(bad)?,
            'w' => probe.warn = Some(seconds(value).ok_or_else(bad)?),
            'c' => probe.crit = Some(seconds(value).ok_or_else(bad)?),
            's' => probe.send = Some(value.as_bytes().into()),
            'q' => probe.quit = Some(format!("{value}\r\n").into_bytes().into()),
            'e' => {
                if !expect_replaced {
                    probe.expect.clear();
                    expect_replaced = true;
                }
                probe.expect.push(value.into());
                probe.exact = false;
            }
            'r' => probe.refuse = state(value).ok_or_else(bad)?,
            'M' => probe.mismatch = state(value).ok_or_else(bad)?,
            '4' => probe.family = Family::V4,
            '6' => probe.family = Family::V6,
            'A' => probe.expect_all = true,
            'j' => probe.hide_output = true,
            'S' => probe.tls = true,
            'D' => {
                probe.cert_days = Some(CertDays::parse(value).ok_or_else(bad)?);
                probe.tls = true;
            }
            NO_SHORT if flag.long == "sni" => probe.sni = Some(sni(value).ok_or_else(bad)?),
            _ => return Err(flag.unknown()),
        }
    }
    if probe.port == 0 {
        return Err(NotNative::Missing("-p"));
    }
    Ok(probe)
}

/// A host the probe resolves like the plugin: names and IP literals;
/// unix sockets (`/path`) and bracketed IPv6 are left to the plugin.
fn host(value: &str) -> Result<Box<str>, NotNative> {
    if value.is_empty() || value.starts_with(['/', '[']) {
        return Err(NotNative::Value {
            flag: "-H".into(),
            value: value.into(),
        });
    }
    Ok(value.into())
}

/// `--sni`: a DNS name, which rustls sends as the plugin's OpenSSL does;
/// rustls would send nothing for an IP literal, so those stay with the
/// plugin.
fn sni(value: &str) -> Option<Box<str>> {
    match ServerName::try_from(value) {
        Ok(ServerName::DnsName(_)) => Some(value.into()),
        _ => None,
    }
}

/// `-r`/`-M` values: the plugin compares prefixes (`okay` is `ok`).
fn state(value: &str) -> Option<Status> {
    if value.starts_with("ok") {
        Some(Status::Ok)
    } else if value.starts_with("warn") {
        Some(Status::Warning)
    } else if value.starts_with("crit") {
        Some(Status::Critical)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn reads_understood_flags() {
        let p = parse("check_tcp", &args(
            "-H db1 -p5432 --timeout=3 -w 0.5 -c 2 -s hi -e SSH --expect x -q bye -r warn -M crit -A -j -6",
        ))
        .expect("native");
        assert_eq!(&*p.host, "db1");
        assert!(p.host_specified);
        assert_eq!(p.port, 5432);
        assert_eq!(p.timeout_s, 3);
        assert_eq!((p.warn, p.crit), (Some(0.5), Some(2.0)));
        assert_eq!(p.send.as_deref(), Some(&b"hi"[..]));
        assert_eq!(p.quit.as_deref(), Some(&b"bye\r\n"[..]));
        assert_eq!(p.expect, vec![Box::from("SSH"), Box::from("x")]);
        assert_eq!((p.refuse, p.mismatch), (Status::Warning, Status::Critical));
        assert!(p.expect_all && p.hide_output);
        assert_eq!(p.family, Family::V6);

        let p = parse("check_tcp", &args("10.0.0.1 -p 22")).expect("native");
        assert_eq!(
            (&*p.host, p.host_specified, p.timeout_s),
            ("10.0.0.1", false, 10)
        );
    }

    #[test]
    fn reads_tls_flags() {
        let p = parse("check_tcp", &args("-H h -p 1 -D 30,7 --sni=www.test")).expect("native");
        assert!(p.tls);
        assert_eq!(p.cert_days, Some(CertDays { warn: 30, crit: 7 }));
        assert_eq!(p.sni.as_deref(), Some("www.test"));
        let p = parse("check_tcp", &args("-H h -p 1 --ssl")).expect("native");
        assert!(p.tls && p.cert_days.is_none() && p.sni.is_none());
    }

    #[test]
    fn aliases_start_from_their_service() {
        let p = parse("check_imap", &args("-H mail")).expect("native");
        assert_eq!(
            (p.service, p.port, p.tls, p.exact),
            ("IMAP", 143, false, true)
        );
        assert_eq!(p.expect, vec![Box::from("* OK")]);
        assert_eq!(p.quit.as_deref(), Some(&b"a1 LOGOUT\r\n"[..]));
        // `-e` replaces the greeting, and then matches anywhere.
        let p = parse("check_ftp", &args("-H h -e x -e y")).expect("native");
        assert_eq!(p.expect, vec![Box::from("x"), Box::from("y")]);
        assert!(!p.exact);
        // ... except for NNTP, where the plugin keeps 200 and 201.
        let p = parse("check_nntps", &args("-H h -e x")).expect("native");
        assert_eq!(p.expect.len(), 3);
        assert!(p.tls);
        let got = parse("check_udp", &args("-H h -p 1")).map_err(|e| e.to_string());
        assert_eq!(got, Err("no native probe for 'check_udp'".to_string()));
    }

    #[test]
    fn leaves_the_rest_to_the_plugin() {
        let table: &[(&str, &str)] = &[
            ("-H h -p 22 -E", "flag '-E' not understood"),
            ("-H h -p 22 -S -d 1", "flag '-d' not understood"),
            (
                "-H h -p 22 -D 30,x",
                "value '30,x' of '-D' not reproduced natively",
            ),
            (
                "-H h -p 22 -S --sni=10.0.0.1",
                "value '10.0.0.1' of '--sni=10.0.0.1' not reproduced natively",
            ),
            ("-H h -p 22 -m 10", "flag '-m' not understood"),
            ("-H h -p 22 -v", "flag '-v' not understood"),
            ("-H h -p 22 --por=1", "flag '--por=1' not understood"),
            ("-H h -p 22 -4A", "flag '-4A' not understood"),
            ("-H h -p 22 extra", "flag 'extra' not understood"),
            ("-H h -p 22 -e", "flag '-e' needs a value"),
            (
                "-H h -p 70000",
                "value '70000' of '-p' not reproduced natively",
            ),
            ("-H h -p 0", "value '0' of '-p' not reproduced natively"),
            (
                "-H h -p 22 -t 1.5",
                "value '1.5' of '-t' not reproduced natively",
            ),
            (
                "-H h -p 22 -w 1e1",
                "value '1e1' of '-w' not reproduced natively",
            ),
            (
                "-H h -p 22 -w -1",
                "value '-1' of '-w' not reproduced natively",
            ),
            (
                "-H h -p 22 -r maybe",
                "value 'maybe' of '-r' not reproduced natively",
            ),
            (
                "-H /run/sock -p 22",
                "value '/run/sock' of '-H' not reproduced natively",
            ),
            ("-H h", "no '-p' given"),
        ];
        for &(line, want) in table {
            let got = parse("check_tcp", &args(line))
                .map(|_| ())
                .map_err(|e| e.to_string());
            assert_eq!(got, Err(want.to_string()), "{line}");
        }
    }
}
