//! The `check_http` command line, read the way monitoring-plugins 2.3's
//! `process_arguments` reads it, into an [`HttpProbe`].
//!
//! Only what the native probe reproduces exactly is accepted:
//! `-H -I -p -u -S --sni -C -e -s -w -c -t -j -f -N -4 -6 -r -R -l
//! --invert-regex -a -k -A -P -T -m -d --max-redirs` (and their long
//! forms), one flag per word, values attached (`-p80`, `--port=80`) or
//! following. Everything else — `-b` proxy auth, `-E` extended perfdata,
//! `-f sticky`, `-S1` TLS versions, `-H host:port`, positional hosts,
//! abbreviated long options, values the plugin would reject or read oddly
//! (`-w 1e1`, `-p 70000`, `-m 1k`, a regex using syntax POSIX reads
//! otherwise, a header value with a line break) — is
//! [`NotNative`] and the real plugin runs, so its quirks stay its own.

use crate::check::Status;
use crate::probes::cmdline::{positive, seconds, NotNative};
use crate::probes::getopt::{getopt, Arg, Opt, NO_SHORT};
use crate::probes::tcp::Family;

use super::check::{PageSize, Pattern};
use super::redirect::MAX_REDIRECTS;
use super::{CertDays, HttpProbe, OnRedirect};

/// check_http's `DEFAULT_SOCKET_TIMEOUT`.
const DEFAULT_TIMEOUT_S: u32 = 10;

/// The plugin copies `-a` and `-d` into buffers of `MAX_INPUT_BUFFER`
/// bytes, cutting longer values: those are left to it.
const MAX_INPUT_BUFFER: usize = 8192 - 1;

/// `-A` goes into a `DEFAULT_BUFFER_SIZE` (2048) buffer after
/// `User-Agent: `; longer values are cut, and left to the plugin.
const MAX_USER_AGENT: usize = 2048 - "User-Agent: ".len() - 1;

/// The options the native probe reads.
const OPTIONS: &[Opt] = &[
    ('H', "hostname", true),
    ('I', "IP-address", true),
    ('p', "port", true),
    ('u', "url", true),
    ('S', "ssl", false),
    ('C', "certificate", true),
    ('e', "expect", true),
    ('s', "string", true),
    ('w', "warning", true),
    ('c', "critical", true),
    ('t', "timeout", true),
    ('j', "method", true),
    ('f', "onredirect", true),
    ('N', "no-body", false),
    ('4', "use-ipv4", false),
    ('6', "use-ipv6", false),
    (NO_SHORT, "sni", false),
    ('r', "regex", true),
    ('r', "ereg", true),
    ('R', "eregi", true),
    (NO_SHORT, "invert-regex", false),
    ('l', "linespan", false),
    (NO_SHORT, "max-redirs", true),
    ('a', "authorization", true),
    ('k', "header", true),
    ('A', "useragent", true),
    ('P', "post", true),
    ('T', "content-type", true),
    ('m', "pagesize", true),
    ('d', "header-string", true),
];

/// Reads check_http arguments (without `argv[0]`).
///
/// # Errors
/// [`NotNative`] naming the first flag or value the native probe does not
/// reproduce.
pub fn parse(args: &[String]) -> Result<HttpProbe, NotNative> {
    let mut probe = HttpProbe {
        host_name: None,
        address: Box::from(""),
        port: 0,
        uri: Box::from("/"),
        ssl: false,
        sni: false,
        cert_days: None,
        expect: None,
        string: None,
        warn: None,
        crit: None,
        timeout_s: DEFAULT_TIMEOUT_S,
        method: None,
        on_redirect: OnRedirect::State(Status::Ok),
        no_body: false,
        family: Family::Any,
        check_timeout: None,
        regex: None,
        invert_regex: false,
        auth: None,
        headers: Vec::new(),
        user_agent: None,
        post: None,
        content_type: None,
        page_size: PageSize::default(),
        header_string: None,
        max_redirects: MAX_REDIRECTS,
    };
    // `-R` makes this and every later `-r` case-insensitive, as the
    // plugin's sticky `cflags`.
    let mut icase = false;
    // `-l` drops `REG_NEWLINE` for the patterns compiled after it.
    let mut linespan = false;
    let mut address = None;
    let mut port = None;
    for arg in getopt(OPTIONS, args) {
        let flag = match arg? {
            Arg::Flag(flag) => flag,
            Arg::Positional(word) => return Err(NotNative::Flag(word.to_string())),
        };
        let (value, bad) = (flag.value, || flag.bad());
        match flag.long {
            "hostname" => probe.host_name = Some(host(value).ok_or_else(bad)?),
            "IP-address" => address = Some(host(value).ok_or_else(bad)?),
            "port" => {
                port = Some(
                    positive(value)
                        .and_then(|p| u16::try_from(p).ok())
                        .ok_or_else(bad)?,
                )
            }
            "url" if value.starts_with('/') && !value.contains(char::is_whitespace) => {
                probe.uri = value.into()
            }
            "ssl" => probe.ssl = true,
            "sni" => probe.sni = true,
            "certificate" => {
                probe.cert_days = Some(CertDays::parse(value).ok_or_else(bad)?);
                probe.ssl = true;
            }
            "expect" => probe.expect = Some(value.into()),
            "string" => probe.string = Some(value.into()),
            "warning" => probe.warn = Some(seconds(value).ok_or_else(bad)?),
            "critical" => probe.crit = Some(seconds(value).ok_or_else(bad)?),
            "timeout" => probe.timeout_s = positive(value).ok_or_else(bad)?,
            "method" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_uppercase()) => {
                probe.method = Some(value.into())
            }
            "onredirect" => probe.on_redirect = on_redirect(value).ok_or_else(bad)?,
            "no-body" => probe.no_body = true,
            "use-ipv4" => probe.family = Family::V4,
            "use-ipv6" => probe.family = Family::V6,
            "regex" | "ereg" | "eregi" => {
                icase |= flag.short == 'R';
                // The plugin skips the search for an empty pattern.
                probe.regex = match value {
                    "" => None,
                    _ => Some(Pattern::new(value, icase, linespan).ok_or_else(bad)?),
                };
            }
            "invert-regex" => probe.invert_regex = true,
            "linespan" => linespan = true,
            "max-redirs" => probe.max_redirects = non_negative(value).ok_or_else(bad)?,
            "authorization" if value.len() < MAX_INPUT_BUFFER => {
                probe.auth = Some(header_safe(value).ok_or_else(bad)?.into())
            }
            "header" => probe
                .headers
                .push(header_safe(value).ok_or_else(bad)?.into()),
            "useragent" if value.len() < MAX_USER_AGENT => {
                probe.user_agent = Some(header_safe(value).ok_or_else(bad)?.into())
            }
            // A second `-P` is ignored by the plugin.
            "post" if probe.post.is_some() => {}
            "post" => probe.post = Some(value.into()),
            "content-type" => probe.content_type = Some(header_safe(value).ok_or_else(bad)?.into()),
            "pagesize" => probe.page_size = page_size(value).ok_or_else(bad)?,
            "header-string" if value.len() < MAX_INPUT_BUFFER => {
                probe.header_string = Some(value.into())
            }
            _ => return Err(bad()),
        }
    }
    probe.address = match (address, &probe.host_name) {
        (Some(a), _) => a,
        (None, Some(h)) => h.clone(),
        (None, None) => return Err(NotNative::Missing("-H")),
    };
    probe.port = port.unwrap_or(if probe.ssl { 443 } else { 80 });
    Ok(probe)
}

/// A host name or IP literal; `host:port`, bracketed IPv6 and sockets are
/// left to the plugin.
fn host(value: &str) -> Option<Box<str>> {
    let plain = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    plain.then(|| value.into())
}

/// A value the plugin pastes into the request as is: one line, so that
/// it cannot add headers the native request would then have to mimic.
fn header_safe(value: &str) -> Option<&str> {
    (!value.contains(['\r', '\n', '\0'])).then_some(value)
}

/// A whole number of plain digits, zero allowed (`is_intnonneg`), that
/// fits the plugin's `int`.
fn non_negative(value: &str) -> Option<u32> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok().filter(|&n| n <= i32::MAX as u32)
}

/// `-m MIN[:MAX]`, plain digits only (the plugin's `atoi` reads more).
fn page_size(value: &str) -> Option<PageSize> {
    let n = |s: &str| -> Option<u32> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok().filter(|&n| n <= i32::MAX as u32)
    };
    Some(match value.split_once(':') {
        Some((min, max)) => PageSize {
            min: n(min)?,
            max: n(max)?,
        },
        None => PageSize {
            min: n(value)?,
            max: 0,
        },
    })
}

/// `-f`: the exact words the plugin compares (`sticky*` left to it).
fn on_redirect(value: &str) -> Option<OnRedirect> {
    Some(match value {
        "follow" => OnRedirect::Follow,
        "ok" => OnRedirect::State(Status::Ok),
        "warning" => OnRedirect::State(Status::Warning),
        "critical" => OnRedirect::State(Status::Critical),
        "unknown" => OnRedirect::State(Status::Unknown),
        _ => return None,
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
            "-H www.example.com -I 10.0.0.1 -u /health --ssl --sni -e 200,301 -s ok -w 0.5 -c2 -t 3 -j HEAD -f follow -N -4",
        ))
        .expect("native");
        assert_eq!(p.host_name.as_deref(), Some("www.example.com"));
        assert_eq!(&*p.address, "10.0.0.1");
        assert_eq!((p.port, p.ssl, p.sni), (443, true, true));
        assert_eq!(&*p.uri, "/health");
        assert_eq!(p.expect.as_deref(), Some("200,301"));
        assert_eq!(p.string.as_deref(), Some("ok"));
        assert_eq!((p.warn, p.crit, p.timeout_s), (Some(0.5), Some(2.0), 3));
        assert_eq!(p.method.as_deref(), Some("HEAD"));
        assert_eq!(p.on_redirect, OnRedirect::Follow);
        assert!(p.no_body);
        assert_eq!(p.family, Family::V4);

        let p = parse(&args("-H h --port=8080 -C 30,7")).expect("native");
        assert_eq!((&*p.address, p.port, p.ssl), ("h", 8080, true));
        assert_eq!(p.cert_days, Some(CertDays { warn: 30, crit: 7 }));
        let p = parse(&args("-I 127.0.0.1 -C 30 -f critical")).expect("native");
        assert_eq!((p.host_name, p.port), (None, 443));
        assert_eq!(p.cert_days, Some(CertDays { warn: 30, crit: 0 }));
        assert_eq!(p.on_redirect, OnRedirect::State(Status::Critical));
    }

    #[test]
    fn leaves_the_rest_to_the_plugin() {
        let table: &[(&str, &str)] = &[
            ("-H h -r \\d", "value '\\d' of '-r' not reproduced natively"),
            (
                "-H h -k X:\0y",
                "value 'X:\0y' of '-k' not reproduced natively",
            ),
            ("-H h -m 1x", "value '1x' of '-m' not reproduced natively"),
            ("-H h -m 1:", "value '1:' of '-m' not reproduced natively"),
            ("-H h -E", "flag '-E' not understood"),
            ("-H h -b u:p", "flag '-b' not understood"),
            ("-H h -S1", "flag '-S1' not understood"),
            ("-H h --ssl=1", "flag '--ssl=1' not understood"),
            ("-H h --hostn=x", "flag '--hostn=x' not understood"),
            ("-H h -4N", "flag '-4N' not understood"),
            ("h", "flag 'h' not understood"),
            ("-H h -s", "flag '-s' needs a value"),
            (
                "-H h:8080",
                "value 'h:8080' of '-H' not reproduced natively",
            ),
            ("-H h -p 0", "value '0' of '-p' not reproduced natively"),
            (
                "-H h -p 70000",
                "value '70000' of '-p' not reproduced natively",
            ),
            (
                "-H h -u health",
                "value 'health' of '-u' not reproduced natively",
            ),
            ("-H h -w 1e1", "value '1e1' of '-w' not reproduced natively"),
            ("-H h -w 1:2", "value '1:2' of '-w' not reproduced natively"),
            (
                "-H h -f sticky",
                "value 'sticky' of '-f' not reproduced natively",
            ),
            (
                "-H h -C 30,x",
                "value '30,x' of '-C' not reproduced natively",
            ),
            ("-H h -j get", "value 'get' of '-j' not reproduced natively"),
            ("-p 80", "no '-H' given"),
        ];
        for &(line, want) in table {
            let got = parse(&args(line)).map(|_| ()).map_err(|e| e.to_string());
            assert_eq!(got, Err(want.to_string()), "{line}");
        }
    }
}
