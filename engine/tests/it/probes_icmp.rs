//! Differential tests: the native `icmp` probe against the real
//! `check_ping` and `check_icmp`, same command line, same target — the
//! loopback, and a host in a test network namespace ([`Netns`]) made to
//! lose packets with nftables or answer late (`SlowEcho`).
//!
//! Both must agree on the exit status, the output (numbers masked) and
//! the perfdata's labels, units and thresholds; the plugin and the native
//! probe run at the same time, so a case costs one round, not two.

use std::process::Command;
use std::time::Duration;

use vedette::check::{CheckResult, Status};
use vedette::model::Settings;
use vedette::plugin_output;
use vedette::probes::exec::argv;
use vedette::probes::{build, ProbeContext};

use crate::support::netns::{self, Netns};
use crate::support::probes as support;

/// Replaces every number (digits and dots) with `#`.
fn mask(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_number = false;
    for c in text.chars() {
        if c.is_ascii_digit() || (in_number && c == '.') {
            if !in_number {
                out.push('#');
                in_number = true;
            }
        } else {
            in_number = false;
            out.push(c);
        }
    }
    out
}

/// Perfdata with each measured value reduced to its unit: labels, units,
/// thresholds, min and max stay as printed.
fn perf_shape(perfdata: &str) -> Vec<String> {
    perfdata
        .split_whitespace()
        .map(|item| {
            let (label, rest) = item.split_once('=').unwrap_or((item, ""));
            let (value, fields) = rest.split_once(';').unwrap_or((rest, ""));
            let uom = value.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.');
            format!("{label}=#{uom};{fields}")
        })
        .collect()
}

/// Runs `line` with the real plugin and natively, at the same time;
/// asserts it compiled natively and both agree. Returns the native result.
fn compare(line: &str) -> CheckResult {
    let words = argv::split(line).expect("plain command line");
    let plugin = crate::support::plugin(&words[0]);
    let args = words[1..].to_vec();
    let real = std::thread::spawn(move || {
        Command::new(plugin)
            .args(args)
            .output()
            .expect("run the plugin")
    });
    let native_line = format!("/usr/lib/nagios/plugins/{line}");
    let (name, native) = support::run(&native_line, None, &Settings::default());
    assert_eq!(name, "icmp", "{line} must compile natively");
    let out = real.join().expect("plugin thread");
    let status = Status::from_exit_code(out.status.code().unwrap_or(3));
    let real = plugin_output::parse(status, &String::from_utf8_lossy(&out.stdout));
    let show = format!("{line}\n  real:   {real:?}\n  native: {native:?}");
    assert_eq!(native.status, real.status, "status of {show}");
    assert_eq!(mask(&native.output), mask(&real.output), "output of {show}");
    assert_eq!(
        perf_shape(&native.perfdata),
        perf_shape(&real.perfdata),
        "perfdata of {show}"
    );
    native
}

/// Both plugins' lines for `host` with `ping` and `icmp` arguments.
fn both(host: &str, ping: &str, icmp: &str, want: Status) {
    let lines = [
        format!("check_ping -H {host} {ping}"),
        format!("check_icmp -H {host} {icmp}"),
    ];
    let runs: Vec<_> = lines
        .into_iter()
        .map(|line| std::thread::spawn(move || (compare(&line).status, line)))
        .collect();
    for run in runs {
        let (status, line) = run.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        assert_eq!(status, want, "{line}");
    }
}

const THRESHOLDS: &str = "-w 200.0,20% -c 500.0,60%";

#[test]
fn loopback_up_is_ok() {
    both(
        "127.0.0.1",
        &format!("{THRESHOLDS} -p 3"),
        THRESHOLDS,
        Status::Ok,
    );
}

#[test]
fn namespace_host_up_is_ok() {
    let ns = Netns::new();
    both(
        &ns.peer.to_string(),
        &format!("{THRESHOLDS} -p 3"),
        THRESHOLDS,
        Status::Ok,
    );
}

#[test]
fn all_echoes_dropped_is_critical() {
    let ns = Netns::new();
    ns.filter_input("icmp type echo-request drop");
    both(
        &ns.peer.to_string(),
        &format!("{THRESHOLDS} -p 3 -t 3"),
        &format!("{THRESHOLDS} -n 3"),
        Status::Critical,
    );
}

#[test]
fn unreachable_host_is_critical() {
    let ns = Netns::new();
    ns.filter_input("drop");
    both(
        &ns.peer.to_string(),
        &format!("{THRESHOLDS} -p 2 -t 2"),
        &format!("{THRESHOLDS} -n 2 -t 2"),
        Status::Critical,
    );
}

/// 60 % random loss over 20+ packets: some get through and some do not
/// (each of the other outcomes has odds below 1 in 10,000), so with
/// warning at 1 % and critical at 100 % both plugins say WARNING.
#[test]
fn random_loss_is_warning() {
    let ns = Netns::new();
    ns.filter_input("icmp type echo-request numgen random mod 100 < 60 drop");
    both(
        &ns.peer.to_string(),
        "-w 50.0,1% -c 100.0,100% -p 20 -t 22",
        "-w 50,1% -c 100,100% -n 20",
        Status::Warning,
    );
}

#[test]
fn ipv6_loopback_up_is_ok() {
    both("::1", &format!("{THRESHOLDS} -p 2"), THRESHOLDS, Status::Ok);
}

#[test]
fn ipv6_namespace_host_up_then_dropped() {
    let ns = Netns::new();
    let host = ns.peer6.to_string();
    both(&host, &format!("{THRESHOLDS} -p 2"), THRESHOLDS, Status::Ok);
    ns.filter_input("icmpv6 type echo-request drop");
    both(
        &host,
        &format!("{THRESHOLDS} -p 2 -t 2"),
        &format!("{THRESHOLDS} -n 2 -t 2"),
        Status::Critical,
    );
}

/// A firewall answering echoes with ICMP errors: check_ping names the
/// error (its scan of ping's output), check_icmp counts it as loss; the
/// native probe must do each the same, for IPv4 and IPv6.
#[test]
fn icmp_errors_are_named_like_the_plugins() {
    let cases = [
        ("icmp", "host-unreachable", "Host Unreachable"),
        ("icmp", "net-prohibited", "Network Prohibited"),
        ("icmp", "admin-prohibited", "Packet Filtered"),
        ("icmp", "port-unreachable", "Bogus ICMP: Port Unreachable"),
        ("icmpv6", "addr-unreachable", "Host Unreachable"),
        ("icmpv6", "admin-prohibited", "Packet Filtered"),
    ];
    let runs: Vec<_> = cases
        .into_iter()
        .map(|(proto, kind, named)| {
            std::thread::spawn(move || {
                let ns = Netns::new();
                ns.filter_input(&format!(
                    "{proto} type echo-request reject with {proto} type {kind}"
                ));
                let host = if proto == "icmp" {
                    ns.peer.to_string()
                } else {
                    ns.peer6.to_string()
                };
                let ping = compare(&format!("check_ping -H {host} {THRESHOLDS} -p 2 -t 3"));
                assert_eq!(
                    (ping.status, &*ping.output),
                    (Status::Critical, &*format!("CRITICAL - {named} ({host})")),
                    "{proto} {kind}"
                );
                let icmp = compare(&format!("check_icmp -H {host} {THRESHOLDS} -n 2 -t 3"));
                assert_eq!(icmp.status, Status::Critical, "{proto} {kind}");
            })
        })
        .collect();
    for run in runs {
        run.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
    }
}

/// Replies 300 ms late cross the 200 ms warning, not the 500 ms critical.
#[test]
fn slow_replies_are_warning() {
    let ns = Netns::new();
    let _echo = ns.slow_echo(Duration::from_millis(300));
    both(
        &ns.peer.to_string(),
        &format!("{THRESHOLDS} -p 3"),
        &format!("{THRESHOLDS} -n 3"),
        Status::Warning,
    );
}

/// Many checks on one shard share its one socket: each gets its own
/// replies, answered and dropped hosts side by side.
#[test]
fn one_socket_serves_concurrent_checks() {
    let up = Netns::new();
    let down = Netns::new();
    down.filter_input("icmp type echo-request drop");
    let settings = Settings::default();
    let ctx = ProbeContext::new(&settings);
    let lines: Vec<(String, Status)> = [
        ("127.0.0.1".to_string(), Status::Ok),
        (up.peer.to_string(), Status::Ok),
        (down.peer.to_string(), Status::Critical),
    ]
    .into_iter()
    .flat_map(|(host, want)| {
        (0..4).map(move |_| (format!("check_icmp -H {host} -n 4 -c 500,60%"), want))
    })
    .collect();
    let probes: Vec<_> = lines
        .iter()
        .map(|(line, _)| {
            build(
                &support::spec(line, Some(Duration::from_secs(20))),
                &settings,
            )
        })
        .collect();
    let results = support::runtime().block_on(async {
        let runs = probes.iter().map(|p| p.run(&ctx));
        let mut out = Vec::new();
        for r in join_all(runs.collect()).await {
            out.push(r);
        }
        out
    });
    for ((line, want), got) in lines.iter().zip(results) {
        assert_eq!(got.status, *want, "{line}: {got:?}");
    }
}

/// End to end: the daemon's shards open their sockets lazily on their own
/// runtimes and run both plugins' lines natively.
#[test]
fn daemon_runs_ping_checks_natively() {
    use crate::support::{free_port, wait_for, Daemon, TempDir};
    let dir = TempDir::new("icmp-daemon");
    let cfg = dir.path().join("vedette.toml");
    let api_port = free_port();
    let config = r#"
[engine]
shards = 2

[commands.ping]
line = "/usr/lib/nagios/plugins/check_ping -H $HOSTADDRESS$ -w 200.0,20% -c 500.0,60% -p 1"

[commands.icmp]
line = "/usr/lib/nagios/plugins/check_icmp -H $HOSTADDRESS$ -n 2"

[hosts.local]
address = "127.0.0.1"

[hosts.local6]
address = "::1"
"#;
    let services: String = [("local", "ping"), ("local", "icmp"), ("local6", "icmp")]
        .iter()
        .map(|(host, check)| {
            format!(
                "\n[[services]]\nhost = \"{host}\"\nname = \"{check}\"\ncheck = \"{check}\"\ncheck_interval = \"1s\"\n"
            )
        })
        .collect();
    std::fs::write(&cfg, format!("{config}{services}")).expect("config");
    let d = Daemon::start_on(&cfg, dir.path(), api_port);
    for (host, name) in [("local", "ping"), ("local", "icmp"), ("local6", "icmp")] {
        let s = wait_for(15, "ping services checked", || {
            let all = d.get(&format!("/v1/services?host={host}"));
            let s = all
                .as_array()
                .and_then(|a| a.iter().find(|s| s["name"] == name).cloned())?;
            (s["checked"] == true).then_some(s)
        });
        assert_eq!(
            (s["state"].as_str(), s["probe"].as_str()),
            (Some("OK"), Some("icmp")),
            "{host}/{name}: {s}\n{}",
            d.log_text()
        );
    }
}

/// Polls all futures together on the current task (no `futures` crate).
async fn join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut done: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        for (f, slot) in futures.iter_mut().zip(done.iter_mut()) {
            if slot.is_none() {
                if let std::task::Poll::Ready(v) = f.as_mut().poll(cx) {
                    *slot = Some(v);
                }
            }
        }
        if done.iter().all(Option::is_some) {
            std::task::Poll::Ready(done.iter_mut().filter_map(Option::take).collect())
        } else {
            std::task::Poll::Pending
        }
    })
    .await
}

/// Without CAP_NET_RAW the probe falls back to an unprivileged datagram
/// socket (the kernel then picks the identifier, so replies are told
/// apart by sequence); when `ping_group_range` forbids that too, the
/// check is UNKNOWN and says how to fix it.
#[test]
fn without_net_raw_uses_datagram_sockets_or_says_why_not() {
    let run_unprivileged = |ns: &Netns| {
        let name = ns.name.clone();
        let peer = ns.peer;
        std::thread::spawn(move || {
            netns::enter_without_net_raw(&name);
            let settings = Settings::default();
            let ctx = ProbeContext::new(&settings);
            let lines = [
                "check_icmp -H 127.0.0.1 -n 3".to_string(),
                format!("check_icmp -H {peer} -n 3"),
                format!("check_ping -H {peer} -w 200.0,20% -c 500.0,60% -p 2"),
            ];
            let probes: Vec<_> = lines
                .iter()
                .map(|l| build(&support::spec(l, None), &settings))
                .collect();
            support::runtime().block_on(join_all(probes.iter().map(|p| p.run(&ctx)).collect()))
        })
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
    };
    let ns = Netns::new();
    ns.sysctl("net.ipv4.ping_group_range=0 2147483647");
    for r in run_unprivileged(&ns) {
        assert_eq!(r.status, Status::Ok, "{r:?}");
        assert!(
            mask(&r.output).contains("lost #%") || mask(&r.output).contains("loss = #%"),
            "{r:?}"
        );
    }
    ns.sysctl("net.ipv4.ping_group_range=1 0");
    for r in run_unprivileged(&ns) {
        assert_eq!(r.status, Status::Unknown, "{r:?}");
        assert!(
            r.output.contains("CAP_NET_RAW") && r.output.contains("net.ipv4.ping_group_range"),
            "{r:?}"
        );
    }
}
