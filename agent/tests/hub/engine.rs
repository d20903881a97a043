//! The agent against the real engine, TLS on loopback: enrolment then mTLS
//! without the token; every result applied exactly once across an engine
//! SIGKILL, a cut connection and an agent restart; refusals end the agent
//! with exit code 2 and the word `refused` in both logs.
//!
//! The exactly-once tests run a plugin script every second that counts its
//! runs in a file and prints the count. At the end a stop file makes the
//! next run hang, so the count stops; then `applied` in `/v1/agents/H`
//! must equal the count, `applied_seq` the agent's last sequence number
//! (read from its spool after it stopped), and the service's last output
//! the last count.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use vedette_agent::spool::Spool;

use crate::support::proxy::Proxy;
use crate::support::{free_port, start_agent, wait_for, Engine, Proc, TempDir};

const HOST: &str = "agent1";

/// A test's world: directories, engine config, the counting plugin.
struct World {
    dir: TempDir,
    api: u16,
    agent_port: u16,
}

impl World {
    fn new(tag: &str) -> World {
        World::with_padding(tag, 0)
    }

    /// As `new`, with `padding` bytes of long output per result.
    fn with_padding(tag: &str, padding: usize) -> World {
        let dir = TempDir::new(tag);
        let plugin = dir.join("count.sh");
        let count = dir.join("count");
        let stop = dir.join("stop");
        std::fs::write(
            &plugin,
            format!(
                "#!/bin/sh\n\
                 if [ -e {stop} ]; then exec sleep 600; fi\n\
                 n=$(cat {count} 2>/dev/null || echo 0)\n\
                 n=$((n+1))\n\
                 echo $n > {count}.tmp && mv {count}.tmp {count}\n\
                 echo \"OK count=$n|count=$n\"\n\
                 if [ {padding} -gt 0 ]; then head -c {padding} /dev/zero | tr '\\0' x; echo; fi\n",
                stop = stop.display(),
                count = count.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(
            dir.join("vedette.toml"),
            format!(
                r#"
[engine]
check_timeout = "120s"

[commands.count]
line = "{plugin}"

[hosts.{HOST}]
address = "127.0.0.1"
agent = true

[[services]]
host = "{HOST}"
name = "counter"
check = "count"
check_interval = "1s"
retry_interval = "1s"
max_check_attempts = 1
"#,
                plugin = plugin.display()
            ),
        )
        .unwrap();
        std::fs::create_dir_all(dir.join("engine")).unwrap();
        World {
            dir,
            api: free_port(),
            agent_port: free_port(),
        }
    }

    fn engine(&self) -> Engine {
        Engine::start(
            &self.dir.join("vedette.toml"),
            &self.dir.join("engine"),
            self.api,
            self.agent_port,
        )
    }

    fn agent_state(&self) -> PathBuf {
        self.dir.join("agent")
    }

    fn count(&self) -> u64 {
        std::fs::read_to_string(self.dir.join("count"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    }

    fn stop_counting(&self) {
        std::fs::write(self.dir.join("stop"), "").unwrap();
    }
}

fn agent_info(engine: &Engine) -> Option<Value> {
    engine.get(&format!("/v1/agents/{HOST}"))
}

fn field(v: &Value, name: &str) -> u64 {
    v[name].as_u64().unwrap_or(0)
}

/// Waits until the engine has applied at least `n` results from the agent.
fn wait_applied(engine: &mut Engine, agent: &mut Proc, n: u64, limit: u64) -> Value {
    wait_for(Duration::from_secs(limit), || {
        agent.assert_running();
        engine.proc.assert_running();
        agent_info(engine).filter(|v| field(v, "applied") >= n)
    })
    .unwrap_or_else(|| {
        panic!(
            "engine never applied {n} results; agent: {:?}\nengine log:\n{}\nagent log:\n{}",
            agent_info(engine),
            engine.proc.log_text(),
            agent.log_text()
        )
    })
}

/// Stops the counter, waits for everything to arrive, stops the agent and
/// checks the exactly-once invariants.
fn settle_and_check(w: &World, engine: &mut Engine, mut agent: Proc) {
    w.stop_counting();
    // The run in progress may still finish; give it a moment.
    std::thread::sleep(Duration::from_millis(1500));
    let settled = wait_for(Duration::from_secs(10), || {
        let v = agent_info(engine)?;
        (field(&v, "applied") == w.count() && w.count() > 0).then_some(v)
    });
    let v = settled.unwrap_or_else(|| {
        panic!(
            "applied never reached the count {}: {:?}\nengine log:\n{}\nagent log:\n{}",
            w.count(),
            agent_info(engine),
            engine.proc.log_text(),
            agent.log_text()
        )
    });
    let services = engine
        .get(&format!("/v1/services?host={HOST}"))
        .expect("services");
    let counter = services
        .as_array()
        .and_then(|a| a.iter().find(|s| s["name"] == "counter"))
        .expect("counter service");
    assert_eq!(
        counter["output"].as_str(),
        Some(format!("OK count={}", w.count()).as_str()),
        "{counter}"
    );

    agent.signal(libc::SIGTERM);
    let status = agent
        .wait_exit(Duration::from_secs(10))
        .expect("agent stops");
    assert!(
        status.success(),
        "agent exit {status}:\n{}",
        agent.log_text()
    );
    let spool = Spool::open(w.agent_state().join("spool"), 1 << 20).expect("spool");
    assert_eq!(
        field(&v, "applied_seq"),
        spool.next_seq() - 1,
        "applied_seq is the agent's last sequence number: {v}"
    );
    assert!(spool.is_empty(), "everything acknowledged");
}

#[test]
fn enrols_then_reconnects_with_its_certificate() {
    let w = World::new("enrol");
    let mut engine = w.engine();
    let token = engine.token(HOST, "10m");
    let mut agent = start_agent(w.agent_port, &w.agent_state(), &["--token", &token]);
    wait_applied(&mut engine, &mut agent, 2, 20);
    for f in ["agent.key", "agent.crt", "ca.crt"] {
        assert!(w.agent_state().join(f).is_file(), "{f} written");
    }
    agent.signal(libc::SIGTERM);
    assert!(agent
        .wait_exit(Duration::from_secs(10))
        .expect("stops")
        .success());

    // Restart without a token: the certificate is enough (mutual TLS).
    let applied = field(&agent_info(&engine).expect("agent"), "applied");
    let mut agent = start_agent(w.agent_port, &w.agent_state(), &[]);
    let v = wait_applied(&mut engine, &mut agent, applied + 2, 20);
    assert_eq!(v["connected"], Value::Bool(true), "{v}");
    assert_eq!(v["checks"].as_u64(), Some(1), "{v}");
    let services = engine
        .get(&format!("/v1/services?host={HOST}"))
        .expect("services");
    let counter = &services.as_array().expect("array")[0];
    assert!(
        counter["output"]
            .as_str()
            .unwrap_or("")
            .starts_with("OK count="),
        "{counter}"
    );
    assert_eq!(counter["state"], "OK", "{counter}");
    settle_and_check(&w, &mut engine, agent);
}

#[test]
fn exactly_once_across_engine_sigkill() {
    let w = World::new("sigkill");
    let mut engine = w.engine();
    let token = engine.token(HOST, "10m");
    let mut agent = start_agent(w.agent_port, &w.agent_state(), &["--token", &token]);
    wait_applied(&mut engine, &mut agent, 3, 20);
    engine.proc.signal(libc::SIGKILL);
    engine
        .proc
        .wait_exit(Duration::from_secs(5))
        .expect("engine dies");
    let during = w.count();
    std::thread::sleep(Duration::from_secs(4));
    assert!(w.count() >= during + 2, "the agent kept checking");
    let mut engine = w.engine();
    wait_applied(&mut engine, &mut agent, w.count(), 20);
    settle_and_check(&w, &mut engine, agent);
}

#[test]
fn exactly_once_across_cut_connections() {
    let w = World::new("proxy");
    let mut engine = w.engine();
    let token = engine.token(HOST, "10m");
    let proxy_port = free_port();
    let mut proxy = Proxy::start(proxy_port, w.agent_port);
    let mut agent = start_agent(proxy_port, &w.agent_state(), &["--token", &token]);
    wait_applied(&mut engine, &mut agent, 3, 20);
    for _ in 0..2 {
        proxy.kill();
        std::thread::sleep(Duration::from_secs(3));
        proxy = Proxy::start(proxy_port, w.agent_port);
        wait_applied(&mut engine, &mut agent, w.count(), 20);
    }
    settle_and_check(&w, &mut engine, agent);
    drop(proxy);
}

#[test]
fn exactly_once_across_agent_restart() {
    let w = World::new("restart");
    let mut engine = w.engine();
    let token = engine.token(HOST, "10m");
    let mut agent = start_agent(w.agent_port, &w.agent_state(), &["--token", &token]);
    wait_applied(&mut engine, &mut agent, 3, 20);
    agent.signal(libc::SIGTERM);
    let status = agent
        .wait_exit(Duration::from_secs(10))
        .expect("agent stops");
    assert!(status.success(), "{status}:\n{}", agent.log_text());
    std::thread::sleep(Duration::from_secs(1));
    let mut agent = start_agent(w.agent_port, &w.agent_state(), &[]);
    wait_applied(&mut engine, &mut agent, w.count() + 2, 20);
    settle_and_check(&w, &mut engine, agent);
}

fn refused(w: &World, engine: &Engine, token: &str) {
    let mut agent = start_agent(w.agent_port, &w.agent_state(), &["--token", token]);
    let status = agent
        .wait_exit(Duration::from_secs(20))
        .unwrap_or_else(|| panic!("agent still running:\n{}", agent.log_text()));
    assert_eq!(status.code(), Some(2), "{}", agent.log_text());
    assert!(agent.log_text().contains("refused"), "{}", agent.log_text());
    let engine_refused = wait_for(Duration::from_secs(5), || {
        engine.proc.log_text().contains("refused").then_some(())
    });
    assert!(
        engine_refused.is_some(),
        "engine log:\n{}",
        engine.proc.log_text()
    );
    assert!(!w.agent_state().join("agent.crt").exists());
}

#[test]
fn wrong_token_is_refused() {
    let w = World::new("wrongtoken");
    let engine = w.engine();
    let good = engine.token(HOST, "10m");
    let (_, pin) = good.split_once('.').expect("SECRET.CAPIN");
    let wrong = format!("{}.{pin}", "0".repeat(64));
    refused(&w, &engine, &wrong);
}

#[test]
fn expired_token_is_refused() {
    let w = World::new("expired");
    let engine = w.engine();
    let token = engine.token(HOST, "1s");
    std::thread::sleep(Duration::from_millis(2100));
    refused(&w, &engine, &token);
}

#[test]
fn revoked_agent_is_refused_mid_session() {
    let w = World::new("revoked");
    let mut engine = w.engine();
    let token = engine.token(HOST, "10m");
    let mut agent = start_agent(w.agent_port, &w.agent_state(), &["--token", &token]);
    wait_applied(&mut engine, &mut agent, 2, 20);
    engine.revoke(HOST);
    let status = agent
        .wait_exit(Duration::from_secs(10))
        .unwrap_or_else(|| panic!("agent still running:\n{}", agent.log_text()));
    assert_eq!(status.code(), Some(2), "{}", agent.log_text());
    assert!(agent.log_text().contains("refused"), "{}", agent.log_text());
    // Started again it is refused again, now at the handshake or hello.
    let mut again = start_agent(w.agent_port, &w.agent_state(), &[]);
    let status = again
        .wait_exit(Duration::from_secs(20))
        .unwrap_or_else(|| panic!("agent still running:\n{}", again.log_text()));
    assert_eq!(status.code(), Some(2), "{}", again.log_text());
}

#[test]
fn certificate_from_another_ca_is_refused() {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let w = World::new("otherca");
    let engine = w.engine();
    // A CA of our own signs the agent's certificate; the engine's CA is the
    // one the agent trusts, so only the engine can refuse.
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec![HOST.to_string()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    let state = w.agent_state();
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(state.join("agent.key"), key.serialize_pem()).unwrap();
    std::fs::write(state.join("agent.crt"), cert.pem()).unwrap();
    let engine_ca = w.dir.join("engine").join("agents").join("ca.crt");
    std::fs::copy(&engine_ca, state.join("ca.crt")).unwrap();

    let mut agent = start_agent(w.agent_port, &state, &[]);
    let status = agent
        .wait_exit(Duration::from_secs(20))
        .unwrap_or_else(|| panic!("agent still running:\n{}", agent.log_text()));
    assert_eq!(status.code(), Some(2), "{}", agent.log_text());
    assert!(agent.log_text().contains("refused"), "{}", agent.log_text());
    let engine_saw = wait_for(Duration::from_secs(5), || {
        engine
            .proc
            .log_text()
            .contains("TLS handshake failed")
            .then_some(())
    });
    assert!(engine_saw.is_some(), "{}", engine.proc.log_text());
}

#[test]
fn full_spool_drops_are_counted_and_reported() {
    // 16 KB per result and a 64 KiB spool: an outage of several seconds
    // overflows it. Every result is then either applied or counted as
    // dropped, never both, never neither.
    let w = World::with_padding("dropped", 16_000);
    let agent_cfg = w.dir.join("agent.toml");
    std::fs::write(&agent_cfg, "spool_max_bytes = 65536\n").unwrap();
    let mut engine = w.engine();
    let token = engine.token(HOST, "10m");
    let cfg = agent_cfg.to_str().unwrap();
    let mut agent = start_agent(
        w.agent_port,
        &w.agent_state(),
        &["--token", &token, "--config", cfg],
    );
    wait_applied(&mut engine, &mut agent, 2, 20);
    engine.proc.signal(libc::SIGKILL);
    engine
        .proc
        .wait_exit(Duration::from_secs(5))
        .expect("engine dies");
    std::thread::sleep(Duration::from_secs(8));
    let engine = w.engine();
    let reported = wait_for(Duration::from_secs(20), || {
        agent.assert_running();
        agent_info(&engine).filter(|v| field(v, "spool_dropped") > 0 && v["connected"] == true)
    });
    assert!(
        reported.is_some(),
        "{:?}\n{}",
        agent_info(&engine),
        agent.log_text()
    );
    w.stop_counting();
    std::thread::sleep(Duration::from_millis(1500));
    let settled = wait_for(Duration::from_secs(10), || {
        let v = agent_info(&engine)?;
        (field(&v, "applied") + field(&v, "spool_dropped") == w.count()).then_some(v)
    });
    assert!(
        settled.is_some(),
        "count {} vs {:?}\n{}",
        w.count(),
        agent_info(&engine),
        agent.log_text()
    );
}
