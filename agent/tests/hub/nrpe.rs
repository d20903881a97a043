//! The agent's optional NRPE server answers Debian's check_nrpe, with TLS
//! (anonymous DH, check_nrpe's default) and plain (`-n`).

use std::process::Command;
use std::time::Duration;

use crate::support::{free_port, start_agent, wait_for, TempDir};

const CHECK_NRPE: &str = "/usr/lib/nagios/plugins/check_nrpe";

fn check_nrpe(port: u16, extra: &[&str]) -> (i32, String) {
    let out = Command::new(CHECK_NRPE)
        .args(["-H", "127.0.0.1", "-p", &port.to_string(), "-t", "5"])
        .args(extra)
        .output()
        .unwrap_or_else(|e| panic!("{CHECK_NRPE} (package nagios-nrpe-plugin): {e}"));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
    )
}

fn serves(ssl: bool) {
    let dir = TempDir::new("nrpe");
    let port = free_port();
    let cfg = dir.join("nrpe.cfg");
    std::fs::write(
        &cfg,
        "allowed_hosts=127.0.0.1\ncommand[hello]=/bin/sh -c 'echo WARNING hello; exit 1'\n",
    )
    .unwrap();
    let agent_cfg = dir.join("agent.toml");
    std::fs::write(
        &agent_cfg,
        format!(
            "[nrpe]\nlisten = \"127.0.0.1:{port}\"\nconfig = \"{}\"\nssl = {ssl}\n",
            cfg.display()
        ),
    )
    .unwrap();
    // No engine: the agent keeps retrying its connection while NRPE serves.
    let token = format!("{}.{}", "a".repeat(64), "b".repeat(64));
    let mut agent = start_agent(
        free_port(),
        &dir.join("state"),
        &["--config", agent_cfg.to_str().unwrap(), "--token", &token],
    );
    let plain: &[&str] = if ssl { &[] } else { &["-n"] };
    let answer = wait_for(Duration::from_secs(10), || {
        agent.assert_running();
        let mut args = plain.to_vec();
        args.extend(["-c", "hello"]);
        let (code, out) = check_nrpe(port, &args);
        (code == 1).then_some(out)
    });
    assert_eq!(
        answer.as_deref(),
        Some("WARNING hello"),
        "agent log:\n{}",
        agent.log_text()
    );
    let (code, out) = check_nrpe(port, &[plain, &["-c", "nope"]].concat());
    assert_eq!(
        (code, out.as_str()),
        (3, "NRPE: Command 'nope' not defined")
    );
}

#[test]
fn nrpe_with_tls() {
    serves(true);
}

#[test]
fn nrpe_plain() {
    serves(false);
}
