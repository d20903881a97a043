//! The agent's own errors: exit code 1 with a message that says what to do.

use std::time::Duration;

use crate::support::{free_port, start_agent, wait_for, TempDir};

fn token() -> String {
    format!("{}.{}", "a".repeat(64), "b".repeat(64))
}

#[test]
fn no_certificate_and_no_token() {
    let dir = TempDir::new("notoken");
    let mut agent = start_agent(free_port(), &dir.join("state"), &[]);
    let status = agent.wait_exit(Duration::from_secs(10)).expect("exits");
    assert_eq!(status.code(), Some(1), "{}", agent.log_text());
    assert!(
        agent.log_text().contains("no enrolment token"),
        "{}",
        agent.log_text()
    );
}

#[test]
fn one_agent_per_state_directory() {
    let dir = TempDir::new("twice");
    let state = dir.join("state");
    let port = free_port();
    let mut first = start_agent(port, &state, &["--token", &token()]);
    // The first one is up once it tries to reach the (absent) engine.
    let up = wait_for(Duration::from_secs(10), || {
        first.assert_running();
        first.log_text().contains("Connection failed").then_some(())
    });
    assert!(up.is_some(), "{}", first.log_text());
    let mut second = start_agent(port, &state, &["--token", &token()]);
    let status = second.wait_exit(Duration::from_secs(10)).expect("exits");
    assert_eq!(status.code(), Some(1));
    assert!(
        second
            .log_text()
            .contains("another vedette-agent is running with state directory"),
        "{}",
        second.log_text()
    );
    first.assert_running();
}

#[test]
fn bad_config_key_is_named() {
    let dir = TempDir::new("badkey");
    let cfg = dir.join("agent.toml");
    std::fs::write(&cfg, "server = \"127.0.0.1:1\"\nspool_max_byte = 1\n").unwrap();
    let mut agent = start_agent(
        free_port(),
        &dir.join("state"),
        &["--config", cfg.to_str().unwrap()],
    );
    let status = agent.wait_exit(Duration::from_secs(10)).expect("exits");
    assert_eq!(status.code(), Some(1));
    assert!(
        agent.log_text().contains("spool_max_byte"),
        "{}",
        agent.log_text()
    );
}
