//! The `check_dns` command line, read the way the plugin's
//! `process_arguments` (monitoring-plugins 2.3) reads it, into a
//! [`DnsProbe`].
//!
//! Accepted: `-H -s -a -n -A -L -w -c -t` (and long forms, `-to`), and the
//! plugin's positional `HOST [SERVER]`. Left to the real plugin: no `-s`
//! (nslookup would read `/etc/resolv.conf`), a server that is not an IP
//! literal, reverse lookups (`-H` an address), `-r`, `-v`, `-q` (not a
//! check_dns 2.3 flag), `-w`/`-c` that are ranges rather than plain
//! seconds, and `-a` CIDRs the plugin's `ip_match_cidr` would read oddly.

use std::net::{IpAddr, Ipv4Addr};

use crate::probes::cmdline::{positive, seconds, NotNative};
use crate::probes::getopt::{getopt, Arg, Opt};

use super::{DnsProbe, Expected};

/// check_dns' `DEFAULT_SOCKET_TIMEOUT`.
const DEFAULT_TIMEOUT_S: u32 = 10;

/// The options the native probe reads.
const OPTIONS: &[Opt] = &[
    ('H', "hostname", true),
    ('s', "server", true),
    ('a', "expected-address", true),
    ('n', "expect-nxdomain", false),
    ('A', "expect-authority", false),
    ('L', "all", false),
    ('w', "warning", true),
    ('c', "critical", true),
    ('t', "timeout", true),
];

/// Reads check_dns arguments (without `argv[0]`).
///
/// # Errors
/// [`NotNative`] naming the first flag or value the native probe does not
/// reproduce.
pub fn parse(args: &[String]) -> Result<DnsProbe, NotNative> {
    let mut query = String::new();
    let mut server: Option<String> = None;
    let mut probe = DnsProbe {
        query: "".into(),
        server: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        expected: Vec::new(),
        expect_nxdomain: false,
        expect_authority: false,
        all_match: false,
        warn: None,
        crit: None,
        timeout_s: DEFAULT_TIMEOUT_S,
        check_timeout: None,
    };
    let mut positional = Vec::new();
    // The plugin rewrites a literal `-to` to `-t` before getopt sees it.
    let args: Vec<String> = args
        .iter()
        .map(|a| if a == "-to" { "-t".into() } else { a.clone() })
        .collect();
    for arg in getopt(OPTIONS, &args) {
        let flag = match arg? {
            Arg::Flag(flag) => flag,
            Arg::Positional(word) => {
                // getopt moves non-options to the end.
                positional.push(word.to_string());
                continue;
            }
        };
        let (value, bad) = (flag.value, || flag.bad());
        match flag.short {
            'H' => query = value.to_string(),
            's' => server = Some(value.to_string()),
            'a' => {
                for item in value.split(',') {
                    probe.expected.push(expected(item).ok_or_else(bad)?);
                }
            }
            'w' => probe.warn = Some(seconds(value).ok_or_else(bad)?),
            'c' => probe.crit = Some(seconds(value).ok_or_else(bad)?),
            't' => probe.timeout_s = positive(value).ok_or_else(bad)?,
            'n' => probe.expect_nxdomain = true,
            'A' => probe.expect_authority = true,
            'L' => probe.all_match = true,
            _ => return Err(flag.unknown()),
        }
    }
    let mut positional = positional.into_iter();
    if query.is_empty() {
        query = positional.next().unwrap_or_default();
    }
    if server.is_none() {
        server = positional.next();
    }
    if let Some(extra) = positional.next() {
        return Err(NotNative::Flag(extra));
    }
    if query.is_empty() {
        return Err(NotNative::Missing("-H"));
    }
    if probe.expect_nxdomain && !probe.expected.is_empty() {
        return Err(NotNative::Arguments("-a and -n cannot be combined"));
    }
    probe.query = name(&query)?;
    let server = server.ok_or(NotNative::Missing("-s"))?;
    probe.server = server
        .parse::<IpAddr>()
        .ok()
        // nslookup prints the server as given; the plugin compares.
        .filter(|ip| ip.to_string() == server)
        .ok_or_else(|| NotNative::Value {
            flag: "-s".into(),
            value: server.clone(),
        })?;
    Ok(probe)
}

/// A forward lookup name nslookup treats as absolute: at least one dot
/// (so no search list first), letters, digits, `-`, `_`, `.` only (the
/// plugin builds a shell-split command line), not an address.
fn name(value: &str) -> Result<Box<str>, NotNative> {
    let plain = value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    let ok = plain
        && value.trim_end_matches('.').contains('.')
        && value.parse::<IpAddr>().is_err()
        && super::wire::query(0, value, super::wire::TYPE_A).is_some();
    if ok {
        Ok(value.into())
    } else {
        Err(NotNative::Value {
            flag: "-H".into(),
            value: value.into(),
        })
    }
}

/// One `-a` item: compared with `strcmp`, and as an IPv4 CIDR when it
/// holds a `/` (only prefixes 1–32 on a dotted quad: others make the
/// plugin's shift undefined).
fn expected(item: &str) -> Option<Expected> {
    if item.is_empty() {
        return None;
    }
    let Some((subnet, mask)) = item.split_once('/') else {
        return Some(Expected {
            text: item.into(),
            cidr: None,
        });
    };
    let subnet: Ipv4Addr = subnet.parse().ok()?;
    let mask: u32 = positive(mask).filter(|&m| m <= 32)?;
    Some(Expected {
        text: item.into(),
        cidr: Some((u32::from(subnet), mask)),
    })
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
            "-H ok.test -s 127.0.0.1 -a 192.0.2.1,10.0.0.0/8 --expected-address=x -A -L -w 0.5 -c2 -to 3",
        ))
        .expect("native");
        assert_eq!(&*p.query, "ok.test");
        assert_eq!(p.server, IpAddr::V4(Ipv4Addr::LOCALHOST));
        let texts: Vec<&str> = p.expected.iter().map(|e| &*e.text).collect();
        assert_eq!(texts, ["192.0.2.1", "10.0.0.0/8", "x"]);
        assert_eq!(p.expected[1].cidr, Some((0x0a00_0000, 8)));
        assert!(p.expect_authority && p.all_match && !p.expect_nxdomain);
        assert_eq!((p.warn, p.crit, p.timeout_s), (Some(0.5), Some(2.0), 3));

        let p = parse(&args("ok.test ::1 -n")).expect("positional");
        assert_eq!(
            (&*p.query, p.server.to_string().as_str()),
            ("ok.test", "::1")
        );
        assert!(p.expect_nxdomain);
    }

    #[test]
    fn leaves_the_rest_to_the_plugin() {
        let table: &[(&str, &str)] = &[
            ("-H ok.test", "no '-s' given"),
            ("-s 127.0.0.1", "no '-H' given"),
            ("-H ok.test -s 127.0.0.1 -v", "flag '-v' not understood"),
            (
                "-H ok.test -s 127.0.0.1 -q AAAA",
                "flag '-q' not understood",
            ),
            ("-H ok.test -s 127.0.0.1 x", "flag 'x' not understood"),
            (
                "-H ok.test -s ns1.test",
                "value 'ns1.test' of '-s' not reproduced natively",
            ),
            (
                "-H ok.test -s 127.000.0.1",
                "value '127.000.0.1' of '-s' not reproduced natively",
            ),
            (
                "-H 192.0.2.1 -s 127.0.0.1",
                "value '192.0.2.1' of '-H' not reproduced natively",
            ),
            (
                "-H localhost -s 127.0.0.1",
                "value 'localhost' of '-H' not reproduced natively",
            ),
            (
                "-H ok.test -s 127.0.0.1 -w 1:2",
                "value '1:2' of '-w' not reproduced natively",
            ),
            (
                "-H ok.test -s 127.0.0.1 -a 10/8",
                "value '10/8' of '-a' not reproduced natively",
            ),
            (
                "-H ok.test -s 127.0.0.1 -a 10.0.0.0/0",
                "value '10.0.0.0/0' of '-a' not reproduced natively",
            ),
            (
                "-H ok.test -s 127.0.0.1 -a 1.2.3.4,",
                "value '1.2.3.4,' of '-a' not reproduced natively",
            ),
            (
                "-H ok.test -s 127.0.0.1 -t 0",
                "value '0' of '-t' not reproduced natively",
            ),
            (
                "-H ok.test -s 127.0.0.1 -a 1.2.3.4 -n",
                "-a and -n cannot be combined",
            ),
            ("-H ok.test -s 127.0.0.1 -c", "flag '-c' needs a value"),
        ];
        for &(line, want) in table {
            let got = parse(&args(line)).map(|_| ()).map_err(|e| e.to_string());
            assert_eq!(got, Err(want.to_string()), "{line}");
        }
    }
}
