//! The `check_snmp` command line, read the way monitoring-plugins 2.3's
//! `process_arguments` reads it, into an [`SnmpProbe`].
//!
//! Accepted: `-H -p -P -C -o -w -c -s -r -R -l -u -L -U -a -x -A -X -t -e
//! -D -O -4`, `--rate`, `--rate-multiplier`, `--offset`,
//! `--invert-search` (and long forms), `-n` (GETNEXT), a positional host.
//! Left to the plugin: MIB names (`sysUpTime.0`), `-d -m -N -M -f -z -v
//! -6`, a host that is neither an IPv4 literal nor a host name, and values the native probe would not
//! read exactly like the plugin (odd ranges, regexes whose POSIX and Rust
//! meanings could differ, quoted or empty label items, short v3
//! passwords that snmpget refuses).

use std::net::Ipv4Addr;

use async_snmp::{AuthProtocol, Oid, PrivProtocol};

use crate::probes::cmdline::{positive, NotNative};
use crate::threshold::Range;

use super::report::{Evaluation, Limit, Limits, Match};
use super::session::{Level, Security, Target};
use super::SnmpProbe;

/// check_snmp 2.3's `DEFAULT_SOCKET_TIMEOUT` for `-t`.
const DEFAULT_TIMEOUT_S: u32 = 10;
/// check_snmp's `DEFAULT_RETRIES`.
const DEFAULT_RETRIES: u32 = 5;
/// async-snmp's `MAX_RETRIES`; more are left to the plugin.
const MAX_RETRIES: u32 = async_snmp::MAX_RETRIES;
/// net-snmp refuses shorter v3 pass phrases.
const MIN_PASSWORD: usize = 8;
/// The characters check_snmp's `strpbrk` looks for where a range starts.
const RANGE_CHARS: &str = "-0123456789.:@~";

/// Flags that take a value, by their short letter; `g`, `k`, `j` and `i`
/// stand for the long-only `--rate`, `--rate-multiplier`, `--offset` and
/// `--invert-search` (never accepted as short flags).
const WITH_VALUE: &str = "HpPCowcsrRluLUaxAXteD";
/// Short flags without a value.
const WITHOUT_VALUE: &str = "On4";

/// Everything read off the line before it is checked as a whole.
#[derive(Default)]
struct Raw {
    host: Option<String>,
    port: Option<u16>,
    version: Option<String>,
    community: Option<String>,
    oids: Vec<Oid>,
    oid_texts: Vec<Box<str>>,
    warn: Option<String>,
    crit: Option<String>,
    matches: Vec<Match>,
    string: Option<String>,
    regex: Option<(String, bool)>,
    icase: bool,
    labels: Vec<Box<str>>,
    units: Vec<Box<str>>,
    level: Option<Level>,
    user: Option<String>,
    auth: Option<AuthProtocol>,
    privacy: Option<PrivProtocol>,
    auth_pass: Option<String>,
    priv_pass: Option<String>,
    timeout_s: Option<u32>,
    retries: Option<u32>,
    delimiter: Option<String>,
    perf_oids: bool,
    next: bool,
    rate: bool,
    rate_multiplier: Option<u32>,
    offset: Option<f64>,
    invert: bool,
}

/// Reads check_snmp arguments (without `argv[0]`).
///
/// # Errors
/// [`NotNative`] naming the first flag or value the native probe does not
/// reproduce.
pub fn parse(args: &[String]) -> Result<SnmpProbe, NotNative> {
    let mut raw = Raw::default();
    let mut positional = Vec::new();
    let mut words = args.iter();
    while let Some(word) = words.next() {
        if !word.starts_with('-') || word == "-" {
            positional.push(word.clone());
            continue;
        }
        let (flag, attached) = split_flag(word)?;
        let value = if WITHOUT_VALUE.contains(flag) || matches!(flag, 'g' | 'i') {
            if attached.is_some() {
                return Err(NotNative::Flag(word.clone()));
            }
            ""
        } else {
            match attached {
                Some(v) => v,
                None => words
                    .next()
                    .ok_or_else(|| NotNative::MissingValue(word.clone()))?,
            }
        };
        let bad = || NotNative::Value {
            flag: word.clone(),
            value: value.to_string(),
        };
        read(&mut raw, flag, value).ok_or_else(bad)?;
    }
    let mut positional = positional.into_iter();
    if raw.host.is_none() {
        raw.host = positional.next();
    }
    if let Some(extra) = positional.next() {
        return Err(NotNative::Flag(extra));
    }
    build(raw)
}

/// Takes one flag's value into `raw`; `None` when the value is not one
/// the native probe reads like the plugin.
fn read(raw: &mut Raw, flag: char, value: &str) -> Option<()> {
    match flag {
        'H' => raw.host = Some(value.to_string()),
        'p' => raw.port = Some(value.parse().ok().filter(|&p| p > 0 && plain(value))?),
        'P' => raw.version = Some(matches!(value, "1" | "2c" | "3").then(|| value.to_string())?),
        'C' => raw.community = Some(value.to_string()),
        'o' => {
            for item in value.split(',') {
                raw.oids.push(numeric_oid(item)?);
                raw.oid_texts.push(item.into());
            }
        }
        'w' => raw.warn = Some(value.to_string()),
        'c' => raw.crit = Some(value.to_string()),
        's' => {
            raw.string = Some(value.to_string());
            raw.matches.push(Match::String);
        }
        'r' | 'R' => {
            raw.icase |= flag == 'R';
            raw.regex = Some((safe_regex(value)?.to_string(), raw.icase));
            raw.matches.push(Match::Regex);
        }
        'l' => raw.labels.extend(items(value)?),
        'u' => raw.units.extend(items(value)?),
        'L' => {
            raw.level = Some(match value {
                "noAuthNoPriv" => Level::NoAuthNoPriv,
                "authNoPriv" => Level::AuthNoPriv,
                "authPriv" => Level::AuthPriv,
                _ => return None,
            })
        }
        'U' => raw.user = Some(value.to_string()),
        'a' => {
            raw.auth = Some(match value {
                "MD5" => AuthProtocol::Md5,
                "SHA" => AuthProtocol::Sha1,
                _ => return None,
            })
        }
        'x' => {
            raw.privacy = Some(match value {
                "DES" => PrivProtocol::Des,
                "AES" => PrivProtocol::Aes128,
                _ => return None,
            })
        }
        'A' => raw.auth_pass = Some(password(value)?),
        'X' => raw.priv_pass = Some(password(value)?),
        't' => raw.timeout_s = Some(positive(value)?),
        'e' => {
            let n: u32 = value.parse().ok().filter(|_| plain(value))?;
            raw.retries = Some((n <= MAX_RETRIES).then_some(n)?);
        }
        'D' => raw.delimiter = Some(value.to_string()),
        'O' => raw.perf_oids = true,
        'n' => raw.next = true,
        '4' => {}
        'g' => raw.rate = true,
        'k' => raw.rate_multiplier = Some(positive(value)?),
        'j' => raw.offset = Some(decimal(value)?),
        'i' => raw.invert = true,
        _ => return None,
    }
    Some(())
}

/// Checks the flags together and builds the probe.
fn build(raw: Raw) -> Result<SnmpProbe, NotNative> {
    let host = raw.host.clone().ok_or(NotNative::Missing("-H"))?;
    let addr = address(&host).ok_or_else(|| NotNative::Value {
        flag: "-H".into(),
        value: host.clone(),
    })?;
    if raw.oids.is_empty() {
        return Err(NotNative::Missing("-o"));
    }
    let security = security(&raw)?;
    let limits = limits(raw.warn.as_deref(), raw.crit.as_deref(), raw.oids.len())?;
    let regex = match raw.regex {
        Some((pattern, icase)) => Some(
            regex::bytes::RegexBuilder::new(&pattern)
                .unicode(false)
                .case_insensitive(icase)
                .multi_line(true)
                .build()
                .map_err(|_| NotNative::Value {
                    flag: "-r".into(),
                    value: pattern.clone(),
                })?,
        ),
        None => None,
    };
    let evaluation = Evaluation {
        warn_given: raw.warn.is_some(),
        crit_given: raw.crit.is_some(),
        limits,
        matches: raw.matches,
        string: raw.string.map(Into::into),
        regex,
        invert: raw.invert,
        labels: raw.labels,
        units: raw.units,
        perf_oids: raw.perf_oids,
        delimiter: raw.delimiter.unwrap_or_else(|| " ".into()).into(),
        rate: raw.rate.then(|| raw.rate_multiplier.unwrap_or(1)),
        offset: raw.offset.unwrap_or(0.0),
        oid_texts: raw.oid_texts,
    };
    let target = Target {
        host: host.into(),
        addr,
        port: raw.port.unwrap_or(161),
        security,
        timeout_s: raw.timeout_s.unwrap_or(DEFAULT_TIMEOUT_S),
        retries: raw.retries.unwrap_or(DEFAULT_RETRIES),
    };
    Ok(SnmpProbe::new(target, raw.oids, raw.next, evaluation))
}

/// `-H` as snmpget reads `HOST:PORT` over UDP/IPv4: a plain dotted quad
/// (`Some(address)`), or a host name resolved at each run (`None`: the
/// unspecified address until then). Anything else (IPv6, `udp:` prefixes,
/// odd spellings of addresses) is left to the plugin.
fn address(host: &str) -> Option<Ipv4Addr> {
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return (ip.to_string() == host).then_some(ip);
    }
    let name = !host.is_empty()
        && host.len() <= 253
        && !host.starts_with(['-', '.'])
        && host.bytes().any(|b| b.is_ascii_alphabetic())
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    name.then_some(Ipv4Addr::UNSPECIFIED)
}

/// The version and credentials, with the plugin's defaults (v1,
/// `public`; v3: noAuthNoPriv, MD5, DES).
fn security(raw: &Raw) -> Result<Security, NotNative> {
    let version = raw.version.as_deref().unwrap_or("1");
    if version != "3" {
        return Ok(Security::Community {
            v1: version == "1",
            community: raw.community.as_deref().unwrap_or("public").into(),
        });
    }
    let user = raw.user.clone().ok_or(NotNative::Missing("-U"))?;
    let level = raw.level.unwrap_or(Level::NoAuthNoPriv);
    let need = |v: &Option<String>, flag| match (level, v) {
        (Level::NoAuthNoPriv, _) => Ok(Box::<str>::from("")),
        (_, Some(v)) => Ok(v.as_str().into()),
        (_, None) => Err(NotNative::Missing(flag)),
    };
    let auth = (
        raw.auth.unwrap_or(AuthProtocol::Md5),
        need(&raw.auth_pass, "-A")?,
    );
    let privacy = match level {
        Level::AuthPriv => (
            raw.privacy.unwrap_or(PrivProtocol::Des),
            need(&raw.priv_pass, "-X")?,
        ),
        _ => (PrivProtocol::Des, "".into()),
    };
    Ok(Security::Usm {
        user: user.into(),
        level,
        auth,
        privacy,
    })
}

/// check_snmp's threshold split: the N-th comma piece of `-w`/`-c` is
/// the N-th OID's, `2:1` read as `@1:2`, an empty piece no limit.
fn limits(warn: Option<&str>, crit: Option<&str>, count: usize) -> Result<Vec<Limits>, NotNative> {
    let split = |text: Option<&str>, flag: &str| -> Result<Vec<Option<Limit>>, NotNative> {
        let Some(text) = text else {
            return Ok(vec![None; count]);
        };
        let bad = || NotNative::Value {
            flag: flag.into(),
            value: text.into(),
        };
        let mut pieces = text.split(',');
        (0..count)
            .map(|_| match pieces.next() {
                None | Some("") => Ok(None),
                Some(piece) => limit(piece).map(Some).ok_or_else(bad),
            })
            .collect()
    };
    let warn = split(warn, "-w")?;
    let crit = split(crit, "-c")?;
    Ok(warn.into_iter().zip(crit).collect())
}

/// One threshold piece, only when written with range characters alone.
fn limit(piece: &str) -> Option<Limit> {
    if !piece.chars().all(|c| RANGE_CHARS.contains(c)) {
        return None;
    }
    let text = match piece.split_once(':') {
        Some((left, right)) if !right.is_empty() => {
            let (l, r) = (lead_number(left), lead_number(right));
            if r < l {
                format!("@{right}:{left}")
            } else {
                piece.to_string()
            }
        }
        _ => piece.to_string(),
    };
    let range = Range::parse(&text).ok()?;
    Some(Limit {
        range,
        text: text.into(),
    })
}

/// `strtod` of a range end as check_snmp's `fix_snmp_range` reads it
/// (`~`, `@` or nothing read as 0).
fn lead_number(s: &str) -> f64 {
    let end = s
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || (i == 0 && c == '-')))
        .map_or(s.len(), |(i, _)| i);
    s[..end].parse().unwrap_or(0.0)
}

/// A numeric OID (`1.3.6.1.2.1.1.3.0`, leading dot allowed); MIB names
/// need the plugin's MIB files.
fn numeric_oid(item: &str) -> Option<Oid> {
    if item.is_empty() || !item.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let oid = Oid::parse(item).ok()?;
    (oid.len() >= 2 && oid.validate_for_wire().is_ok()).then_some(oid)
}

/// `-l`/`-u` items: comma-separated, none empty, quoted or starting with
/// white space (the plugin's quote and trim handling is not reproduced).
fn items(value: &str) -> Option<Vec<Box<str>>> {
    value
        .split(',')
        .map(|item| {
            let odd = item.is_empty()
                || item.starts_with('\'')
                || item.starts_with([' ', '\t', '\r', '\n']);
            (!odd).then(|| item.into())
        })
        .collect()
}

/// A regex whose meaning is the same to POSIX `regcomp` (extended) and to
/// the `regex` crate: printable ASCII, no backslash (an escape in Rust,
/// literal inside POSIX brackets), no `&&`/`--`/`~~` (Rust class set
/// operations).
fn safe_regex(pattern: &str) -> Option<&str> {
    let ok = !pattern.is_empty()
        && pattern
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b) && b != b'\\')
        && !["&&", "--", "~~"].iter().any(|op| pattern.contains(op));
    ok.then_some(pattern)
}

/// A v3 pass phrase snmpget accepts.
fn password(value: &str) -> Option<String> {
    (value.len() >= MIN_PASSWORD).then(|| value.to_string())
}

/// Digits only.
fn plain(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit())
}

/// `--offset`: plain decimal with an optional sign.
fn decimal(value: &str) -> Option<f64> {
    let body = value.strip_prefix('-').unwrap_or(value);
    let digits = body.bytes().filter(u8::is_ascii_digit).count();
    let dots = body.bytes().filter(|&b| b == b'.').count();
    (digits > 0 && dots <= 1 && digits + dots == body.len())
        .then(|| value.parse().ok())
        .flatten()
}

/// Splits `-HVALUE` / `-H` / `--hostname=VALUE` into the flag letter and
/// the attached value.
fn split_flag(word: &str) -> Result<(char, Option<&str>), NotNative> {
    let not = || NotNative::Flag(word.to_string());
    match word {
        "-to" => return Ok(('t', None)),
        "-wv" => return Ok(('w', None)),
        "-cv" => return Ok(('c', None)),
        _ => {}
    }
    if let Some(long) = word.strip_prefix("--") {
        let (name, value) = match long.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (long, None),
        };
        let flag = match name {
            "hostname" => 'H',
            "port" => 'p',
            "protocol" => 'P',
            "community" => 'C',
            "oid" | "object" => 'o',
            "warning" => 'w',
            "critical" => 'c',
            "string" => 's',
            "ereg" | "regex" => 'r',
            "eregi" => 'R',
            "label" => 'l',
            "units" => 'u',
            "seclevel" => 'L',
            "secname" => 'U',
            "authproto" => 'a',
            "privproto" => 'x',
            "authpasswd" => 'A',
            "privpasswd" => 'X',
            "timeout" => 't',
            "retries" => 'e',
            "output-delimiter" => 'D',
            "perf-oids" => 'O',
            "next" => 'n',
            "use-ipv4" => '4',
            "rate" => 'g',
            "rate-multiplier" => 'k',
            "offset" => 'j',
            "invert-search" => 'i',
            _ => return Err(not()),
        };
        return Ok((flag, value));
    }
    let mut chars = word.strip_prefix('-').ok_or_else(not)?.chars();
    let flag = chars
        .next()
        .filter(|c| WITH_VALUE.contains(*c) || WITHOUT_VALUE.contains(*c))
        .ok_or_else(not)?;
    let attached = chars.as_str();
    Ok((flag, (!attached.is_empty()).then_some(attached)))
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
            "-H 127.0.0.1 -p 1161 -P 2c -C secret -o 1.3.6.1.2.1.1.3.0,.1.3.6.1.2.1.2.1.0 \
             -o 1.3.6.1.4.1.1.1 -w 10,:5 -c 20:10 -l up,ifs -u s -t 3 -e 1 --rate \
             --rate-multiplier=60 --offset -1.5 -O -D / --invert-search -s x -n",
        ))
        .expect("native");
        assert_eq!((p.oids.len(), p.next), (3, true));
        assert_eq!(p.target.port, 1161);
        assert_eq!((p.target.timeout_s, p.target.retries), (3, 1));
        assert!(matches!(
            &p.target.security,
            Security::Community { v1: false, community } if &**community == "secret"
        ));
        let e = &p.evaluation;
        let texts: Vec<(Option<&str>, Option<&str>)> = e
            .limits
            .iter()
            .map(|(w, c)| (w.as_ref().map(|l| &*l.text), c.as_ref().map(|l| &*l.text)))
            .collect();
        assert_eq!(
            texts,
            [
                (Some("10"), Some("@10:20")),
                (Some(":5"), None),
                (None, None)
            ]
        );
        assert_eq!(
            (e.rate, e.offset, e.perf_oids, e.invert),
            (Some(60), -1.5, true, true)
        );
        assert_eq!(e.labels.len(), 2);
        assert_eq!(&*e.delimiter, "/");

        let p = parse(&args(
            "127.0.0.1 -P 3 -L authPriv -U u -a SHA -A authpass1 -x AES -X privpass1 -o 1.3.6.1.2.1.1.5.0",
        ))
        .expect("v3");
        assert!(matches!(
            &p.target.security,
            Security::Usm {
                level: Level::AuthPriv,
                auth: (AuthProtocol::Sha1, _),
                privacy: (PrivProtocol::Aes128, _),
                ..
            }
        ));
    }

    #[test]
    fn leaves_the_rest_to_the_plugin() {
        let base = "-H 127.0.0.1 -o 1.3.6.1.2.1.1.3.0";
        let table: &[(&str, &str)] = &[
            (
                "-H 127.0.0.1 -o sysUpTime.0",
                "value 'sysUpTime.0' of '-o' not reproduced natively",
            ),
            ("-H 127.0.0.1", "no '-o' given"),
            ("-o 1.3.6.1.2.1.1.3.0", "no '-H' given"),
            (
                "-H udp:h -o 1.3.6.1.2.1.1.3.0",
                "value 'udp:h' of '-H' not reproduced natively",
            ),
            (
                "-H 127.1 -o 1.3.6.1.2.1.1.3.0",
                "value '127.1' of '-H' not reproduced natively",
            ),
            (
                "-H ::1 -o 1.3.6.1.2.1.1.3.0",
                "value '::1' of '-H' not reproduced natively",
            ),
            (&format!("{base} -d :"), "flag '-d' not understood"),
            (&format!("{base} -m ALL"), "flag '-m' not understood"),
            (
                &format!("{base} -P 2"),
                "value '2' of '-P' not reproduced natively",
            ),
            (
                &format!("{base} -w 1x"),
                "value '1x' of '-w' not reproduced natively",
            ),
            (
                &format!("{base} -c 5:1:2"),
                "value '5:1:2' of '-c' not reproduced natively",
            ),
            (
                &format!("{base} -r a\\d"),
                "value 'a\\d' of '-r' not reproduced natively",
            ),
            (
                &format!("{base} -l 'a'"),
                "value ''a'' of '-l' not reproduced natively",
            ),
            (
                &format!("{base} -l a,"),
                "value 'a,' of '-l' not reproduced natively",
            ),
            (&format!("{base} -P 3"), "no '-U' given"),
            (&format!("{base} -P 3 -U u -L authNoPriv"), "no '-A' given"),
            (
                &format!("{base} -P 3 -U u -L authNoPriv -A short"),
                "value 'short' of '-A' not reproduced natively",
            ),
            (
                &format!("{base} -P 3 -U u -L authPriv -A longenough"),
                "no '-X' given",
            ),
            (
                &format!("{base} -a SHA256"),
                "value 'SHA256' of '-a' not reproduced natively",
            ),
            (
                &format!("{base} -t 0"),
                "value '0' of '-t' not reproduced natively",
            ),
            (
                &format!("{base} --offset 1e3"),
                "value '1e3' of '--offset' not reproduced natively",
            ),
            (&format!("{base} --nextt"), "flag '--nextt' not understood"),
            (&format!("{base} -c"), "flag '-c' needs a value"),
        ];
        for &(line, want) in table {
            let got = parse(&args(line)).map(|_| ()).map_err(|e| e.to_string());
            assert_eq!(got, Err(want.to_string()), "{line}");
        }
    }
}
