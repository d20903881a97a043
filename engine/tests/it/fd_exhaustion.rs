//! The engine out of file descriptors: a peer holds every connection the
//! checks open, the engine runs under an open-files limit of 256, and it
//! has far more checks in flight than that. Results must keep coming (the
//! checks without a descriptor UNKNOWN, "Too many open files"), the API
//! and `/metrics` must keep answering, the condition is logged a few
//! times (not once per check), and once the peer lets go every check is
//! OK again without a restart.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::support::held::Holding;
use crate::support::{free_port, plugin, wait_for, Daemon, TempDir};

/// The engine's open-files limit: 192 descriptors for checks after the
/// reserve, against ~900 that the checks below would hold at once.
const NOFILE: u64 = 256;

/// What a check that found no descriptor says.
const EXHAUSTED: &str = "Too many open files";

/// Warning logged while checks are failed for want of descriptors.
const WARNING: &str = "Out of descriptors";

fn config(port: u16) -> String {
    let check_tcp = plugin("check_tcp");
    let check_http = plugin("check_http");
    let check_tcp = check_tcp.display();
    let check_http = check_http.display();
    let mut t = format!(
        r#"[engine]
shards = 2
check_timeout = "10s"
default_host_check = false
retain_state = false

[commands.tcp]
line = "{check_tcp} -H 127.0.0.1 -p {port} -e HTTP/1.1 -t 5"

[commands.http]
line = "{check_http} -I 127.0.0.1 -p {port} -t 5"

# -E is not understood natively: the plugin is forked.
[commands.forked]
line = "{check_tcp} -H 127.0.0.1 -p {port} -E -e HTTP/1.1 -t 5"

[hostgroups.all]
"#
    );
    for h in 0..20 {
        t.push_str(&format!(
            "[hosts.h{h}]\naddress = \"127.0.0.1\"\ngroups = [\"all\"]\n"
        ));
    }
    // Per host: 15 tcp, 2 http, 1 forked; every 2 s, each holding its
    // descriptor 5 s while the peer is silent.
    let services = (0..15)
        .map(|i| (format!("tcp{i}"), "tcp"))
        .chain((0..2).map(|i| (format!("http{i}"), "http")))
        .chain([("forked".to_string(), "forked")]);
    for (name, check) in services {
        t.push_str(&format!(
            "[[services]]\nhostgroups = [\"all\"]\nname = \"{name}\"\ncheck = \"{check}\"\n\
             check_interval = \"2s\"\nretry_interval = \"2s\"\nmax_check_attempts = 2\n"
        ));
    }
    t
}

/// GET with a short deadline, so an API that stopped accepting fails the
/// test at once instead of after the client's own 30 s.
fn get_within(addr: SocketAddr, path: &str, within: Duration) -> Result<String, String> {
    let mut s = TcpStream::connect_timeout(&addr, within).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(within))
        .map_err(|e| format!("set timeout: {e}"))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| format!("send: {e}"))?;
    let mut answer = String::new();
    s.read_to_string(&mut answer)
        .map_err(|e| format!("no answer within {within:?}: {e}"))?;
    if !answer.starts_with("HTTP/1.1 200") {
        return Err(format!("not a 200: {answer}"));
    }
    Ok(answer)
}

fn now_unix() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
}

fn services(d: &Daemon) -> Vec<serde_json::Value> {
    d.get("/v1/services")
        .as_array()
        .expect("a JSON array of services")
        .clone()
}

fn field<'a>(s: &'a serde_json::Value, name: &str) -> &'a str {
    s[name].as_str().unwrap_or_default()
}

#[test]
fn out_of_descriptors_checks_fail_fast_the_api_answers_and_all_recovers() {
    let peer = Holding::start();
    let dir = TempDir::new("fd-exhaustion");
    let cfg = dir.path().join("vedette.toml");
    std::fs::write(&cfg, config(peer.addr.port())).expect("config");
    let d = Daemon::start_limited(&cfg, dir.path(), free_port(), NOFILE);
    let api = d.api;
    let within = Duration::from_secs(3);

    // Exhaustion comes within a second or two of the first checks.
    wait_for(20, "a check failing for want of descriptors", || {
        let status = get_within(api, "/v1/services?state=UNKNOWN", within)
            .unwrap_or_else(|e| panic!("API while filling up: {e}\n{}", d.log_text()));
        status.contains(EXHAUSTED).then_some(())
    });

    // Exhausted for 8 s: the API answers every time, and results keep
    // coming for (nearly) every check.
    let since = now_unix();
    let phase = Instant::now();
    while phase.elapsed() < Duration::from_secs(8) {
        for path in ["/v1/status", "/metrics"] {
            let asked = Instant::now();
            if let Err(e) = get_within(api, path, within) {
                panic!(
                    "GET {path} while out of descriptors: {e} (after {:?})\n{}",
                    asked.elapsed(),
                    d.log_text()
                );
            }
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let all = services(&d);
    assert_eq!(all.len(), 20 * 18, "every configured service listed");
    let fresh = all
        .iter()
        .filter(|s| s["last_check"].as_f64().is_some_and(|t| t >= since))
        .count();
    assert!(
        fresh * 10 >= all.len() * 9,
        "only {fresh} of {} services got a result in 8 s while out of descriptors",
        all.len()
    );
    let refused: Vec<_> = all
        .iter()
        .filter(|s| field(s, "output").contains(EXHAUSTED))
        .collect();
    assert!(
        refused.len() * 4 >= all.len(),
        "only {} of {} services failed for want of descriptors: the pressure did not build",
        refused.len(),
        all.len()
    );
    for s in &refused {
        assert_eq!(field(s, "state"), "UNKNOWN", "{s}");
        assert!(
            field(s, "output").starts_with("UNKNOWN - Too many open files: the 192 descriptors"),
            "{s}"
        );
    }
    for probe in ["tcp", "http", "exec"] {
        assert!(
            refused.iter().any(|s| field(s, "probe") == probe),
            "no {probe} check failed for want of descriptors"
        );
    }
    let warnings = d.log_text().lines().filter(|l| l.contains(WARNING)).count();
    assert!(
        (1..=3).contains(&warnings),
        "{warnings} warnings in ~12 s: want one every 10 s\n{}",
        d.log_text()
    );

    // The peer lets go: every check OK again, the recovery logged.
    peer.release();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let all = services(&d);
        let not_ok: Vec<_> = all.iter().filter(|s| field(s, "state") != "OK").collect();
        if not_ok.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} services not OK 30 s after the pressure went, e.g. {:?}\n{}",
            not_ok.len(),
            not_ok
                .iter()
                .take(5)
                .map(|s| format!(
                    "{} {} {}: {}",
                    field(s, "host"),
                    field(s, "name"),
                    field(s, "state"),
                    field(s, "output")
                ))
                .collect::<Vec<_>>(),
            get_within(api, "/metrics", within).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    wait_for(30, "the recovery in the log", || {
        d.log_text()
            .contains("Descriptors for checks available again")
            .then_some(())
    });
    let status = d.stop();
    assert!(status.success(), "vedette run exited with {status}");
    peer.join();
}
