//! Differential tests: the native `nrpe` probe against forking the real
//! `/usr/lib/nagios/plugins/check_nrpe` (the engine's `exec` probe), same
//! command line, same real nrpe daemon (Debian's, started here on a
//! loopback port with a temporary nrpe.cfg). Both must agree on the
//! state, output, long output and perfdata.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use vedette::check::{CheckResult, Status};
use vedette::model::Settings;
use vedette::probes::nrpe::slots::PER_HOST;
use vedette::probes::{build, ProbeContext};

use crate::support::probes::{run, runtime, spec};
use crate::support::{free_port, TempDir};

const CHECK_NRPE: &str = "/usr/lib/nagios/plugins/check_nrpe";
const NRPE_DAEMON: &str = "/usr/sbin/nrpe";

/// Debian's nrpe daemon in the foreground; killed by PID on drop.
struct NrpeDaemon {
    child: Child,
    port: u16,
    _dir: TempDir,
}

impl NrpeDaemon {
    fn start(tls: bool, allowed: &str) -> NrpeDaemon {
        for (path, package) in [
            (NRPE_DAEMON, "nagios-nrpe-server"),
            (CHECK_NRPE, "nagios-nrpe-plugin"),
        ] {
            assert!(
                Path::new(path).exists(),
                "{path} is missing: install the Debian package {package} (bash .ci/deps)"
            );
        }
        let dir = TempDir::new("nrpe");
        let d = dir.path();
        // The daemon runs commands as nobody: everything world-readable.
        chmod(d, 0o755);
        let script = |name: &str, body: &str| {
            let p = d.join(name);
            std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).expect("write script");
            chmod(&p, 0o755);
            p.display().to_string()
        };
        let ok = script("ok.sh", "echo 'OK - load fine|load1=0.50;4;8;0'\nexit 0");
        let crit = script(
            "crit.sh",
            "echo 'CRITICAL - disk full|/=99%;80;90'\necho '/var 99%'\necho '/home 12%|/home=12%'\nexit 2",
        );
        let warn = script("warn.sh", "echo 'WARNING - swap'\nexit 1");
        let slow = script("slow.sh", "sleep 10\necho late");
        let port = free_port();
        let cfg = format!(
            "pid_file={d}/nrpe.pid\nserver_port={port}\nserver_address=127.0.0.1\n\
             nrpe_user=nobody\nnrpe_group=nogroup\nallowed_hosts={allowed}\n\
             dont_blame_nrpe=0\ncommand_timeout=2\nconnection_timeout=10\n\
             command[ok]={ok}\ncommand[crit]={crit}\ncommand[warn]={warn}\ncommand[slow]={slow}\n",
            d = d.display()
        );
        let path = d.join("nrpe.cfg");
        std::fs::write(&path, cfg).expect("write nrpe.cfg");
        let mut cmd = Command::new(NRPE_DAEMON);
        cmd.arg("-c").arg(&path).arg("-f");
        if !tls {
            cmd.arg("-n");
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nrpe");
        let mut daemon = NrpeDaemon {
            child,
            port,
            _dir: dir,
        };
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let started = Instant::now();
        while std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Ok(Some(status)) = daemon.child.try_wait() {
                panic!("nrpe exited at start: {status}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "nrpe does not listen on {addr}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        daemon
    }
}

impl Drop for NrpeDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn chmod(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn show(r: &CheckResult) -> String {
    format!(
        "{} | output {:?} | long {:?} | perf {:?}",
        r.status, r.output, r.long_output, r.perfdata
    )
}

/// Runs `check_nrpe -H 127.0.0.1 -p PORT ARGS` natively and forked; they
/// must agree. Returns the native result.
fn differential(port: u16, args: &str, timeout: Option<Duration>) -> CheckResult {
    let line = format!("{CHECK_NRPE} -H 127.0.0.1 -p {port} {args}");
    let forked = Settings {
        native_probes: false,
        ..Settings::default()
    };
    let (probe, real) = run(&line, timeout, &forked);
    assert_eq!(probe, "exec");
    let (probe, native) = run(&line, timeout, &Settings::default());
    assert_eq!(probe, "nrpe", "{line} must run natively");
    assert_eq!(show(&native), show(&real), "native vs check_nrpe: {line}");
    native
}

fn matrix(tls: bool) {
    let d = NrpeDaemon::start(tls, "127.0.0.1");
    let n = if tls { "" } else { "-n " };
    let table: &[(&str, Status, &str)] = &[
        ("", Status::Ok, "NRPE v4.1.0"),
        ("-c ok", Status::Ok, "OK - load fine"),
        ("-2 -c ok", Status::Ok, "OK - load fine"),
        ("-c warn", Status::Warning, "WARNING - swap"),
        ("-c crit", Status::Critical, "CRITICAL - disk full"),
        (
            "-c nope",
            Status::Unknown,
            "NRPE: Command 'nope' not defined",
        ),
        (
            "-c slow",
            Status::Unknown,
            "NRPE: Command timed out after 2 seconds",
        ),
        (
            "-c ok -a 1 2",
            Status::Unknown,
            "CHECK_NRPE: Receive header underflow - only 0 bytes received (4 expected).",
        ),
        (
            "-c slow -t 1",
            Status::Critical,
            "CHECK_NRPE STATE CRITICAL: Socket timeout after 1 seconds.",
        ),
        (
            "-c slow -t 1:3",
            Status::Unknown,
            "CHECK_NRPE STATE UNKNOWN: Socket timeout after 1 seconds.",
        ),
    ];
    for (args, status, output) in table {
        let r = differential(d.port, &format!("{n}{args}"), None);
        assert_eq!((r.status, &*r.output), (*status, *output), "{args}");
    }
    let crit = differential(d.port, &format!("{n}-c crit"), None);
    assert_eq!(&*crit.perfdata, "/=99%;80;90 /home=12%");
    assert_eq!(&*crit.long_output, "/var 99%\n/home 12%");
    // The engine's timeout, shorter than -t, wins in both.
    let r = differential(d.port, &format!("{n}-c slow"), Some(Duration::from_secs(1)));
    assert_eq!(&*r.output, "(Service check timed out after 1.00 seconds)");
}

#[test]
fn nrpe_native_matches_check_nrpe_over_tls() {
    matrix(true);
}

#[test]
fn nrpe_native_matches_check_nrpe_plain() {
    matrix(false);
}

#[test]
fn nrpe_native_matches_check_nrpe_when_refused() {
    let port = free_port();
    let r = differential(port, "-c ok", None);
    assert_eq!(r.status, Status::Critical);
    assert!(r.output.contains("Connection refused"), "{}", show(&r));
    let r = differential(port, "-c ok -E", None);
    assert!(
        r.output.starts_with("connect to address 127.0.0.1"),
        "{}",
        show(&r)
    );
    // A daemon whose allowed_hosts leaves us out: check_nrpe's own message
    // races with the daemon's reset, so only the states are compared.
    let d = NrpeDaemon::start(true, "10.9.9.9");
    let line = format!("{CHECK_NRPE} -H 127.0.0.1 -p {} -c ok", d.port);
    let (probe, native) = run(&line, None, &Settings::default());
    assert_eq!(
        (probe, native.status),
        ("nrpe", Status::Critical),
        "{}",
        show(&native)
    );
}

#[test]
fn nrpe_queries_to_one_host_are_bounded_per_shard() {
    // A peer that holds every connection 300 ms and counts how many are
    // open at once; the queries fail (no answer), which is not the point.
    let open = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (o, p) = (open.clone(), peak.clone());
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let (o, p) = (o.clone(), p.clone());
            std::thread::spawn(move || {
                let now = o.fetch_add(1, Ordering::SeqCst) + 1;
                p.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(300));
                o.fetch_sub(1, Ordering::SeqCst);
                drop(conn);
            });
        }
    });
    let settings = Settings::default();
    let line = format!("check_nrpe -H 127.0.0.1 -p {port} -n -2 -c x");
    let probe = build(&spec(&line, None), &settings);
    assert_eq!(probe.name(), "nrpe");
    let ctx = ProbeContext::new(&settings);
    let checks = 3 * PER_HOST;
    let started = Instant::now();
    let results = runtime().block_on(async {
        let local = tokio::task::LocalSet::new();
        local
            .run_until(async {
                let mut tasks = Vec::new();
                for _ in 0..checks {
                    let (probe, ctx) = (probe.clone(), ctx.clone());
                    tasks.push(tokio::task::spawn_local(
                        async move { probe.run(&ctx).await },
                    ));
                }
                let mut out = Vec::new();
                for t in tasks {
                    out.push(t.await.expect("probe task"));
                }
                out
            })
            .await
    });
    assert_eq!(results.len(), checks);
    assert_eq!(
        peak.load(Ordering::SeqCst),
        PER_HOST,
        "connections open at once"
    );
    assert!(started.elapsed() >= Duration::from_millis(3 * 300 - 50));
}

/// End to end: `vedette run` with check_nrpe services runs them natively
/// on its shards against the real daemon.
#[test]
fn daemon_runs_check_nrpe_natively() {
    use crate::support::{wait_for, Daemon};
    let nrpe = NrpeDaemon::start(true, "127.0.0.1");
    let dir = TempDir::new("nrpe-daemon");
    let cfg = dir.path().join("vedette.toml");
    let config = format!(
        r#"
[engine]
shards = 2

[commands.check_nrpe]
line = "{CHECK_NRPE} -H $HOSTADDRESS$ -p {port} -c $ARG1$"

[hosts.local]
address = "127.0.0.1"

[[services]]
host = "local"
name = "ok"
check = "check_nrpe!ok"
check_interval = "1s"

[[services]]
host = "local"
name = "crit"
check = "check_nrpe!crit"
check_interval = "1s"
"#,
        port = nrpe.port
    );
    std::fs::write(&cfg, config).expect("config");
    let d = Daemon::start_on(&cfg, dir.path(), free_port());
    for (name, state, output) in [
        ("ok", "OK", "OK - load fine"),
        ("crit", "CRITICAL", "CRITICAL - disk full"),
    ] {
        let s = wait_for(15, "nrpe services checked", || {
            let all = d.get("/v1/services?host=local");
            let s = all
                .as_array()
                .and_then(|a| a.iter().find(|s| s["name"] == name).cloned())?;
            (s["checked"] == true).then_some(s)
        });
        assert_eq!(
            (
                s["state"].as_str(),
                s["probe"].as_str(),
                s["output"].as_str()
            ),
            (Some(state), Some("nrpe"), Some(output)),
            "{name}: {s}\n{}",
            d.log_text()
        );
    }
}
