//! Differential tests: the native `http` probe against the real
//! `/usr/lib/nagios/plugins/check_http`, same command line, same nginx.
//!
//! Both must agree on the exit status, the output and long output (with
//! the measured response time masked; sizes are compared as printed, as
//! both read the same bytes) and the perfdata (time value masked; labels,
//! units, thresholds, min and max byte for byte).

use std::process::Command;
use std::time::Duration;

use vedette::check::{CheckResult, Status};
use vedette::model::Settings;
use vedette::plugin_output;
use vedette::probes::exec::argv;

use crate::support::nginx::{Canned, Nginx};
use crate::support::probes as support;

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
        let head = &rest[..i];
        if marker == "time=" {
            out.push_str(&rest[..i + marker.len()]);
            rest = &rest[i + marker.len()..];
            let n = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(rest.len());
            out.push('#');
            rest = &rest[n..];
        } else {
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

/// Runs `check_http ARGS` both ways and compares; returns the native result
/// for extra assertions.
fn differential(args: &str) -> CheckResult {
    let line = format!("{} {args}", crate::support::plugin("check_http").display());
    let words = argv::split(&line).expect("test lines need no shell");
    let real = Command::new(&words[0])
        .args(&words[1..])
        .output()
        .expect("run check_http");
    let code = real.status.code().expect("check_http exited");
    let real = plugin_output::parse(
        Status::from_exit_code(code),
        &String::from_utf8_lossy(&real.stdout),
    );

    let (probe, native) = support::run(&line, None, &Settings::default());
    assert_eq!(probe, "http", "{line} must run natively");
    let show = |r: &CheckResult| {
        format!(
            "{} | output {:?} | long {:?} | perf {:?}",
            r.status,
            mask(&r.output),
            mask(&r.long_output),
            mask(&r.perfdata)
        )
    };
    assert_eq!(show(&native), show(&real), "native vs real for {args}");
    native
}

#[test]
fn mask_hides_only_measurements() {
    assert_eq!(
        mask("HTTP OK: HTTP/1.1 200 OK - 261 bytes in 0.001 second response time |time=0.000518s;;;0.000000;10.000000 size=261B;;;0;"),
        "HTTP OK: HTTP/1.1 200 OK - 261 bytes in # second response time |time=#s;;;0.000000;10.000000 size=261B;;;0;"
    );
}

#[test]
fn status_codes_and_expect() {
    let nginx = Nginx::start();
    let p = nginx.http;
    let r = differential(&format!("-H 127.0.0.1 -p {p}"));
    assert_eq!(r.status, Status::Ok, "{}", nginx.logs());
    assert!(
        r.output.starts_with("HTTP OK: HTTP/1.1 200 OK - "),
        "{}",
        r.output
    );
    differential(&format!("-I 127.0.0.1 -p {p} -w 5 -c 9 -t 9"));
    differential(&format!(
        "-H localhost -I 127.0.0.1 --port={p} -u /index.html -j HEAD"
    ));
    let r = differential(&format!("-H 127.0.0.1 -p {p} -u /missing"));
    assert_eq!(r.status, Status::Warning);
    let r = differential(&format!("-H 127.0.0.1 -p {p} -u /missing -e 404"));
    assert_eq!(r.status, Status::Ok);
    differential(&format!("-H 127.0.0.1 -p {p} -u /missing -e 200,404"));
    differential(&format!("-H 127.0.0.1 -p {p} -N -4"));
    let r = differential(&format!("-H 127.0.0.1 -p {p} -e 500"));
    assert_eq!(r.status, Status::Critical);
}

#[test]
fn redirects() {
    let nginx = Nginx::start();
    let p = nginx.http;
    let r = differential(&format!("-H 127.0.0.1 -p {p} -u /redir -f ok"));
    assert!(r.output.contains("302 Moved Temporarily"), "{}", r.output);
    let r = differential(&format!("-H 127.0.0.1 -p {p} -u /redir -f critical"));
    assert_eq!(r.status, Status::Critical);
    let r = differential(&format!(
        "-H 127.0.0.1 -p {p} -u /redir -f follow -s 'probe test'"
    ));
    assert!(r.output.contains("200 OK"), "{}", r.output);
    let r = differential(&format!("-I 127.0.0.1 -p {p} -u /rel -f follow"));
    assert!(r.output.contains("200 OK"), "{}", r.output);
    differential(&format!("-H 127.0.0.1 -p {p} -u /redir -e 30"));
}

#[test]
fn body_string() {
    let nginx = Nginx::start();
    let p = nginx.http;
    let r = differential(&format!("-H 127.0.0.1 -p {p} -s 'http probe test'"));
    assert_eq!(r.status, Status::Ok);
    let r = differential(&format!("-H 127.0.0.1 -p {p} -s nothere"));
    assert_eq!(r.status, Status::Critical);
    assert!(
        r.output.contains("string 'nothere' not found"),
        "{}",
        r.output
    );
    differential(&format!(
        "-H 127.0.0.1 -p {p} -u /missing -s aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    ));
}

#[test]
fn slow_location_crosses_thresholds_and_times_out() {
    let nginx = Nginx::start();
    let p = nginx.http;
    let r = differential(&format!("-H 127.0.0.1 -p {p} -u /slow -w 0.5 -c 5"));
    assert_eq!(r.status, Status::Warning);
    let r = differential(&format!("-H 127.0.0.1 -p {p} -u /slow -w 0.2 -c 0.5"));
    assert_eq!(r.status, Status::Critical);
    let r = differential(&format!("-H 127.0.0.1 -p {p} -u /slow -t 1"));
    assert_eq!(&*r.output, "CRITICAL - Socket timeout after 1 seconds");
}

#[test]
fn https_and_certificate_expiry() {
    let nginx = Nginx::start();
    let r = differential(&format!("-H 127.0.0.1 -p {} -S", nginx.https));
    assert_eq!(r.status, Status::Ok, "{}", nginx.logs());
    differential(&format!(
        "-H localhost -I 127.0.0.1 -p {} --ssl --sni -s probe",
        nginx.https
    ));
    let r = differential(&format!("-H 127.0.0.1 -p {} -S -C 30", nginx.https));
    assert_eq!(r.status, Status::Ok);
    // Just made, the 5-day certificate has exactly 5 days left, and a
    // second later 4 (both sides truncate): step past that edge so the two
    // runs cannot straddle it.
    std::thread::sleep(Duration::from_millis(1100));
    let e = nginx.https_expiring;
    let r = differential(&format!("-H 127.0.0.1 -p {e} -C 30"));
    assert_eq!(r.status, Status::Warning);
    assert!(
        r.output
            .contains("Certificate 'localhost' expires in 4 day(s)"),
        "{}",
        r.output
    );
    let r = differential(&format!("-H 127.0.0.1 -p {e} -S -C 30,10"));
    assert_eq!(r.status, Status::Critical);
    differential(&format!("-I 127.0.0.1 -p {e} -C 3"));
}

#[test]
fn connection_refused_and_bad_names() {
    let port = crate::support::free_port();
    let r = differential(&format!("-H 127.0.0.1 -p {port}"));
    assert_eq!(r.status, Status::Critical);
    assert_eq!(&*r.long_output, "HTTP CRITICAL - Unable to open TCP socket");
    differential("-H nosuch.invalid -p 80");
    differential(&format!("-H 127.0.0.1 -p {port} -6"));
}

#[test]
fn garbage_answers_are_critical_without_panic() {
    let garbage = Canned::start(Duration::ZERO, b"SSH-2.0-garbage\r\n\r\n");
    let r = differential(&format!("-H 127.0.0.1 -p {}", garbage.addr.port()));
    assert_eq!(r.status, Status::Critical);
    garbage.join();
    let bad_code = Canned::start(Duration::ZERO, b"HTTP/1.1 2000 Huh\r\n\r\n");
    differential(&format!("-I 127.0.0.1 -p {}", bad_code.addr.port()));
    bad_code.join();

    // 3 MiB without a line end: read to the end, kept only up to 1 MiB.
    let huge: &'static [u8] = Box::leak(vec![b'x'; 3 << 20].into_boxed_slice());
    let flood = Canned::start(Duration::ZERO, huge);
    let line = format!("check_http -I 127.0.0.1 -p {}", flood.addr.port());
    let (probe, r) = support::run(&line, None, &Settings::default());
    assert_eq!((probe, r.status), ("http", Status::Critical));
    assert!(
        r.output
            .starts_with("HTTP CRITICAL - Invalid HTTP response received from host on port")
            && r.output.len() < (1 << 20) + 200,
        "{} bytes of output",
        r.output.len()
    );
    flood.join();
}

#[test]
fn engine_timeout_wins_when_shorter() {
    let nginx = Nginx::start();
    let line = format!("check_http -H 127.0.0.1 -p {} -u /slow", nginx.http);
    let (probe, r) = support::run(
        &line,
        Some(Duration::from_millis(300)),
        &Settings::default(),
    );
    assert_eq!(probe, "http");
    assert_eq!(r.status, Status::Unknown);
    assert_eq!(&*r.output, "(Service check timed out after 0.30 seconds)");
}
