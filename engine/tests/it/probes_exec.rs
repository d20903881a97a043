//! The plugin fallback against real processes.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use vedette::check::Status;
use vedette::model::Settings;
use vedette::probes::exec::spawn::OUTPUT_CAP;
use vedette::probes::{build, ProbeContext};

use crate::support::probes::{self as support, runtime, spec};

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vedette-exec-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn run(line: &str) -> vedette::check::CheckResult {
    let (probe, result) = support::run(line, Some(Duration::from_secs(10)), &Settings::default());
    assert_eq!(probe, "exec", "{line} must fork");
    result
}

#[test]
fn multi_line_output_with_perfdata() {
    let r = run(
        r#"sh -c 'printf "DISK WARNING - 91%% used|/=91%%;80;90\n/ 91%%\n/var 12%%|/var=12%%;80;90\n"; exit 1'"#,
    );
    assert_eq!(r.status, Status::Warning);
    assert_eq!(&*r.output, "DISK WARNING - 91% used");
    assert_eq!(&*r.long_output, "/ 91%\n/var 12%");
    assert_eq!(&*r.perfdata, "/=91%;80;90 /var=12%;80;90");
}

#[test]
fn missing_and_unrunnable_plugins() {
    let r = run("/nonexistent/check_foo -H x");
    assert_eq!(r.status, Status::Unknown);
    assert_eq!(&*r.output, "plugin not found: /nonexistent/check_foo");
    let r = run("/etc/passwd -H x");
    assert_eq!(r.status, Status::Unknown);
    assert_eq!(&*r.output, "plugin not executable: /etc/passwd");
}

#[test]
fn exit_codes_and_signals() {
    let r = run("sh -c 'echo still here; exit 7'");
    assert_eq!(r.status, Status::Unknown);
    assert_eq!(&*r.output, "(Return code of 7 is out of bounds)");
    assert_eq!(&*r.long_output, "still here");
    let r = run("sh -c 'kill -9 $$'");
    assert_eq!(r.status, Status::Unknown);
    assert_eq!(&*r.output, "(Plugin was killed by signal 9)");
    let r = run("sh -c 'echo oops >&2; exit 2'");
    assert_eq!(r.status, Status::Critical);
    assert_eq!(&*r.output, "(No output on stdout) stderr: oops");
    let r = run("true");
    assert_eq!(
        (r.status, &*r.output),
        (Status::Ok, "(No output returned from plugin)")
    );
}

#[test]
fn shell_metacharacters_go_through_sh() {
    let r = run("echo hello world | tr a-z A-Z");
    assert_eq!(&*r.output, "HELLO WORLD");
    // Quoted, the same characters are plain arguments (no shell).
    let r = run("echo '$HOME' '*.c' \\;");
    assert_eq!(&*r.output, "$HOME *.c ;");
}

#[test]
fn output_is_capped_and_the_child_never_blocks() {
    let started = Instant::now();
    let r = run(r#"sh -c 'head -c 1000000 /dev/zero | tr "\0" x; echo; echo second line'"#);
    assert_eq!(r.status, Status::Ok);
    assert_eq!(r.output.len(), OUTPUT_CAP);
    assert!(r.long_output.is_empty(), "the rest was dropped");
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// Whether `pid` is gone (or a zombie waiting for init: dead either way).
fn gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|s| s.trim_start().starts_with('Z')),
    }
}

#[test]
fn timeout_kills_the_whole_process_group() {
    let dir = scratch("timeout");
    let pidfile = dir.join("grandchild");
    let line = format!(
        "sh -c 'sleep 30 & echo $! > {}; sleep 30'",
        pidfile.display()
    );
    let settings = Settings {
        timeout_status: Status::Critical,
        ..Settings::default()
    };
    let started = Instant::now();
    let (probe, r) = support::run(&line, Some(Duration::from_millis(700)), &settings);
    assert_eq!(probe, "exec");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(r.status, Status::Critical, "the configured timeout status");
    assert_eq!(&*r.output, "(Service check timed out after 0.70 seconds)");

    let pid: i32 = std::fs::read_to_string(&pidfile)
        .expect("grandchild pid written")
        .trim()
        .parse()
        .expect("pid");
    let deadline = Instant::now() + Duration::from_secs(2);
    while !gone(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(gone(pid), "grandchild {pid} survived the timeout");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn concurrency_limit_is_respected() {
    let dir = scratch("slots");
    let line = format!(
        "sh -c 'touch {d}/$$; sleep 0.3; ls {d} | wc -l; rm {d}/$$'",
        d = dir.display()
    );
    let settings = Settings {
        max_concurrent_exec: 2,
        ..Settings::default()
    };
    let ctx = ProbeContext::new(&settings);
    let probe = build(&spec(&line, Some(Duration::from_secs(10))), &settings);
    let started = Instant::now();
    let results = runtime().block_on(async {
        tokio::join!(
            probe.run(&ctx),
            probe.run(&ctx),
            probe.run(&ctx),
            probe.run(&ctx)
        )
    });
    let running: Vec<u32> = [results.0, results.1, results.2, results.3]
        .iter()
        .map(|r| r.output.trim().parse().expect("a count"))
        .collect();
    assert!(
        running.iter().all(|&n| n <= 2),
        "at most 2 at once, saw {running:?}"
    );
    assert!(running.contains(&2), "2 did run at once: {running:?}");
    assert!(started.elapsed() >= Duration::from_millis(600));
    let _ = std::fs::remove_dir_all(dir);
}
