//! `vedette-nrpe serve` as a process: bad configs, clean stop.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{ours, Daemon, Setup, TempDir, OURS};

#[test]
fn a_bad_config_is_refused_with_file_and_line() {
    let dir = TempDir::new("badcfg");
    let path = dir.path().join("nrpe.cfg");
    std::fs::write(&path, "server_port=5666\ncommand_timeout=soon\n").unwrap();
    let out = Command::new(OURS)
        .args(["serve", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("nrpe.cfg:2: command_timeout: expected seconds, got 'soon'"),
        "{err}"
    );
}

#[test]
fn sigterm_stops_it_cleanly() {
    let mut d = Daemon::ours(&Setup {
        tls: false,
        ..Setup::default()
    });
    assert_eq!(ours(d.port, &["-n", "-c", "crit"]).code, 2);
    let pid = i32::try_from(d.child.id()).unwrap();
    // SAFETY: kill(2) on the PID of our own child; no memory involved.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let started = Instant::now();
    loop {
        if let Some(status) = d.child.try_wait().unwrap() {
            assert!(status.success(), "{status}: {}", d.stderr());
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "still running");
        std::thread::sleep(Duration::from_millis(20));
    }
}
