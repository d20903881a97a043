//! Differential tests: the native `tcp` probe against the real
//! `/usr/lib/nagios/plugins/check_tcp`, same command line, same peer.
//!
//! Both must agree on the exit status, the output and long output (with
//! the measured response time masked) and the perfdata (value masked, the
//! label, unit, thresholds, min and max compared byte for byte).

use std::process::Command;
use std::time::Duration;

use vedette::check::{CheckResult, Status};
use vedette::model::{Settings, TcpIo};
use vedette::plugin_output;
use vedette::probes::exec::argv;

use crate::support::free_port as closed_port;
use crate::support::probes::{self as support, Listening, Peer};

/// Replaces the measured numbers (`N.NNN second response time`, `time=N`)
/// with `#`, leaving everything else as printed.
fn mask(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        let next = [" second response time", "time="]
            .iter()
            .filter_map(|m| rest.find(m).map(|i| (i, *m)))
            .min();
        let Some((i, marker)) = next else {
            out.push_str(rest);
            break;
        };
        if marker == "time=" {
            out.push_str(&rest[..i + marker.len()]);
            rest = &rest[i + marker.len()..];
            let n = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(rest.len());
            out.push('#');
            rest = &rest[n..];
        } else {
            let head = &rest[..i];
            let start = head
                .rfind(|c: char| !(c.is_ascii_digit() || c == '.'))
                .map_or(0, |j| j + 1);
            out.push_str(&head[..start]);
            out.push('#');
            out.push_str(marker);
            rest = &rest[i + marker.len()..];
        }
    }
    out
}

/// Runs `check_tcp ARGS` both ways and compares; returns the native result
/// for extra assertions.
fn differential(args: &str) -> CheckResult {
    differential_as("check_tcp", args, Compare::All)
}

/// How much of the two results must agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compare {
    /// Status, output, long output and perfdata.
    All,
    /// Status and output: where the plugin's long output is OpenSSL's
    /// error queue, which has its thread id and OpenSSL's function names.
    FirstLine,
}

/// Runs `PROGRAM ARGS` (check_tcp or one of its names) both ways and
/// compares; returns the native result for extra assertions.
pub(crate) fn differential_as(program: &str, args: &str, compare: Compare) -> CheckResult {
    let line = format!("{} {args}", crate::support::plugin(program).display());
    let words = argv::split(&line).expect("test lines need no shell");
    let real = Command::new(&words[0])
        .args(&words[1..])
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    let code = real.status.code().expect("the plugin exited");
    let real = plugin_output::parse(
        Status::from_exit_code(code),
        &String::from_utf8_lossy(&real.stdout),
    );

    let (probe, native) = support::run(&line, None, &Settings::default());
    assert_eq!(probe, "tcp", "{line} must run natively");
    let show = |r: &CheckResult| match compare {
        Compare::All => format!(
            "{} | output {:?} | long {:?} | perf {:?}",
            r.status,
            mask(&r.output),
            mask(&r.long_output),
            mask(&r.perfdata)
        ),
        Compare::FirstLine => format!("{} | output {:?}", r.status, mask(&r.output)),
    };
    assert_eq!(
        show(&native),
        show(&real),
        "native vs real for {program} {args}"
    );
    native
}

#[test]
fn mask_hides_only_measurements() {
    assert_eq!(
        mask("TCP OK - 0.001 second response time on h port 1|time=0.000792s;0.500000;;0.000000;10.000000"),
        "TCP OK - # second response time on h port 1|time=#s;0.500000;;0.000000;10.000000"
    );
}

#[test]
fn open_port() {
    let peer = Listening::start(Peer::ssh());
    let r = differential(&format!("-H 127.0.0.1 -p {}", peer.addr.port()));
    assert_eq!(r.status, Status::Ok);
    // The positional host form prints no host name.
    differential(&format!("127.0.0.1 -p {}", peer.addr.port()));
    differential(&format!(
        "-H localhost --port={} -w 5 -c 8 -t 9",
        peer.addr.port()
    ));
    peer.join();
}

/// A connect-only check gives the same verdict on io_uring (the default,
/// which the differential tests use) and on tokio.
#[test]
fn io_uring_and_tokio_agree() {
    let peer = Listening::start(Peer::ssh());
    let tokio = Settings {
        tcp_io: TcpIo::Tokio,
        ..Settings::default()
    };
    let lines = [
        format!("check_tcp -H 127.0.0.1 -p {}", peer.addr.port()),
        format!("check_tcp -H ::1 -p {} -w 5 -c 8", closed_port()),
        format!("check_tcp -H 127.0.0.1 -p {} -r warn", closed_port()),
        format!("check_tcp -H localhost -p {}", peer.addr.port()),
    ];
    for line in &lines {
        let (_, ring) = support::run(line, None, &Settings::default());
        let (_, epoll) = support::run(line, None, &tokio);
        assert_eq!(
            (ring.status, mask(&ring.output), mask(&ring.perfdata)),
            (epoll.status, mask(&epoll.output), mask(&epoll.perfdata)),
            "{line}"
        );
    }
    peer.join();
}

#[test]
fn closed_port_is_refused() {
    let port = closed_port();
    let r = differential(&format!("-H 127.0.0.1 -p {port}"));
    assert_eq!(r.status, Status::Critical);
    assert!(r.output.ends_with("Connection refused"), "{}", r.output);
    let r = differential(&format!("-H 127.0.0.1 -p {port} -r warn"));
    assert_eq!(r.status, Status::Warning);
}

#[test]
fn expect_matches() {
    let peer = Listening::start(Peer::ssh());
    let p = peer.addr.port();
    let r = differential(&format!("-H 127.0.0.1 -p {p} -s hello -e SSH -q bye"));
    assert!(r.output.ends_with("[SSH-2.0-test]"), "{}", r.output);
    differential(&format!("-H 127.0.0.1 -p {p} -e nope -e test"));
    differential(&format!("-H 127.0.0.1 -p {p} -j -e SSH"));
    peer.join();
}

#[test]
fn expect_mismatch() {
    let peer = Listening::start(Peer::ssh());
    let p = peer.addr.port();
    let r = differential(&format!("-H 127.0.0.1 -p {p} -e FOO -w 5"));
    assert_eq!(r.status, Status::Warning);
    differential(&format!(
        "-H 127.0.0.1 -p {p} -e SSH -e FOO -A -M crit -c 9"
    ));
    differential(&format!("-H 127.0.0.1 -p {p} -j -e FOO"));
    peer.join();
}

#[test]
fn multi_line_banner_and_early_close() {
    let peer = Listening::start(Peer::Banner {
        banner: b"line one\r\nline two \r\n\r\n",
        delay: Duration::ZERO,
        hold: Duration::ZERO,
    });
    let p = peer.addr.port();
    let r = differential(&format!("-H 127.0.0.1 -p {p} -e two"));
    assert_eq!(&*r.long_output, "line two]");
    differential(&format!("-H 127.0.0.1 -p {p} -e nope"));
    peer.join();
}

#[test]
fn slow_responder_crosses_thresholds() {
    let peer = Listening::start(Peer::Banner {
        banner: b"SSH-2.0-slow\r\n",
        delay: Duration::from_millis(800),
        hold: Duration::from_secs(3),
    });
    let p = peer.addr.port();
    let r = differential(&format!("-H 127.0.0.1 -p {p} -e SSH -w 0.3 -c 5"));
    assert_eq!(r.status, Status::Warning);
    let r = differential(&format!("-H 127.0.0.1 -p {p} -e SSH -w 0.1 -c 0.3"));
    assert_eq!(r.status, Status::Critical);
    peer.join();
}

#[test]
fn silent_and_empty_peers() {
    let silent = Listening::start(Peer::Silent {
        hold: Duration::from_secs(3),
    });
    let r = differential(&format!(
        "-H 127.0.0.1 -p {} -e SSH -t 1",
        silent.addr.port()
    ));
    assert_eq!(&*r.output, "CRITICAL - Socket timeout after 1 seconds");
    let closes = Listening::start(Peer::Silent {
        hold: Duration::ZERO,
    });
    let r = differential(&format!("-H 127.0.0.1 -p {} -e SSH", closes.addr.port()));
    assert_eq!(&*r.output, "No data received from host");
    silent.join();
    closes.join();
}

#[test]
fn unresolvable_host() {
    let r = differential("-H nosuch.invalid -p 22");
    assert_eq!(r.status, Status::Critical);
    differential("-H 127.0.0.1 -p 22 -6");
}

#[test]
fn engine_timeout_wins_when_shorter() {
    let silent = Listening::start(Peer::Silent {
        hold: Duration::from_secs(3),
    });
    let line = format!("check_tcp -H 127.0.0.1 -p {} -e SSH", silent.addr.port());
    let (probe, r) = support::run(
        &line,
        Some(Duration::from_millis(300)),
        &Settings::default(),
    );
    assert_eq!(probe, "tcp");
    assert_eq!(r.status, Status::Unknown);
    assert_eq!(&*r.output, "(Service check timed out after 0.30 seconds)");
    silent.join();
}
