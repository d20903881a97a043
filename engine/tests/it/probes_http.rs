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
use vedette::probes::{build, ProbeContext};

use crate::support::nginx::{Canned, Nginx, PASSWORD, USER};
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

/// Replaces the byte counts (`N bytes in`, `size=NB`) with `#`: a
/// kept-alive answer says `Connection: keep-alive` where the plugin's says
/// `close`, a few bytes more.
fn mask_size(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let digits = word.bytes().take_while(u8::is_ascii_digit).count();
        match word.strip_prefix("size=") {
            Some(rest) if rest.contains("B;") => {
                out.push_str("size=#");
                out.push_str(&rest[rest.find('B').unwrap_or(0)..]);
            }
            _ if digits > 0
                && digits == word.len()
                && text.contains(&format!("{word} bytes in")) =>
            {
                out.push('#')
            }
            _ => out.push_str(word),
        }
    }
    out
}

/// The real plugin's result for `check_http ARGS`, and the line.
fn real(args: &str) -> (String, CheckResult) {
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
    (line, real)
}

/// A result with the measured time masked, for comparing.
fn show(r: &CheckResult) -> String {
    format!(
        "{} | output {:?} | long {:?} | perf {:?}",
        r.status,
        mask(&r.output),
        mask(&r.long_output),
        mask(&r.perfdata)
    )
}

/// Runs `check_http ARGS` both ways and compares; returns the native result
/// for extra assertions.
fn differential(args: &str) -> CheckResult {
    let (line, real) = real(args);
    let (probe, native) = support::run(&line, None, &Settings::default());
    assert_eq!(probe, "http", "{line} must run natively");
    assert_eq!(show(&native), show(&real), "native vs real for {args}");
    native
}

/// Settings with `[engine] http_keepalive = true`.
fn keepalive() -> Settings {
    Settings {
        http_keepalive: true,
        ..Settings::default()
    }
}

/// Runs `line` natively `runs` times in a row on one shard's context with
/// keep-alive on, `pause` between runs; returns the results and the
/// context (its pool).
fn keepalive_runs(line: &str, runs: usize, pause: Duration) -> (Vec<CheckResult>, ProbeContext) {
    let settings = keepalive();
    let probe = build(&support::spec(line, None), &settings);
    assert_eq!(probe.name(), "http", "{line} must run natively");
    let ctx = ProbeContext::new(&settings);
    let rt = support::runtime();
    let results = (0..runs)
        .map(|i| {
            if i > 0 {
                std::thread::sleep(pause);
            }
            rt.block_on(probe.run(&ctx))
        })
        .collect();
    (results, ctx)
}

/// [`differential`] with keep-alive on: three runs on one context must each
/// match the plugin's state, output and perfdata, byte counts masked too.
fn differential_keepalive(args: &str) -> CheckResult {
    let (line, real) = real(args);
    let (results, _ctx) = keepalive_runs(&line, 3, Duration::ZERO);
    let want = mask_size(&show(&real));
    for native in &results {
        assert_eq!(
            mask_size(&show(native)),
            want,
            "keep-alive vs real for {args}"
        );
    }
    results.into_iter().next_back().expect("three runs")
}

#[test]
fn mask_hides_only_measurements() {
    assert_eq!(
        mask("HTTP OK: HTTP/1.1 200 OK - 261 bytes in 0.001 second response time |time=0.000518s;;;0.000000;10.000000 size=261B;;;0;"),
        "HTTP OK: HTTP/1.1 200 OK - 261 bytes in # second response time |time=#s;;;0.000000;10.000000 size=261B;;;0;"
    );
    assert_eq!(
        mask_size("OK - 261 bytes in # second |time=#s;;;0 size=261B;100;0;0;"),
        "OK - # bytes in # second |time=#s;;;0 size=#B;100;0;0;"
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
    let r = differential(&format!(
        "-H 127.0.0.1 -p {p} -u /redir -f follow --max-redirs=0"
    ));
    assert_eq!(r.status, Status::Warning, "{}", r.output);
    differential(&format!(
        "-H 127.0.0.1 -p {p} -u /redir -f follow --max-redirs 1"
    ));
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

#[test]
fn regex_and_inverted_regex() {
    let nginx = Nginx::start();
    let p = nginx.http;
    let r = differential(&format!("-H 127.0.0.1 -p {p} -r 'probe t.st'"));
    assert_eq!(r.status, Status::Ok);
    let r = differential(&format!("-H 127.0.0.1 -p {p} -r 'probe x+'"));
    assert_eq!(r.status, Status::Critical);
    differential(&format!("-H 127.0.0.1 -p {p} -R 'VEDETTE HTTP'"));
    differential(&format!("-H 127.0.0.1 -p {p} -r '^<html>.*</html>$'"));
    differential(&format!(
        "-H 127.0.0.1 -p {p} -r '[^a-z]body' --invert-regex"
    ));
    differential(&format!(
        "-H 127.0.0.1 -p {p} --ereg=nothere --invert-regex"
    ));
    differential(&format!("-H 127.0.0.1 -p {p} --eregi=NOTHERE -s nothere"));
    // An empty pattern is no search at all, inverted or not.
    differential(&format!("-H 127.0.0.1 -p {p} -r x -r '' --invert-regex"));
    // `-l` lets `.` and `[^...]` cross lines, for patterns after it only.
    // (The page is one line and its line end.)
    let r = differential(&format!("-H 127.0.0.1 -p {p} -l -r '</html>.'"));
    assert_eq!(r.status, Status::Ok);
    let r = differential(&format!("-H 127.0.0.1 -p {p} -r '</html>.' -l"));
    assert_eq!(r.status, Status::Critical);
    let r = differential(&format!("-H 127.0.0.1 -p {p} -l -r '</html>$'"));
    assert_eq!(r.status, Status::Critical);
    let r = differential(&format!("-H 127.0.0.1 -p {p} -l -r 'page[^x]*$'"));
    assert_eq!(r.status, Status::Ok);
    // `-R` leaves every later `-r` case-insensitive too.
    differential(&format!("-H 127.0.0.1 -p {p} -R x -r 'VEDETTE'"));
}

#[test]
fn auth_headers_agent_and_post() {
    let nginx = Nginx::start();
    let p = nginx.http;
    let r = differential(&format!("-H 127.0.0.1 -p {p} -u /private/"));
    assert_eq!(r.status, Status::Warning, "{}", r.output);
    let r = differential(&format!(
        "-H 127.0.0.1 -p {p} -u /private/ -a {USER}:{PASSWORD}"
    ));
    assert_eq!(r.status, Status::Ok, "{}", r.output);
    differential(&format!("-I 127.0.0.1 -p {p} -u /private/ -a {USER}:wrong"));
    let r = differential(&format!(
        "-H 127.0.0.1 -p {p} -u /post -k 'X-Test: hello' -A vedette-test/1 -s 'x-test=hello agent=vedette-test/1'"
    ));
    assert_eq!(r.status, Status::Ok, "{}", r.output);
    differential(&format!(
        "-H 127.0.0.1 -p {p} -u /post -k 'X-Test: a' -k 'X-Other: b' -s x-test=a"
    ));
    differential(&format!(
        "-H localhost -I 127.0.0.1 -p {p} -u /post -k 'Host: 127.0.0.1'"
    ));
    let r = differential(&format!(
        "-H 127.0.0.1 -p {p} -u /post -P 'a=1&b=2' -s 'method=POST type=application/x-www-form-urlencoded length=7'"
    ));
    assert_eq!(r.status, Status::Ok, "{}", r.output);
    differential(&format!(
        "-H 127.0.0.1 -p {p} -u /post -P '{{}}' -T application/json -s 'type=application/json length=2'"
    ));
    differential(&format!(
        "-H 127.0.0.1 -p {p} -u /post -j PUT -P x -s method=PUT"
    ));
    differential(&format!(
        "-I 127.0.0.1 -p {p} -u /post -k 'Host: x' -s x-test=,"
    ));
    differential(&format!("-H 127.0.0.1 -p {p} -u /redir -f follow -P x"));
}

#[test]
fn page_size_and_header_string() {
    let nginx = Nginx::start();
    let p = nginx.http;
    let r = differential(&format!("-H 127.0.0.1 -p {p} -m 100"));
    assert_eq!(r.status, Status::Ok);
    differential(&format!("-H 127.0.0.1 -p {p} -m 100:100000"));
    let r = differential(&format!("-H 127.0.0.1 -p {p} -m 10:20"));
    assert_eq!(r.status, Status::Warning);
    differential(&format!("-H 127.0.0.1 -p {p} -m 99999"));
    let r = differential(&format!("-H 127.0.0.1 -p {p} -d 'X-Vedette: probe'"));
    assert_eq!(r.status, Status::Ok);
    let r = differential(&format!("-H 127.0.0.1 -p {p} -d X-Nope"));
    assert_eq!(r.status, Status::Critical);
    differential(&format!(
        "-H 127.0.0.1 -p {p} -d aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa -s nothere -r nothere -m 99999"
    ));
}

#[test]
fn keepalive_reuses_one_connection() {
    let nginx = Nginx::start();
    let p = nginx.http;
    let r = differential_keepalive(&format!("-H 127.0.0.1 -p {p}"));
    assert_eq!(r.status, Status::Ok, "{}", nginx.logs());
    differential_keepalive(&format!("-I 127.0.0.1 -p {p} -u /chunked -s 'probe test'"));
    differential_keepalive(&format!("-I 127.0.0.1 -p {p} -u /missing"));
    differential_keepalive(&format!("-H 127.0.0.1 -p {p} -j HEAD"));
    differential_keepalive(&format!("-H 127.0.0.1 -p {p} -N -d X-Vedette"));
    differential_keepalive(&format!("-H 127.0.0.1 -p {p} -u /redir -f follow"));
    differential_keepalive(&format!("-H 127.0.0.1 -p {p} -u /post -P x=1 -s length=3"));
    differential_keepalive(&format!("-H 127.0.0.1 -p {} -S -s probe", nginx.https));

    // Every check's request on one connection, one after the other.
    let before = nginx.access_log().lines().count();
    let line = format!("check_http -H 127.0.0.1 -p {p} -u /index.html");
    let (results, ctx) = keepalive_runs(&line, 5, Duration::ZERO);
    assert!(
        results.iter().all(|r| r.status == Status::Ok),
        "{results:?}"
    );
    let pool = ctx.http_pool.as_ref().expect("keep-alive on: a pool");
    assert_eq!(pool.idle(), 1);
    let log = crate::support::wait_for(5, "five requests logged", || {
        let log = nginx.access_log();
        (log.lines().count() >= before + 5).then_some(log)
    });
    let ours: Vec<(&str, &str)> = log
        .lines()
        .skip(before)
        .filter_map(|l| {
            let mut w = l.split(' ');
            Some((w.next()?, w.next()?))
        })
        .collect();
    let conn = ours.first().map(|c| c.0).expect("requests logged");
    let want: Vec<(&str, String)> = (1..=5).map(|n| (conn, n.to_string())).collect();
    let got: Vec<(&str, String)> = ours.iter().map(|&(c, n)| (c, n.to_string())).collect();
    assert_eq!(got, want, "access log:\n{log}");
}

#[test]
fn keepalive_recovers_when_the_server_closes_idle_connections() {
    let nginx = Nginx::start();
    let line = format!(
        "check_http -H 127.0.0.1 -p {} -s 'probe test'",
        nginx.keepalive_1s
    );
    // nginx closes each idle connection after 1 s; the next check finds
    // it closed (or writes into it) and must still succeed.
    let (results, ctx) = keepalive_runs(&line, 3, Duration::from_millis(1500));
    for r in &results {
        assert_eq!(r.status, Status::Ok, "{}\n{}", r.output, nginx.logs());
    }
    assert_eq!(ctx.http_pool.as_ref().map(|p| p.idle()), Some(1));
    // nginx logs a request after answering it: wait for the last line.
    let log = crate::support::wait_for(5, "three requests logged", || {
        let log = nginx.access_log();
        (log.lines().count() >= 3).then_some(log)
    });
    let conns: std::collections::BTreeSet<&str> =
        log.lines().filter_map(|l| l.split(' ').next()).collect();
    assert_eq!(conns.len(), 3, "one connection per check:\n{log}");

    // A server that answers once and closes: never reused, never failing.
    let once = Canned::start(
        Duration::ZERO,
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
    );
    let line = format!("check_http -I 127.0.0.1 -p {}", once.addr.port());
    let (results, ctx) = keepalive_runs(&line, 2, Duration::ZERO);
    assert!(
        results.iter().all(|r| r.status == Status::Ok),
        "{results:?}"
    );
    assert_eq!(ctx.http_pool.as_ref().map(|p| p.idle()), Some(0));
    once.join();
}

#[test]
fn keepalive_retries_once_when_a_pooled_connection_dies_unanswered() {
    // Answers one request with a reusable answer, then holds the
    // connection without reading, and closes it: the second check's request
    // on it gets no byte back, and must be sent again on a new connection.
    let hold = Duration::from_millis(500);
    let server = Canned::stalling(
        Duration::ZERO,
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        hold,
    );
    let line = format!("check_http -I 127.0.0.1 -p {} -t 5", server.addr.port());
    let started = std::time::Instant::now();
    let (results, ctx) = keepalive_runs(&line, 2, Duration::ZERO);
    for r in &results {
        assert_eq!(r.status, Status::Ok, "{}", r.output);
    }
    assert!(
        started.elapsed() >= hold,
        "the second check must have waited on the pooled connection"
    );
    assert_eq!(ctx.http_pool.as_ref().map(|p| p.idle()), Some(1));
    server.join();
}

/// Leaks `text` as the `'static` answer a [`Canned`] server sends.
fn answer(text: String) -> &'static [u8] {
    Box::leak(text.into_bytes().into_boxed_slice())
}

#[test]
fn broken_answers_get_the_plugins_verdict_in_time() {
    let big = "a".repeat(2 << 20);
    // The native probe searches only the first 1 MiB it kept (the plugin
    // keeps all), so the 2 MiB header case is compared without `-s`.
    let cases: Vec<(&str, &'static [u8])> = vec![
        (
            "header past 1 MiB",
            answer(format!("HTTP/1.1 200 OK\r\nX-Big: {big}\r\n\r\nprobe")),
        ),
        (
            "body past 1 MiB",
            answer(format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{big}",
                big.len()
            )),
        ),
        (
            "chunk longer than sent",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nff\r\nprobe\r\n0\r\n\r\n",
        ),
        (
            "chunk longer than sent, bad status line",
            b"HTTP/1.1 999 Nope\r\nTransfer-Encoding: chunked\r\n\r\nff\r\nprobe\r\n0\r\n\r\n",
        ),
        (
            "no last chunk",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nprobe\r\n",
        ),
        (
            "chunk size not hex",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nprobe\r\n0\r\n\r\n",
        ),
        (
            "length longer than sent",
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nprobe",
        ),
        ("status line only", b"HTTP/1.1 200"),
        ("empty", b""),
    ];
    for (what, bytes) in cases {
        let server = Canned::start(Duration::ZERO, bytes);
        let port = server.addr.port();
        let search = if what.contains("header") {
            ""
        } else {
            "-s probe"
        };
        let args = format!("-I 127.0.0.1 -p {port} {search} -t 3");
        let (line, real) = real(&args);
        let (_, native) = support::run(&line, None, &Settings::default());
        assert_eq!(show(&native), show(&real), "{what}: native vs real");
        // Kept alive, the same answers end the same way, in time.
        let started = std::time::Instant::now();
        let (kept, _ctx) = keepalive_runs(&line, 1, Duration::ZERO);
        assert_eq!(
            mask_size(&show(&kept[0])),
            mask_size(&show(&real)),
            "{what}: keep-alive vs real"
        );
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{what}: too slow"
        );
        server.join();
    }
}

#[test]
fn a_server_stalling_mid_body_times_out() {
    let server = Canned::stalling(
        Duration::ZERO,
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npart of it",
        Duration::from_secs(3),
    );
    let args = format!("-I 127.0.0.1 -p {} -t 1", server.addr.port());
    let r = differential(&args);
    assert_eq!(&*r.output, "CRITICAL - Socket timeout after 1 seconds");
    let (line, _) = real(&args);
    let (kept, _ctx) = keepalive_runs(&line, 1, Duration::ZERO);
    assert_eq!(
        &*kept[0].output,
        "CRITICAL - Socket timeout after 1 seconds"
    );
    server.join();
}

#[test]
fn the_daemon_keeps_connections_alive_when_configured() {
    let nginx = Nginx::start();
    let dir = crate::support::TempDir::new("http-keepalive");
    let cfg = dir.path().join("vedette.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"
[engine]
shards = 1
http_keepalive = true

[commands.web]
line = "{check_http} -H $HOSTADDRESS$ -p {port} -u /index.html -s 'probe test'"

[hosts.web]
address = "127.0.0.1"

[[services]]
host = "web"
name = "page"
check = "web"
check_interval = "1s"
"#,
            check_http = crate::support::plugin("check_http").display(),
            port = nginx.http,
        ),
    )
    .expect("write config");
    let d = crate::support::Daemon::start_on(&cfg, dir.path(), crate::support::free_port());
    let log = crate::support::wait_for(15, "three checks logged", || {
        let log = nginx.access_log();
        (log.lines().count() >= 3).then_some(log)
    });
    let services = d.get("/v1/services?host=web");
    assert_eq!(services[0]["probe"], "http", "{services}");
    assert_eq!(services[0]["state"], "OK", "{services}");
    // Checks a second apart share one connection: its request count grows.
    let conns: Vec<(&str, &str)> = log
        .lines()
        .filter_map(|l| {
            let mut w = l.split(' ');
            Some((w.next()?, w.next()?))
        })
        .collect();
    assert!(
        conns.iter().all(|&(c, _)| c == conns[0].0) && conns[2].1 == "3",
        "access log:\n{log}\ndaemon log:\n{}",
        d.log_text()
    );
}
