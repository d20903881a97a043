//! Differential tests: the native `dns` probe against the real
//! `/usr/lib/nagios/plugins/check_dns` (which runs nslookup), same command
//! line, same real dnsmasq; then a hostile server only the native probe
//! is pointed at, for what no real server sends.
//!
//! Both must agree on the exit status, the output (response time masked)
//! and the perfdata (value masked; label, unit, thresholds and min byte
//! for byte).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use vedette::check::{CheckResult, Status};
use vedette::model::Settings;
use vedette::plugin_output;
use vedette::probes::exec::argv;

use crate::support::dnsmasq::{Dnsmasq, Hostile, Misbehaviour, CLOSED, HOSTILE, SERVER};
use crate::support::probes as support;

/// Replaces the measured numbers (`N.NNN second(s)`, `time=N`) with `#`.
fn mask(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        let next = [" second", "time="]
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

fn show(r: &CheckResult) -> String {
    format!(
        "{} | output {:?} | long {:?} | perf {:?}",
        r.status,
        mask(&r.output),
        mask(&r.long_output),
        mask(&r.perfdata)
    )
}

/// The real plugin, failing with the packages to install when it (or the
/// nslookup it runs) is missing.
fn check_dns() -> PathBuf {
    let plugin = PathBuf::from("/usr/lib/nagios/plugins/check_dns");
    assert!(
        plugin.exists(),
        "check_dns is missing: install Debian's monitoring-plugins-standard"
    );
    assert!(
        Path::new("/usr/bin/nslookup").exists(),
        "nslookup is missing: install Debian's bind9-dnsutils"
    );
    plugin
}

/// Runs `check_dns ARGS` both ways and compares; returns the native result.
fn differential(args: &str) -> CheckResult {
    let line = format!("{} {args}", check_dns().display());
    let words = argv::split(&line).expect("test lines need no shell");
    let real = Command::new(&words[0])
        .args(&words[1..])
        .output()
        .expect("run check_dns");
    let code = real.status.code().expect("check_dns exited");
    let real = plugin_output::parse(
        Status::from_exit_code(code),
        &String::from_utf8_lossy(&real.stdout),
    );
    let native = native(&line);
    assert_eq!(show(&native), show(&real), "native vs real for {args}");
    native
}

/// Runs `line` natively, insisting it compiled to the `dns` probe.
fn native(line: &str) -> CheckResult {
    let (probe, result) = support::run(line, None, &Settings::default());
    assert_eq!(probe, "dns", "{line} must run natively");
    result
}

#[test]
fn mask_hides_only_measurements() {
    assert_eq!(
        mask("DNS OK: 0.004 seconds response time. a returns b|time=0.004123s;;1.000000;0.000000"),
        "DNS OK: # seconds response time. a returns b|time=#s;;1.000000;0.000000"
    );
}

#[test]
fn matrix_against_dnsmasq() {
    let _dns = Dnsmasq::start();
    let s = SERVER;
    let table: &[(String, Status)] = &[
        (format!("-H ok.vedette.test -s {s}"), Status::Ok),
        (format!("-H multi.vedette.test -s {s}"), Status::Ok),
        // Too many records for 512 bytes of UDP: answered again over TCP.
        (format!("-H big.vedette.test -s {s}"), Status::Ok),
        (format!("-H v6.vedette.test --server={s}"), Status::Ok),
        (format!("OK.Vedette.Test. {s}"), Status::Ok),
        (
            format!("-H ok.vedette.test -s {s} -a 192.0.2.10"),
            Status::Ok,
        ),
        (
            format!("-H ok.vedette.test -s {s} -a 192.0.2.11"),
            Status::Critical,
        ),
        (
            format!("-H multi.vedette.test -s {s} -a 192.0.2.99,192.0.2.21"),
            Status::Ok,
        ),
        (
            format!("-H multi.vedette.test -s {s} -a 192.0.2.20,192.0.2.99 -L"),
            Status::Critical,
        ),
        (
            format!("-H multi.vedette.test -s {s} -a 192.0.2.0/24 -a 2001:db8::5 -L"),
            Status::Ok,
        ),
        (format!("-H nx.vedette.test -s {s}"), Status::Critical),
        (format!("-H nx.vedette.test -s {s} -n"), Status::Ok),
        (format!("-H ok.vedette.test -s {s} -n"), Status::Critical),
        (format!("-H txt.vedette.test -s {s}"), Status::Critical),
        (
            format!("-H ok.vedette.test -s {s} -c 0.000001"),
            Status::Critical,
        ),
        (
            format!("-H ok.vedette.test -s {s} -w 0.000001 -c 5"),
            Status::Warning,
        ),
        (
            format!("-H ok.vedette.test -s {s} -w 5 -c 9 -t 3"),
            Status::Ok,
        ),
        (format!("-H ok.vedette.test -s {s} -A"), Status::Ok),
        (format!("-H v6.vedette.test -s {s} -A"), Status::Critical),
        // Outside dnsmasq's zone, with no upstream: REFUSED.
        (format!("-H ok.elsewhere.test -s {s}"), Status::Critical),
    ];
    for (args, want) in table {
        let r = differential(args);
        assert_eq!(r.status, *want, "{args}: {}", r.output);
    }
}

#[test]
fn closed_port_is_no_response() {
    let r = differential(&format!("-H ok.vedette.test -s {CLOSED}"));
    assert_eq!(r.status, Status::Critical);
    assert_eq!(&*r.output, format!("No response from DNS {CLOSED}"));
}

#[test]
fn hostile_server() {
    let at = HOSTILE[0];
    // Wrong ids only: both nslookup and the probe wait for the alarm.
    let server = Hostile::start(at, Misbehaviour::WrongId);
    let r = differential(&format!("-H ok.vedette.test -s {at} -t 2"));
    assert_eq!(
        (r.status, &*r.output),
        (
            Status::Critical,
            "CRITICAL - Plugin timed out while executing system call"
        )
    );

    // A truncated answer and no TCP listener: nslookup retries over TCP,
    // is refused, and the plugin reports no response; so must we.
    server.set(Misbehaviour::Truncated);
    let r = differential(&format!("-H ok.vedette.test -s {at} -t 2"));
    assert_eq!(
        (r.status, &*r.output),
        (Status::Critical, &*format!("No response from DNS {at}"))
    );

    let line = format!("check_dns -H ok.vedette.test -s {at} -t 2");
    let table: &[(Misbehaviour, Status, &str)] = &[
        (
            Misbehaviour::Garbage,
            Status::Critical,
            "malformed response",
        ),
        (Misbehaviour::Cut, Status::Critical, "truncated packet"),
        (
            Misbehaviour::PointerLoop,
            Status::Critical,
            "bad compression pointer",
        ),
    ];
    for &(how, status, text) in table {
        server.set(how);
        let r = native(&line);
        assert_eq!(r.status, status, "{how:?}: {}", r.output);
        assert!(r.output.contains(text), "{how:?}: {}", r.output);
    }
}

#[test]
fn engine_timeout_wins_when_shorter() {
    let _server = Hostile::start(HOSTILE[1], Misbehaviour::WrongId);
    let line = format!("check_dns -H ok.vedette.test -s {}", HOSTILE[1]);
    let (probe, r) = support::run(
        &line,
        Some(Duration::from_millis(300)),
        &Settings::default(),
    );
    assert_eq!(probe, "dns");
    assert_eq!(r.status, Status::Unknown);
    assert_eq!(&*r.output, "(Service check timed out after 0.30 seconds)");
}
