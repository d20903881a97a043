//! The services check_tcp plays by the name it is called as.
//!
//! monitoring-plugins installs `check_ftp`, `check_imap`, ... as symlinks to
//! `check_tcp`; the plugin reads `argv[0]`, prints the upper-cased name
//! after `check_` where it would print `TCP`, and starts from that
//! service's port, send, expect and quit strings and TLS. The defaults
//! below are what 2.3.3 reports with `-v` under each name. `check_smtp`
//! is a plugin of its own, and `check_udp` (UDP) stays with the plugin.

/// One name check_tcp answers to, and its defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Service {
    /// The name in the output (`FTP OK - ...`).
    pub name: &'static str,
    /// The port when `-p` is not given (0: `-p` is required).
    pub port: u16,
    /// Sent after connecting.
    pub send: Option<&'static str>,
    /// What the answer must start with (until `-e` replaces it).
    pub expect: &'static [&'static str],
    /// The plugin counts these expect strings before reading `-e`, so `-e`
    /// adds to them instead of replacing them (the NNTP names).
    pub expect_kept: bool,
    /// Sent before closing.
    pub quit: Option<&'static str>,
    /// TLS right after connecting.
    pub tls: bool,
    /// Never print what the server said (`-j`).
    pub hide_output: bool,
}

/// Plain `check_tcp`.
const TCP: Service = Service {
    name: "TCP",
    port: 0,
    send: None,
    expect: &[],
    expect_kept: false,
    quit: None,
    tls: false,
    hide_output: false,
};

/// Each plugin name and the service it is.
const SERVICES: &[(&str, Service)] = &[
    ("check_tcp", TCP),
    ("check_ftp", mail("FTP", 21, &["220"], "QUIT\r\n", false)),
    ("check_pop", mail("POP", 110, &["+OK"], "QUIT\r\n", false)),
    ("check_spop", mail("SPOP", 995, &["+OK"], "QUIT\r\n", true)),
    ("check_imap", mail("IMAP", 143, &["* OK"], "a1 LOGOUT\r\n", false)),
    ("check_simap", mail("SIMAP", 993, &["* OK"], "a1 LOGOUT\r\n", true)),
    ("check_ssmtp", mail("SSMTP", 465, &["220"], "QUIT\r\n", true)),
    ("check_nntp", news("NNTP", 119, false)),
    ("check_nntps", news("NNTPS", 563, true)),
    (
        "check_jabber",
        Service {
            name: "JABBER",
            port: 5222,
            send: Some(
                "<stream:stream to='host' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>\n",
            ),
            expect: &["<?xml version='1.0'"],
            quit: Some("</stream:stream>\n"),
            hide_output: true,
            ..TCP
        },
    ),
    (
        "check_clamd",
        Service {
            name: "CLAMD",
            port: 3310,
            send: Some("PING"),
            expect: &["PONG"],
            ..TCP
        },
    ),
];

/// A banner service: one expect string and a quit command.
const fn mail(
    name: &'static str,
    port: u16,
    expect: &'static [&'static str],
    quit: &'static str,
    tls: bool,
) -> Service {
    Service {
        name,
        port,
        expect,
        quit: Some(quit),
        tls,
        ..TCP
    }
}

/// NNTP: a 200 or 201 greeting.
const fn news(name: &'static str, port: u16, tls: bool) -> Service {
    Service {
        name,
        port,
        expect: &["200", "201"],
        expect_kept: true,
        quit: Some("QUIT\r\n"),
        tls,
        ..TCP
    }
}

impl Service {
    /// The service check_tcp is when called as `program` (a file name).
    pub fn named(program: &str) -> Option<Service> {
        SERVICES
            .iter()
            .find(|(name, _)| *name == program)
            .map(|&(_, service)| service)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_plugins_symlinks() {
        let s = Service::named("check_simap").expect("simap");
        assert_eq!((s.name, s.port, s.tls), ("SIMAP", 993, true));
        assert_eq!((s.expect, s.quit), (&["* OK"][..], Some("a1 LOGOUT\r\n")));
        let s = Service::named("check_nntps").expect("nntps");
        assert!(s.expect_kept && s.tls);
        assert_eq!(Service::named("check_tcp"), Some(TCP));
        for other in ["check_udp", "check_smtp", "check_pop3", "tcp"] {
            assert_eq!(Service::named(other), None, "{other}");
        }
    }
}
