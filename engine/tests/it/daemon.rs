//! The daemon end to end: `vedette run` on a config with TCP checks to an
//! open and a closed loopback port, a forked plugin, and a passive service,
//! observed through the API; reload and shutdown.

use serde_json::Value;

use crate::support::{free_port, plugin, wait_for, Daemon, TempDir};

fn service(d: &Daemon, name: &str) -> Value {
    let all = d.get("/v1/services?host=local");
    all.as_array()
        .and_then(|a| a.iter().find(|s| s["name"] == name).cloned())
        .unwrap_or_else(|| panic!("service {name} missing in {all}"))
}

fn config(api_port: u16, closed_port: u16, script: &std::path::Path, extra: &str) -> String {
    format!(
        r#"
[engine]
shards = 2

[commands.tcp]
line = "{check_tcp} -H $HOSTADDRESS$ -p $ARG1$"

[commands.script]
line = "{script} $ARG1$"

[commands.dummy]
line = "check_dummy $ARG1$ $ARG2$"

[hosts.local]
address = "127.0.0.1"

[[services]]
host = "local"
name = "api-port"
check = "tcp!{api_port}"
check_interval = "2s"

[[services]]
host = "local"
name = "closed"
check = "tcp!{closed_port}"
check_interval = "3s"
retry_interval = "1s"
max_check_attempts = 3

[[services]]
host = "local"
name = "plugin"
check = "script!80"
check_interval = "2s"

[[services]]
host = "local"
name = "passive"
{extra}
"#,
        check_tcp = plugin("check_tcp").display(),
        script = script.display(),
    )
}

#[test]
fn daemon_runs_checks_applies_passive_results_and_reloads() {
    let dir = TempDir::new("daemon");
    let script = dir.path().join("check_used.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\necho \"DISK WARNING - $1% used|used=$1%;70;90\"\necho second line\nexit 1\n",
    )
    .expect("script");
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&script)
        .status()
        .expect("chmod");
    let closed = free_port();
    let cfg = dir.path().join("vedette.toml");
    // The "open port" is the daemon's own API port.
    let api_port = free_port();
    std::fs::write(&cfg, config(api_port, closed, &script, "")).expect("config");
    let d = Daemon::start_on(&cfg, dir.path(), api_port);

    // Open port: OK through the native tcp probe.
    let api = wait_for(10, "api-port checked", || {
        let s = service(&d, "api-port");
        (s["checked"] == true).then_some(s)
    });
    assert_eq!(api["state"], "OK", "{api}");
    assert_eq!(api["probe"], "tcp", "check_tcp runs natively: {api}");
    assert!(
        api["output"]
            .as_str()
            .is_some_and(|o| o.starts_with("TCP OK - ")),
        "{api}"
    );

    // Closed port: SOFT 1, SOFT 2, HARD 3, retries 1 s apart.
    let mut seen: Vec<(u64, String, f64)> = Vec::new();
    wait_for(15, "closed port HARD", || {
        let s = service(&d, "closed");
        if s["checked"] == true {
            let attempt = s["attempt"].as_u64().unwrap_or(0);
            let t = s["last_check"].as_f64().unwrap_or(0.0);
            if seen.last().map(|l| l.2) != Some(t) {
                seen.push((
                    attempt,
                    format!(
                        "{} {}",
                        s["state"].as_str().unwrap_or(""),
                        s["state_type"].as_str().unwrap_or("")
                    ),
                    t,
                ));
            }
        }
        (s["state_type"] == "HARD" && s["state"] == "CRITICAL").then_some(())
    });
    let kinds: Vec<_> = seen.iter().map(|(a, k, _)| (*a, k.as_str())).collect();
    assert_eq!(
        kinds,
        vec![
            (1, "CRITICAL SOFT"),
            (2, "CRITICAL SOFT"),
            (3, "CRITICAL HARD")
        ],
        "{seen:?}"
    );
    // 1 s give or take each attempt's dispatch lateness on a loaded
    // machine; the check interval (3 s) is well outside.
    for w in seen.windows(2) {
        let gap = w[1].2 - w[0].2;
        assert!(
            (0.5..2.0).contains(&gap),
            "retry gap {gap:.3}s, want 1s: {seen:?}"
        );
    }

    // Forked plugin: WARNING with perfdata and long output.
    let p = wait_for(10, "plugin checked", || {
        let s = service(&d, "plugin");
        (s["checked"] == true).then_some(s)
    });
    assert_eq!(
        (p["state"].as_str(), p["probe"].as_str()),
        (Some("WARNING"), Some("exec")),
        "{p}"
    );
    assert_eq!(p["output"], "DISK WARNING - 80% used");
    assert_eq!(p["perfdata"], "used=80%;70;90");
    assert_eq!(p["long_output"], "second line");

    // Passive: applied before the 2xx.
    let (code, body) = d.post(
        "/v1/results",
        r#"{"host":"local","service":"passive","exit_status":2,"output":"backup failed|age=9d"}"#,
    );
    assert_eq!(code, 200, "{body}");
    let s = service(&d, "passive");
    assert_eq!(
        (s["state"].as_str(), s["probe"].as_str()),
        (Some("CRITICAL"), Some("passive")),
        "{s}"
    );
    assert_eq!(s["perfdata"], "age=9d");

    // Bad passive results are refused with a reason.
    for (bad, want) in [
        (
            r#"{"host":"local","service":"passive","exit_status":9}"#,
            "exit_status 9",
        ),
        (r#"{"host":"nope","exit_status":0}"#, "no such check: nope"),
        (
            r#"{"host":"local","exit_status":0,"colour":"red"}"#,
            "unknown field `colour`",
        ),
        ("not json", "invalid JSON"),
    ] {
        let (code, body) = d.post("/v1/results", bad);
        assert!((400..500).contains(&code), "{bad} -> {code}");
        assert!(
            body["error"].as_str().is_some_and(|e| e.contains(want)),
            "{bad} -> {body}"
        );
    }

    // Reload with SIGHUP: a new service appears, the others keep their state.
    std::fs::write(
        &cfg,
        config(api_port, closed, &script, "\n[[services]]\nhost = \"local\"\nname = \"new\"\ncheck = \"dummy!0!fresh\"\ncheck_interval = \"1s\"\n"),
    )
    .expect("config");
    d.signal(libc::SIGHUP);
    wait_for(10, "new service", || {
        let all = d.get("/v1/services?host=local");
        all.as_array()
            .is_some_and(|a| a.iter().any(|s| s["name"] == "new"))
            .then_some(())
    });
    let closed_after = service(&d, "closed");
    assert_eq!(
        (
            closed_after["state_type"].as_str(),
            closed_after["attempt"].as_u64()
        ),
        (Some("HARD"), Some(3)),
        "{closed_after}"
    );
    assert_eq!(
        service(&d, "passive")["state"],
        "CRITICAL",
        "passive state kept across reload"
    );

    // A broken config is rejected; the running one stays.
    std::fs::write(&cfg, "[hosts.local]\nbogus = 1\n").expect("config");
    let (code, body) = d.post("/v1/actions/reload", "");
    assert_eq!(code, 422, "{body}");
    let details = body["details"].to_string();
    assert!(
        details.contains("vedette.toml:2") && details.contains("unknown field `bogus`"),
        "{body}"
    );
    let n = d.get("/v1/services").as_array().map_or(0, Vec::len);
    assert_eq!(n, 5, "old config still running");

    let status = d.stop();
    assert!(status.success(), "SIGTERM exit: {status}");
    let events = std::fs::read_to_string(dir.path().join("events.jsonl")).expect("event log");
    assert!(
        events
            .lines()
            .any(|l| l.contains("\"service\":\"closed\"") && l.contains("\"state_type\":\"HARD\"")),
        "{events}"
    );
}

#[test]
fn run_fails_clearly_when_the_api_port_is_taken() {
    let dir = TempDir::new("port");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr");
    let cfg = dir.path().join("v.toml");
    std::fs::write(&cfg, "[hosts.a]\n").expect("config");
    let out = crate::support::vedette(&[
        "run",
        "--config",
        cfg.to_str().expect("utf-8"),
        "--api",
        &addr.to_string(),
        "--state-dir",
        dir.path().to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("cannot listen on {addr}")) && err.contains("in use"),
        "{err}"
    );

    let out = crate::support::vedette(&[
        "run",
        "--config",
        cfg.to_str().expect("utf-8"),
        "--api",
        "0.0.0.0:7999",
        "--state-dir",
        dir.path().to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("non-loopback"));
}

/// States survive a restart: a passive result's CRITICAL, SOFT attempt 1,
/// output and perfdata come back from `STATE_DIR/retention.jsonl`, and a
/// damaged line in that file is skipped with a warning, not fatal.
#[test]
fn states_are_retained_across_a_restart() {
    let dir = TempDir::new("retain");
    let cfg = dir.path().join("vedette.toml");
    std::fs::write(
        &cfg,
        "[engine]\ndefault_host_check = false\n\
         [hosts.local]\naddress = \"127.0.0.1\"\n\
         [[services]]\nhost = \"local\"\nname = \"passive\"\n",
    )
    .expect("config");
    let d = Daemon::start_on(&cfg, dir.path(), free_port());
    let body =
        r#"{"host":"local","service":"passive","exit_status":2,"output":"disk gone|free=0B"}"#;
    let (code, reply) = d.post("/v1/results", body);
    assert!((200..300).contains(&code), "{code} {reply}");
    let before = service(&d, "passive");
    assert_eq!(before["state"], "CRITICAL", "{before}");
    assert_eq!(d.stop().code(), Some(0));

    let file = dir.path().join("retention.jsonl");
    let mut text = std::fs::read_to_string(&file).expect("retention file written at stop");
    assert_eq!(text.lines().count(), 1, "{text}");
    text.push_str("{not json\n");
    std::fs::write(&file, text).expect("damage the file");

    let d = Daemon::start_on(&cfg, dir.path(), free_port());
    let after = service(&d, "passive");
    for key in [
        "state",
        "state_type",
        "attempt",
        "checked",
        "output",
        "perfdata",
        "last_check",
        "probe",
    ] {
        assert_eq!(after[key], before[key], "{key}: {after} vs {before}");
    }
    let log = d.log_text();
    assert!(log.contains("restored=1"), "{log}");
    assert!(log.contains("Retained state skipped at line 2"), "{log}");
    assert_eq!(d.stop().code(), Some(0));
}

/// `GET /v1/events` streams state changes as server-sent events, filtered
/// by service; an open stream does not hold up a SIGTERM shutdown.
#[test]
fn events_stream_state_changes_and_end_at_shutdown() {
    use std::io::{BufRead, BufReader, Write};
    let dir = TempDir::new("events");
    let cfg = dir.path().join("vedette.toml");
    std::fs::write(
        &cfg,
        "[engine]\ndefault_host_check = false\n\
         [hosts.local]\naddress = \"127.0.0.1\"\n\
         [[services]]\nhost = \"local\"\nname = \"passive\"\n\
         [[services]]\nhost = \"local\"\nname = \"other\"\n",
    )
    .expect("config");
    let d = Daemon::start_on(&cfg, dir.path(), free_port());
    let mut stream = std::net::TcpStream::connect(d.api).expect("connect");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "GET /v1/events?service=passive HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n"
    )
    .expect("request");
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    while reader.read_line(&mut head).expect("headers") > 2 && !head.ends_with("\r\n\r\n") {}
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("text/event-stream"), "{head}");

    let post = |service: &str, code: u8| {
        let body = format!(
            r#"{{"host":"local","service":"{service}","exit_status":{code},"output":"{service} is {code}"}}"#
        );
        let (status, reply) = d.post("/v1/results", &body);
        assert!((200..300).contains(&status), "{status} {reply}");
    };
    post("other", 2);
    post("passive", 2);
    let mut seen = Vec::new();
    while !seen.iter().any(|l: &String| l.starts_with("data:")) {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).expect("event") > 0,
            "stream ended: {seen:?}"
        );
        let line = line.trim();
        // Skip blank separators, keep-alive comments and the chunked
        // transfer encoding's size lines.
        let chunk_size = !line.is_empty() && line.bytes().all(|b| b.is_ascii_hexdigit());
        if !line.is_empty() && !line.starts_with(':') && !chunk_size {
            seen.push(line.to_string());
        }
    }
    assert_eq!(seen[0], "event: state", "{seen:?}");
    let data: serde_json::Value =
        serde_json::from_str(seen[1].trim_start_matches("data:").trim()).expect("JSON data");
    assert_eq!(
        data["service"], "passive",
        "the filter drops 'other': {data}"
    );
    assert_eq!(
        (data["from"].as_str(), data["to"].as_str()),
        (Some("OK"), Some("CRITICAL"))
    );
    assert_eq!(data["output"], "passive is 2");

    let (status, reply) = {
        let a =
            vedette::api::client::request(d.api, "GET", "/v1/events?hots=x", None).expect("GET");
        (a.status, a.body)
    };
    assert_eq!(status, 400, "{reply}");
    assert!(reply.contains("unknown parameter 'hots'"), "{reply}");

    // The stream is still open; the daemon must stop anyway.
    assert_eq!(d.stop().code(), Some(0));
}

/// Nagios reachability: a failed host whose parent is down is
/// UNREACHABLE; a reload that changes the parents (and so moves the host
/// to another shard) keeps its state.
#[test]
fn hosts_behind_a_down_parent_are_unreachable_and_keep_state_across_moves() {
    use vedette::scheduler::plan::shard_of;
    // A child whose own shard differs from its parent's, so the reload
    // that drops the parent edge really moves it.
    let child = (0..100)
        .map(|n| format!("web{n}"))
        .find(|n| shard_of(n, 2) != shard_of("router", 2))
        .expect("a name hashing to the other shard");
    let dir = TempDir::new("parents");
    let cfg = dir.path().join("vedette.toml");
    let write = |parents: &str| {
        let text = format!(
            "[engine]\nshards = 2\ndefault_host_check = false\n\
             [hosts.router]\nmax_check_attempts = 1\n\
             [hosts.{child}]\nmax_check_attempts = 1\n{parents}\n"
        );
        std::fs::write(&cfg, text).expect("config");
    };
    write("parents = [\"router\"]");
    let d = Daemon::start_on(&cfg, dir.path(), free_port());
    let down = |host: &str| {
        let body = format!(r#"{{"host":"{host}","exit_status":2,"output":"{host} gone"}}"#);
        let (code, reply) = d.post("/v1/results", &body);
        assert!((200..300).contains(&code), "{code} {reply}");
    };
    down("router");
    down(&child);
    let web = d.get(&format!("/v1/hosts/{child}"));
    assert_eq!(web["state"], "UNREACHABLE", "{web}");
    assert_eq!(d.get("/v1/status")["hosts"]["UNREACHABLE"], 1);

    write("");
    let (code, reply) = d.post("/v1/actions/reload", "");
    assert_eq!(code, 200, "{reply}");
    let web = d.get(&format!("/v1/hosts/{child}"));
    assert_eq!(
        (web["state"].as_str(), web["output"].as_str()),
        (Some("UNREACHABLE"), Some(&*format!("{child} gone"))),
        "state kept across the move: {web}"
    );
    // Without the parent edge a failure is DOWN.
    down(&child);
    assert_eq!(d.get(&format!("/v1/hosts/{child}"))["state"], "DOWN");
    assert_eq!(d.stop().code(), Some(0));
}
