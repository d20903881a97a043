//! The `check_tcp` command line, read the way the plugin's
//! `process_arguments` (monitoring-plugins 2.3) reads it, into a
//! [`TcpProbe`].
//!
//! Only what the native probe reproduces exactly is accepted:
//! `-H -p -t -w -c -s -e -q -r -M -A -j -4 -6` (and their long forms), one
//! flag per word, values attached (`-p22`, `--port=22`) or following.
//! Everything else — `-E` escapes, `-m`, `-d`, `-S`/`-D` TLS, `-v`, unix
//! sockets, abbreviated long options, values the plugin would reject or
//! read oddly (`-w 1e1`, `-p 70000`) — is [`NotNative`] and the real
//! plugin runs, so its own messages and quirks stay its own.

use crate::check::Status;
use crate::probes::cmdline::{positive, seconds, NotNative};
use crate::probes::getopt::{getopt, Arg, Opt};

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
];

/// Reads check_tcp arguments (without `argv[0]`).
///
/// # Errors
/// [`NotNative`] naming the first flag or value the native probe does not
/// reproduce.
pub fn parse(args: &[String]) -> Result<TcpProbe, NotNative> {
    let mut probe = TcpProbe {
        host: "127.0.0.1".into(),
        host_specified: false,
        port: 0,
        family: Family::Any,
        send: None,
        quit: None,
        expect: Vec::new(),
        expect_all: false,
        warn: None,
        crit: None,
        timeout_s: DEFAULT_TIMEOUT_S,
        refuse: Status::Critical,
        mismatch: Status::Warning,
        hide_output: false,
        check_timeout: None,
    };
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
            'e' => probe.expect.push(value.into()),
            'r' => probe.refuse = state(value).ok_or_else(bad)?,
            'M' => probe.mismatch = state(value).ok_or_else(bad)?,
            '4' => probe.family = Family::V4,
            '6' => probe.family = Family::V6,
            'A' => probe.expect_all = true,
            'j' => probe.hide_output = true,
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
        let p = parse(&args(
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

        let p = parse(&args("10.0.0.1 -p 22")).expect("native");
        assert_eq!(
            (&*p.host, p.host_specified, p.timeout_s),
            ("10.0.0.1", false, 10)
        );
    }

    #[test]
    fn leaves_the_rest_to_the_plugin() {
        let table: &[(&str, &str)] = &[
            ("-H h -p 22 -E", "flag '-E' not understood"),
            ("-H h -p 22 -S", "flag '-S' not understood"),
            ("-H h -p 22 -m 10", "flag '-m' not understood"),
            ("-H h -p 22 -v", "flag '-v' not understood"),
            ("-H h -p 22 --ssl", "flag '--ssl' not understood"),
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
            let got = parse(&args(line)).map(|_| ()).map_err(|e| e.to_string());
            assert_eq!(got, Err(want.to_string()), "{line}");
        }
    }
}
