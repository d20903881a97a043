//! Recognising plugin command lines that run natively.
//!
//! [`compile`] turns a command line into a native [`Probe`] when the plugin
//! is one Vedette reproduces and every flag on the line is understood;
//! otherwise it says why not ([`NotNative`]) and the caller forks the real
//! plugin. The reason is returned, not logged: `build` runs once per check
//! and the caller logs once per command
//! ([`build_explained`](crate::probes::build_explained)).

use crate::probes::exec::argv::{self, ShellNeeded};
use crate::probes::{dns, dummy, http, icmp, nrpe, snmp, tcp, Probe};

/// Why a command line runs as a forked plugin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotNative {
    /// The line is blank.
    #[error("empty command line")]
    Empty,
    /// Only `/bin/sh` can run the line.
    #[error("needs a shell: {0}")]
    Shell(ShellNeeded),
    /// No native probe for this plugin.
    #[error("no native probe for '{0}'")]
    Plugin(String),
    /// A flag the native probe does not implement.
    #[error("flag '{0}' not understood")]
    Flag(String),
    /// Native probes are switched off in the config.
    #[error("native probes are off ([engine] native_probes = false)")]
    Disabled,
    /// A flag at the end of the line without its value.
    #[error("flag '{0}' needs a value")]
    MissingValue(String),
    /// A value the native probe would not read exactly like the plugin.
    #[error("value '{value}' of '{flag}' not reproduced natively")]
    Value {
        /// The flag as written.
        flag: String,
        /// The value as written.
        value: String,
    },
    /// A flag the native probe needs is absent.
    #[error("no '{0}' given")]
    Missing(&'static str),
    /// The plugin's arguments are not ones the native probe reproduces.
    #[error("{0}")]
    Arguments(&'static str),
}

/// Compiles `line` into a native probe, or says why it cannot be one.
///
/// `argv[0]` is matched by its file name, so `/usr/lib/nagios/plugins/check_tcp`
/// and `check_tcp` are the same plugin.
///
/// # Errors
/// [`NotNative`] with the first reason found.
pub fn compile(line: &str) -> Result<Probe, NotNative> {
    let words = argv::split(line).map_err(NotNative::Shell)?;
    let (program, args) = words.split_first().ok_or(NotNative::Empty)?;
    match program.rsplit('/').next().unwrap_or(program) {
        // check_tcp and the names it answers to as a symlink.
        name @ ("check_tcp" | "check_ftp" | "check_pop" | "check_spop" | "check_imap"
        | "check_simap" | "check_ssmtp" | "check_nntp" | "check_nntps" | "check_jabber"
        | "check_clamd") => Ok(Probe::Tcp(Box::new(tcp::config::parse(name, args)?))),
        "check_dns" => Ok(Probe::Dns(Box::new(dns::config::parse(args)?))),
        "check_ping" => Ok(Probe::Icmp(Box::new(icmp::config::parse_ping(args)?))),
        "check_icmp" => Ok(Probe::Icmp(Box::new(icmp::config::parse_icmp(args)?))),
        "check_http" => Ok(Probe::Http(Box::new(http::config::parse(args)?))),
        "check_snmp" => Ok(Probe::Snmp(Box::new(snmp::config::parse(args)?))),
        "check_nrpe" => Ok(Probe::Nrpe(Box::new(nrpe::config::parse(args)?))),
        "check_dummy" => {
            let argv: Vec<&str> = words.iter().map(String::as_str).collect();
            dummy::Dummy::from_argv(&argv)
                .map(Probe::Dummy)
                .ok_or(NotNative::Arguments(
                    "check_dummy state must be 0, 1, 2 or 3",
                ))
        }
        name => Err(NotNative::Plugin(name.to_string())),
    }
}

/// A positive whole number written only with digits, as the plugins'
/// `is_intpos` accepts (no sign, no spaces, not zero).
pub(crate) fn positive(value: &str) -> Option<u32> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok().filter(|&n| n > 0)
}

/// Seconds written as plain decimal (`10`, `0.5`), the only form every
/// plugin reads the same way; anything else is left to the plugin.
pub(crate) fn seconds(value: &str) -> Option<f64> {
    let digits = value.bytes().filter(u8::is_ascii_digit).count();
    let dots = value.bytes().filter(|&b| b == b'.').count();
    if digits == 0 || dots > 1 || digits + dots != value.len() {
        return None;
    }
    value.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_native_lines_and_says_why_not() {
        let table: &[(&str, Result<&str, &str>)] = &[
            (
                "/usr/lib/nagios/plugins/check_tcp -H 127.0.0.1 -p 22",
                Ok("tcp"),
            ),
            ("check_tcp -H 'db 1' -p 22 -e 'SSH-2.0'", Ok("tcp")),
            ("check_dummy 2 'disk full'", Ok("dummy")),
            ("check_dns -H ok.test -s 127.0.0.1 -a 192.0.2.1", Ok("dns")),
            ("check_dns -H ok.test", Err("no '-s' given")),
            (
                "/usr/lib/nagios/plugins/check_ping -H 10.0.0.1 -w 200.0,20% -c 500.0,60% -p 5",
                Ok("icmp"),
            ),
            (
                "check_icmp -H 10.0.0.1 -w 200.0,20% -c 500.0,60%",
                Ok("icmp"),
            ),
            ("check_icmp 10.0.0.1", Ok("icmp")),
            (
                "check_ping -H h -w 1,2% -c 3,4% -v",
                Err("flag '-v' not understood"),
            ),
            ("check_icmp -H h -b 100", Err("flag '-b' not understood")),
            (
                "/usr/lib/nagios/plugins/check_http -H www -u /health -e 200",
                Ok("http"),
            ),
            ("check_http -H www -r 'a.*b' -a u:p", Ok("http")),
            (
                "check_http -H www -r '\\d+'",
                Err("value '\\d+' of '-r' not reproduced natively"),
            ),
            ("check_tcp -H h -p 22 -E", Err("flag '-E' not understood")),
            ("check_tcp -H h -p 993 -S -D 30,7 --sni=h", Ok("tcp")),
            ("/usr/lib/nagios/plugins/check_simap -H h", Ok("tcp")),
            ("check_ftp -H h -e 220", Ok("tcp")),
            (
                "check_udp -H h -p 53 -s x -e y",
                Err("no native probe for 'check_udp'"),
            ),
            (
                "/usr/lib/nagios/plugins/check_snmp -H 127.0.0.1 -C public -o 1.3.6.1.2.1.1.3.0 -w 100",
                Ok("snmp"),
            ),
            (
                "check_snmp -H 127.0.0.1 -o sysUpTime.0",
                Err("value 'sysUpTime.0' of '-o' not reproduced natively"),
            ),
            (
                "/usr/lib/nagios/plugins/check_nrpe -H 10.0.0.1 -c check_load -a 1 2",
                Ok("nrpe"),
            ),
            ("check_nrpe -H h -d 1", Err("flag '-d' not understood")),
            (
                "check_tcp -H h -p 22 | cat",
                Err("needs a shell: shell metacharacter '|'"),
            ),
            (
                "check_dummy 5",
                Err("check_dummy state must be 0, 1, 2 or 3"),
            ),
            ("/opt/check_foo -x", Err("no native probe for 'check_foo'")),
            ("  ", Err("empty command line")),
        ];
        for &(line, want) in table {
            let got = compile(line).map(|p| p.name()).map_err(|e| e.to_string());
            assert_eq!(got, want.map_err(String::from), "{line}");
        }
    }
}
