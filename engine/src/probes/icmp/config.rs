//! The `check_ping` and `check_icmp` command lines (monitoring-plugins
//! 2.3), read into an [`IcmpProbe`].
//!
//! Only what the native probe reproduces exactly is accepted:
//! - `check_ping -H HOST -w RTA,PL% -c RTA,PL% [-p N] [-t S] [-4|-6]`;
//! - `check_icmp [-H] HOST [-w RTA[,PL%]] [-c RTA[,PL%]] [-n|-p N] [-t S]
//!   [-4|-6]`.
//!
//! One host, one flag per word, values following the flag or attached
//! (`-p5`). Everything else — several hosts, `-i`/`-I`/`-b`/`-l`/`-m`/`-s`,
//! `-v`, unit suffixes, octal or hex numbers, a literal of the other
//! family than `-4`/`-6`, values the plugin would reject — is
//! [`NotNative`] and the real plugin runs.

use crate::probes::cmdline::NotNative;
use crate::probes::getopt::{getopt, Arg, Opt};

use super::packet::Version;
use super::{Flavour, IcmpProbe, Limits};

/// check_ping's `DEFAULT_MAX_PACKETS`.
const PING_PACKETS: u32 = 5;
/// Both plugins' default timeout, seconds.
const DEFAULT_TIMEOUT_S: u32 = 10;
/// check_icmp's default packets and thresholds (200 ms, 40 %; 500 ms, 80 %).
const ICMP_PACKETS: u32 = 5;
const ICMP_WARN: Limits = Limits {
    rta_ms: 200.0,
    pl: 40,
};
const ICMP_CRIT: Limits = Limits {
    rta_ms: 500.0,
    pl: 80,
};
/// check_icmp refuses more packets ("packets is > 20").
const ICMP_MAX_PACKETS: u32 = 20;

/// check_ping's options the native probe reads (short forms only).
const PING_OPTIONS: &[Opt] = &[
    ('H', "", true),
    ('w', "", true),
    ('c', "", true),
    ('p', "", true),
    ('t', "", true),
    ('4', "", false),
    ('6', "", false),
];
/// check_icmp's options the native probe reads (it has no long forms).
const ICMP_OPTIONS: &[Opt] = &[
    ('H', "", true),
    ('w', "", true),
    ('c', "", true),
    ('n', "", true),
    ('p', "", true),
    ('t', "", true),
    ('4', "", false),
    ('6', "", false),
];

/// Reads check_ping arguments (without `argv[0]`).
///
/// # Errors
/// [`NotNative`] naming the first flag or value not reproduced.
pub fn parse_ping(args: &[String]) -> Result<IcmpProbe, NotNative> {
    let mut host = None;
    let (mut warn, mut crit) = (None, None);
    let mut packets = PING_PACKETS;
    let mut timeout_s = DEFAULT_TIMEOUT_S;
    let mut family = None;
    for arg in getopt(PING_OPTIONS, args) {
        let flag = match arg? {
            Arg::Flag(flag) => flag,
            Arg::Positional(word) => return Err(NotNative::Flag(word.to_string())),
        };
        let (value, bad) = (flag.value, || flag.bad());
        match flag.short {
            '4' | '6' => family_flag(flag.short, &mut family)?,
            'H' => host = Some(one_host(flag.word, value)?),
            'w' => warn = Some(ping_threshold(value).ok_or_else(bad)?),
            'c' => crit = Some(ping_threshold(value).ok_or_else(bad)?),
            'p' => packets = decimal(value).filter(|&n| n > 0).ok_or_else(bad)?,
            't' => timeout_s = decimal(value).filter(|&n| n > 0).ok_or_else(bad)?,
            _ => return Err(flag.unknown()),
        }
    }
    let host = with_family(host.ok_or(NotNative::Missing("-H"))?, family)?;
    let warn = warn.ok_or(NotNative::Missing("-w"))?;
    let crit = crit.ok_or(NotNative::Missing("-c"))?;
    if crit.rta_ms < warn.rta_ms || crit.pl < warn.pl {
        return Err(NotNative::Arguments(
            "check_ping warning thresholds above critical ones",
        ));
    }
    // validate_arguments: the timeout grows to fit the packets.
    let fit = crit.rta_ms / 1000.0 * f64::from(packets) + f64::from(packets);
    if fit > f64::from(timeout_s) {
        timeout_s = fit as u32;
    }
    Ok(IcmpProbe::new(
        Flavour::Ping,
        host,
        packets,
        timeout_s,
        warn,
        crit,
    ))
}

/// Reads check_icmp arguments (without `argv[0]`).
///
/// # Errors
/// [`NotNative`] naming the first flag or value not reproduced.
pub fn parse_icmp(args: &[String]) -> Result<IcmpProbe, NotNative> {
    let mut host = None;
    let (mut warn, mut crit) = (ICMP_WARN, ICMP_CRIT);
    let mut packets = ICMP_PACKETS;
    let mut timeout_s = DEFAULT_TIMEOUT_S;
    let mut family = None;
    for arg in getopt(ICMP_OPTIONS, args) {
        let flag = match arg? {
            Arg::Flag(flag) => flag,
            Arg::Positional(word) => {
                if host.is_some() {
                    return Err(NotNative::Arguments("check_icmp with several hosts"));
                }
                host = Some(one_host(word, word)?);
                continue;
            }
        };
        let (value, bad) = (flag.value, || flag.bad());
        match flag.short {
            '4' | '6' => family_flag(flag.short, &mut family)?,
            'H' if host.is_some() => {
                return Err(NotNative::Arguments("check_icmp with several hosts"))
            }
            'H' => host = Some(one_host(flag.word, value)?),
            'w' => icmp_threshold(value, &mut warn).ok_or_else(bad)?,
            'c' => icmp_threshold(value, &mut crit).ok_or_else(bad)?,
            'n' | 'p' => {
                packets = decimal(value)
                    .filter(|&n| (1..=ICMP_MAX_PACKETS).contains(&n))
                    .ok_or_else(bad)?
            }
            't' => timeout_s = decimal(value).filter(|&n| n > 0).ok_or_else(bad)?,
            _ => return Err(flag.unknown()),
        }
    }
    let host = with_family(host.ok_or(NotNative::Missing("-H"))?, family)?;
    // "stupid users should be able to give whatever thresholds they want":
    // the plugin lowers warning to critical.
    warn.rta_ms = warn.rta_ms.min(crit.rta_ms);
    warn.pl = warn.pl.min(crit.pl);
    Ok(IcmpProbe::new(
        Flavour::Icmp,
        host,
        packets,
        timeout_s,
        warn,
        crit,
    ))
}

/// Records `-4`/`-6`; both given is left to the plugin.
fn family_flag(flag: char, family: &mut Option<Version>) -> Result<(), NotNative> {
    let version = if flag == '6' {
        Version::V6
    } else {
        Version::V4
    };
    if family.is_some_and(|f| f != version) {
        return Err(NotNative::Arguments("both -4 and -6 given"));
    }
    *family = Some(version);
    Ok(())
}

/// The host with its family; a literal of the other family than the
/// flag asks for stays with the plugin.
fn with_family(
    host: Box<str>,
    family: Option<Version>,
) -> Result<(Box<str>, Option<Version>), NotNative> {
    let literal = host.parse::<std::net::IpAddr>().ok();
    let clash = match (literal, family) {
        (Some(ip), Some(Version::V4)) => ip.is_ipv6(),
        (Some(ip), Some(Version::V6)) => ip.is_ipv4(),
        _ => false,
    };
    if clash {
        return Err(NotNative::Arguments(
            "address of the other family than -4/-6",
        ));
    }
    Ok((host, family))
}

/// One IP literal or name; lists (`a,b`), bracketed or scoped IPv6
/// (`fe80::1%eth0`) and empty values stay with the plugin.
fn one_host(flag: &str, value: &str) -> Result<Box<str>, NotNative> {
    let odd = value.contains([',', ' ', '/', '[', '%']) || value.starts_with('-');
    let v6_literal = value.parse::<std::net::Ipv6Addr>().is_ok();
    if value.is_empty() || odd || (value.contains(':') && !v6_literal) {
        return Err(NotNative::Value {
            flag: flag.to_string(),
            value: value.to_string(),
        });
    }
    Ok(value.into())
}

/// Plain decimal digits without a leading zero (`strtoul` base 0 would
/// read `010` as octal), fitting a `u32`.
fn decimal(value: &str) -> Option<u32> {
    let plain = !value.is_empty()
        && value.bytes().all(|b| b.is_ascii_digit())
        && (value == "0" || !value.starts_with('0'));
    plain.then(|| value.parse().ok()).flatten()
}

/// check_ping's `RTA,PL%`: a float (the plugin keeps `float`, so the value
/// is rounded to `f32`) and an integer percentage.
fn ping_threshold(value: &str) -> Option<Limits> {
    let (rta, pl) = value.split_once(',')?;
    let pl = decimal(pl.strip_suffix('%')?)?;
    let (int, frac) = rta.split_once('.').unwrap_or((rta, "0"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || !digits(frac) {
        return None;
    }
    let rta: f32 = rta.parse().ok()?;
    Some(Limits {
        rta_ms: f64::from(rta),
        pl,
    })
}

/// check_icmp's `RTA[,PL[%]]` into `limits`. The plugin's `get_timevar`
/// reads `I.D` as `I` ms plus `D` tenths, whatever the digits after `D`
/// (`1.25` is 3.5 ms); only forms that mean what they say are accepted:
/// whole milliseconds with at most one decimal.
fn icmp_threshold(value: &str, limits: &mut Limits) -> Option<()> {
    let (rta, pl) = match value.split_once(',') {
        Some((rta, pl)) => (rta, Some(pl.strip_suffix('%').unwrap_or(pl))),
        None => (value, None),
    };
    let (int, tenth) = match rta.split_once('.') {
        Some((int, tenth)) => (int, decimal(tenth).filter(|&d| d < 10 && tenth.len() == 1)?),
        None => (rta, 0),
    };
    let micros = u64::from(decimal(int)?) * 1000 + u64::from(tenth) * 100;
    if micros == 0 {
        return None;
    }
    let pl = match pl {
        Some(pl) => decimal(pl).filter(|&p| p <= 100)?,
        None => limits.pl,
    };
    *limits = Limits {
        rta_ms: micros as f64 / 1000.0,
        pl,
    };
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn reads_check_ping() {
        let p = parse_ping(&args("-H 10.0.0.1 -w 200.0,20% -c 500.0,60% -p 3 -t 4 -4"))
            .expect("native");
        assert_eq!((&*p.host, p.family), ("10.0.0.1", Some(Version::V4)));
        assert_eq!((p.packets, p.timeout_s), (3, 4));
        assert_eq!((p.warn.rta_ms, p.warn.pl), (200.0, 20));
        assert_eq!((p.crit.rta_ms, p.crit.pl), (500.0, 60));
        // 20 packets at up to 500 ms each need 30 s, more than -t.
        let p = parse_ping(&args("-H h -w 200,20% -c 500,60% -p 20")).expect("native");
        assert_eq!(p.timeout_s, 30);
    }

    #[test]
    fn reads_check_icmp() {
        let p = parse_icmp(&args("10.0.0.1 -w 100.5,10% -c 50,5 -n 7 -t3")).expect("native");
        assert_eq!(&*p.host, "10.0.0.1");
        assert_eq!((p.packets, p.timeout_s), (7, 3));
        // Warning is lowered to critical, as the plugin does.
        assert_eq!((p.warn.rta_ms, p.warn.pl), (50.0, 5));
        assert_eq!((p.crit.rta_ms, p.crit.pl), (50.0, 5));
        let p = parse_icmp(&args("-6 -H ::1 -c 900")).expect("native");
        assert_eq!((&*p.host, p.family), ("::1", Some(Version::V6)));
        assert_eq!((p.warn.rta_ms, p.warn.pl), (200.0, 40));
        assert_eq!((p.crit.rta_ms, p.crit.pl), (900.0, 80));
    }

    #[test]
    fn leaves_the_rest_to_the_plugin() {
        let ping: &[(&str, &str)] = &[
            (
                "-H ::1 -w 1,2% -c 3,4% -4",
                "address of the other family than -4/-6",
            ),
            ("-H h -w 1,2% -c 3,4% -4 -6", "both -4 and -6 given"),
            ("-H h -w 1,2% -c 3,4% -L", "flag '-L' not understood"),
            ("h 1 2% 3 4%", "flag 'h' not understood"),
            (
                "-H a,b -w 1,2% -c 3,4%",
                "value 'a,b' of '-H' not reproduced natively",
            ),
            (
                "-H h -w 1 -c 3,4%",
                "value '1' of '-w' not reproduced natively",
            ),
            (
                "-H h -w 1,2% -c 3,4% -p 0",
                "value '0' of '-p' not reproduced natively",
            ),
            ("-H h -w 1,2% -c 3,4% -p", "flag '-p' needs a value"),
            ("-H h -w 1,2%", "no '-c' given"),
            (
                "-H h -w 5,2% -c 3,4%",
                "check_ping warning thresholds above critical ones",
            ),
        ];
        for &(line, want) in ping {
            let got = parse_ping(&args(line))
                .map(|_| ())
                .map_err(|e| e.to_string());
            assert_eq!(got, Err(want.to_string()), "check_ping {line}");
        }
        let icmp: &[(&str, &str)] = &[
            ("-H h -i 100", "flag '-i' not understood"),
            ("-6 -H 10.0.0.1", "address of the other family than -4/-6"),
            (
                "-H fe80::1%eth0",
                "value 'fe80::1%eth0' of '-H' not reproduced natively",
            ),
            ("a b", "check_icmp with several hosts"),
            ("-H h -n 21", "value '21' of '-n' not reproduced natively"),
            (
                "-H h -w 1.25",
                "value '1.25' of '-w' not reproduced natively",
            ),
            ("-H h -w 010", "value '010' of '-w' not reproduced natively"),
            ("-H h -w 5ms", "value '5ms' of '-w' not reproduced natively"),
            ("-H h -w 0", "value '0' of '-w' not reproduced natively"),
            ("-H h -t 0", "value '0' of '-t' not reproduced natively"),
            ("-w 1", "no '-H' given"),
        ];
        for &(line, want) in icmp {
            let got = parse_icmp(&args(line))
                .map(|_| ())
                .map_err(|e| e.to_string());
            assert_eq!(got, Err(want.to_string()), "check_icmp {line}");
        }
    }
}
