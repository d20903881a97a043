//! The engine's agent hub from the outside: a raw test agent
//! (`support::agent_client`) talks TLS and WebSocket on loopback to a real
//! `vedette run`, enrols, opens sessions, streams results, and misbehaves
//! in every way the protocol forbids.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;
use tokio_tungstenite::tungstenite::Message;
use vedette_proto::wire::{
    AgentMessage, EngineMessage, ErrorCode, Token, WireResult, MAX_FRAME_BYTES, PROTOCOL_VERSION,
};

use crate::support::agent_client::{
    agent_config, hello_msg, key_and_csr, result, Conn, HubEngine, Identity, Received, HOST,
};
use crate::support::wait_for;

fn sha256_hex(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Enrols with `secret` on a fresh connection; the refusal's code and
/// message (panics if it was accepted).
fn refused_enrolment(e: &HubEngine, secret: &str) -> (ErrorCode, String) {
    let (_, csr) = key_and_csr(HOST);
    let mut c = e.connect(None).expect("enrolment connection");
    c.send(&AgentMessage::Enrol {
        version: PROTOCOL_VERSION,
        token: secret.to_string(),
        csr_pem: csr,
    });
    match c.recv() {
        EngineMessage::Error { code, message } => {
            c.expect_closed(Duration::from_secs(3));
            (code, message)
        }
        other => panic!("enrolment with {secret:?} must be refused, got {other:?}"),
    }
}

/// Connects with `id` and says hello; the hub must refuse: the reason
/// (handshake error, or the connection's end after any error frame).
fn refused_session(e: &HubEngine, id: &Identity) -> (Option<ErrorCode>, String) {
    let mut c = match e.connect(Some(id)) {
        Err(why) => return (None, why),
        Ok(c) => c,
    };
    // The hub may refuse before the hello arrives; a failed send is fine.
    let _ = c.send_raw(Message::text(vedette_proto::wire::encode(&hello_msg())));
    match c.recv_within(Duration::from_secs(5)) {
        Received::Closed(why) => (None, why),
        Received::Msg(EngineMessage::Error { code, message }) => {
            c.expect_closed(Duration::from_secs(3));
            (Some(code), message)
        }
        other => panic!("the hub must refuse this certificate, got {other:?}"),
    }
}

#[test]
fn agent_hub_enrolment_over_the_wire() {
    let e = HubEngine::start("hub-enrol", &agent_config(""));
    let text = e.token(HOST, "10m");
    let token = Token::parse(&text).expect("the last line is a token");
    let ca_pem = e.ca_pem();

    // A broken CSR or another protocol version is refused without
    // spending the token.
    for (version, csr, code) in [
        (
            PROTOCOL_VERSION,
            "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"
                .to_string(),
            ErrorCode::Malformed,
        ),
        (
            PROTOCOL_VERSION + 1,
            key_and_csr(HOST).1,
            ErrorCode::Version,
        ),
    ] {
        let mut c = e.connect(None).expect("enrolment connection");
        c.send(&AgentMessage::Enrol {
            version,
            token: token.secret.clone(),
            csr_pem: csr,
        });
        c.expect_error(code);
        c.expect_closed(Duration::from_secs(3));
    }

    let mut c = e
        .connect(None)
        .expect("enrolment connection (no certificate)");
    assert_eq!(c.server_chain.len(), 2, "the hub serves [hub cert, CA]");
    assert_eq!(
        sha256_hex(c.server_chain[1].as_ref()),
        token.ca_pin,
        "the CA in the chain is the one the token pins"
    );
    let (key, csr) = key_and_csr("a-name-the-agent-made-up");
    c.send(&AgentMessage::Enrol {
        version: PROTOCOL_VERSION,
        token: token.secret.clone(),
        csr_pem: csr,
    });
    let (host, cert_pem, got_ca) = match c.recv() {
        EngineMessage::Enrolled {
            host,
            cert_pem,
            ca_pem,
        } => (host, cert_pem, ca_pem),
        other => panic!("expected Enrolled, got {other:?}"),
    };
    c.expect_closed(Duration::from_secs(3));
    assert_eq!(host, HOST);
    assert_eq!(got_ca.trim(), ca_pem.trim(), "ca_pem is the engine's CA");

    // The certificate is for the token's host and chains to ca_pem.
    let cert = CertificateDer::from_pem_slice(cert_pem.as_bytes()).expect("cert PEM");
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).expect("X.509");
    let cn = parsed
        .subject()
        .iter_common_name()
        .next()
        .and_then(|n| n.as_str().ok());
    assert_eq!(cn, Some(HOST), "CN is the token's host, not the CSR's");
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(got_ca.as_bytes()).expect("CA PEM"))
        .expect("root");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .expect("verifier")
        .verify_client_cert(&cert, &[], UnixTime::now())
        .expect("the enrolled certificate verifies against ca_pem");

    // The enrolled certificate opens a session.
    let id = Identity {
        cert_pem,
        key_pem: key.serialize_pem(),
    };
    let mut s = e.mtls(&id);
    let (welcomed, applied_seq, _) = s.hello();
    assert_eq!((welcomed.as_str(), applied_seq), (HOST, 0));
    e.wait_log_line(&["enrolled"]);

    // The same token again.
    let (code, message) = refused_enrolment(&e, &token.secret);
    assert_eq!(code, ErrorCode::EnrolmentRefused, "{message}");
    assert!(message.contains("already used"), "{message}");
    e.wait_log_line(&["refused", "already used"]);

    // A token never issued.
    let (code, message) = refused_enrolment(&e, &"5a".repeat(32));
    assert_eq!(code, ErrorCode::EnrolmentRefused, "{message}");
    e.wait_log_line(&["refused", "unknown"]);

    // An expired token.
    let short = Token::parse(&e.token(HOST, "1s")).expect("token");
    std::thread::sleep(Duration::from_millis(2100));
    let (code, message) = refused_enrolment(&e, &short.secret);
    assert_eq!(code, ErrorCode::EnrolmentRefused, "{message}");
    assert!(message.contains("expired"), "{message}");
    e.wait_log_line(&["refused", "expired"]);
}

#[test]
fn agent_hub_session_welcome_and_assignment() {
    let e = HubEngine::start("hub-session", &agent_config(""));
    let mut c = e.mtls(&e.identity(HOST));
    let (host, applied_seq, checks) = c.hello();
    assert_eq!(host, HOST, "the host comes from the certificate");
    assert_eq!(applied_seq, 0);
    let mut got: Vec<(&str, &str, u32)> = checks
        .iter()
        .map(|c| (c.service.as_str(), c.command.as_str(), c.max_attempts))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("load", "check_load -w 5 -c 10", 1),
            (
                "ssh",
                "/usr/lib/nagios/plugins/check_tcp -H 127.0.0.1 -p 22",
                1
            ),
        ],
        "both services, macros expanded"
    );
    let a = e.agent_json(HOST);
    assert_eq!(a["connected"], true, "{a}");
    assert_eq!(a["checks"], 2, "{a}");
    assert_eq!(a["agent_version"], "hubtest-0.1", "{a}");
    let h = wait_for(5, "host UP", || {
        let h = e.host();
        (h["state"] == "UP").then_some(h)
    });
    assert!(h["output"].as_str().is_some_and(|o| !o.is_empty()), "{h}");

    // A reload assigns again, to the live session.
    let generation = |m: &EngineMessage| match m {
        EngineMessage::Assign { generation, checks } => (*generation, checks.len()),
        other => panic!("expected Assign, got {other:?}"),
    };
    let config = format!(
        "{}\n[[services]]\nname = \"load15\"\nhost = \"{HOST}\"\ncheck = \"load!15!30\"\n",
        agent_config("")
    );
    std::fs::write(e.config_path(), config).expect("rewrite the config");
    e.daemon().signal(libc::SIGHUP);
    let (gen2, n) = generation(&c.recv());
    assert_eq!(n, 3, "the reloaded assignment lists the new service");
    let a = e.agent_json(HOST);
    assert_eq!(a["checks"], 3, "{a}");
    std::fs::write(e.config_path(), agent_config("")).expect("rewrite the config");
    e.daemon().signal(libc::SIGHUP);
    let (gen3, n) = generation(&c.recv());
    assert_eq!(n, 2);
    assert!(gen3 > gen2, "generation increases: {gen2} then {gen3}");

    // A certificate for a host the config does not know: welcomed under
    // that name, nothing assigned.
    let mut other = e.mtls(&e.identity("db9"));
    let (host, _, checks) = other.hello();
    assert_eq!(host, "db9");
    assert!(checks.is_empty(), "{checks:?}");
}

#[test]
fn agent_hub_refuses_certificate_of_another_ca() {
    let e = HubEngine::start("hub-foreign", &agent_config(""));
    let (code, why) = refused_session(&e, &Identity::from_foreign_ca(HOST, "Throwaway test CA"));
    assert_eq!(
        code, None,
        "refused in the handshake, not by a frame: {why}"
    );
    let line = e.wait_log_line(&["handshake failed"]);
    assert!(
        line.contains("UnknownIssuer") || line.to_lowercase().contains("unknown issuer"),
        "{line}"
    );
    // A CA that copies the engine CA's name is no better.
    let before = e.log().matches("handshake failed").count();
    let (code, why) = refused_session(&e, &Identity::from_foreign_ca(HOST, "Vedette agent CA"));
    assert_eq!(code, None, "{why}");
    wait_for(5, "a second handshake failure logged", || {
        (e.log().matches("handshake failed").count() > before).then_some(())
    });
    // Nobody got in, and the real CA still does.
    assert_eq!(e.agent_json(HOST)["connected"], false);
    e.mtls(&e.identity(HOST)).hello();
}

#[test]
fn agent_hub_revocation_at_connect_and_mid_session() {
    let mut e = HubEngine::start("hub-revoke", &agent_config(""));
    let id = e.identity(HOST);
    let mut live = e.mtls(&id);
    live.hello();

    e.revoke(HOST);
    let t = Instant::now();
    match live.recv_within(Duration::from_secs(3)) {
        Received::Msg(EngineMessage::Error { code, message }) => {
            assert_eq!(code, ErrorCode::Revoked, "{message}")
        }
        other => panic!("a live session must get Error{{revoked}} within 3 s, got {other:?}"),
    }
    live.expect_closed(Duration::from_secs(3).saturating_sub(t.elapsed()));
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    e.wait_log_line(&["refused", "revoked"]);

    let (code, why) = refused_session(&e, &id);
    assert!(
        matches!(code, None | Some(ErrorCode::Revoked)),
        "{code:?}: {why}"
    );
    wait_for(5, "two refusals for the revoked certificate logged", || {
        let n = e
            .log()
            .lines()
            .filter(|l| l.contains("refused") && l.contains("revoked"))
            .count();
        (n >= 2).then_some(())
    });

    // Still revoked after a restart, and refused from the first moment.
    e.kill_and_restart();
    let (code, why) = refused_session(&e, &id);
    assert!(
        matches!(code, None | Some(ErrorCode::Revoked)),
        "after restart: {code:?}: {why}"
    );
    e.wait_log_line(&["refused", "revoked"]);

    // Enrolled again (a new certificate): accepted.
    let mut again = e.mtls(&e.identity(HOST));
    assert_eq!(again.hello().0, HOST);
}

/// Results alternate between the two services; the output names the seq.
fn batch(seqs: impl IntoIterator<Item = u64>) -> Vec<WireResult> {
    seqs.into_iter()
        .map(|s| {
            let svc = if s % 2 == 0 { "load" } else { "ssh" };
            result(s, svc, 0, &format!("{svc} OK seq {s}"))
        })
        .collect()
}

/// Sends `first..=last` in batches of 25, checking each ack.
fn stream(c: &mut Conn, first: u64, last: u64) {
    let seqs: Vec<u64> = (first..=last).collect();
    for chunk in seqs.chunks(25) {
        let up_to = c.results(batch(chunk.iter().copied()));
        assert_eq!(up_to, *chunk.last().expect("chunk"), "ack of {chunk:?}");
    }
}

fn counters(e: &HubEngine) -> (u64, u64, u64) {
    let a = e.agent_json(HOST);
    let n = |k: &str| a[k].as_u64().unwrap_or_else(|| panic!("{k} in {a}"));
    (n("applied_seq"), n("applied"), n("duplicates"))
}

#[test]
fn agent_hub_applies_each_seq_once_across_reconnect_and_sigkill() {
    let mut e = HubEngine::start("hub-once", &agent_config(""));
    let id = e.identity(HOST);
    let mut c = e.mtls(&id);
    assert_eq!(c.hello().1, 0);
    stream(&mut c, 1, 100);
    assert_eq!(
        counters(&e),
        (100, 100, 0),
        "applied_seq, applied, duplicates"
    );
    assert_eq!(e.service("load")["output"], "load OK seq 100");
    assert_eq!(e.service("ssh")["output"], "ssh OK seq 99");
    c.send(&AgentMessage::Results {
        results: Vec::new(),
        spool_dropped: 7,
    });
    wait_for(5, "spool_dropped reported", || {
        (e.agent_json(HOST)["spool_dropped"] == 7).then_some(())
    });
    let a = e.agent_json(HOST);
    assert!(a["last_seen"].as_f64().is_some_and(|t| t > 1.0e9), "{a}");
    drop(c);
    wait_for(5, "connected false after the agent left", || {
        (e.agent_json(HOST)["connected"] == false).then_some(())
    });

    // A replay overlapping what was applied.
    let mut c = e.mtls(&id);
    assert_eq!(c.hello().1, 100, "Welcome.applied_seq after reconnect");
    stream(&mut c, 50, 150);
    assert_eq!(counters(&e), (150, 150, 51));
    assert_eq!(e.service("load")["output"], "load OK seq 150");

    // Acknowledged means on disk: SIGKILL right after an ack.
    stream(&mut c, 151, 160);
    e.kill_and_restart();
    drop(c);
    let mut c = e.mtls(&id);
    assert_eq!(c.hello().1, 160, "Welcome.applied_seq after SIGKILL");
    assert_eq!(counters(&e), (160, 160, 51), "counters survive SIGKILL");
    stream(&mut c, 155, 165);
    assert_eq!(counters(&e), (165, 165, 57));
    assert_eq!(e.service("ssh")["output"], "ssh OK seq 165");
}

#[test]
fn agent_hub_refuses_other_host_and_unassigned_service() {
    let e = HubEngine::start("hub-claims", &agent_config(""));
    let id = e.identity(HOST);

    let mut c = e.mtls(&id);
    c.hello();
    let mut claim = result(2, "load", 2, "LOAD CRITICAL from elsewhere");
    claim.host = Some("other".into());
    c.send(&AgentMessage::Results {
        results: vec![result(1, "load", 0, "LOAD OK mine"), claim],
        spool_dropped: 0,
    });
    let message = c.expect_error(ErrorCode::WrongHost);
    assert!(message.contains("other"), "{message}");
    e.wait_log_line(&["refused", "other"]);
    assert_eq!(counters(&e), (0, 0, 0), "nothing of the batch applied");
    assert_eq!(e.service("load")["output"], "");
    drop(c);

    let mut c = e.mtls(&id);
    c.hello();
    c.send(&AgentMessage::Results {
        results: vec![result(1, "nope", 0, "OK from a service nobody assigned")],
        spool_dropped: 0,
    });
    c.expect_error(ErrorCode::UnknownService);
    let (_, applied, _) = counters(&e);
    assert_eq!(applied, 0, "an unassigned service's result is not applied");
    drop(c);

    // Naming its own host is allowed.
    let mut c = e.mtls(&id);
    c.hello();
    let mut own = result(2, "load", 0, "LOAD OK named");
    own.host = Some(HOST.into());
    assert_eq!(c.results(vec![own]), 2);
    assert_eq!(counters(&e).1, 1);
    assert_eq!(e.service("load")["output"], "LOAD OK named");
}

/// A result replayed from the agent's spool keeps the time it ran at;
/// one stamped ahead of the engine's clock counts as now.
#[test]
fn agent_hub_results_keep_the_time_they_ran_at() {
    let e = HubEngine::start("hub-times", &agent_config(""));
    let mut c = e.mtls(&e.identity(HOST));
    c.hello();
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs_f64()
    };
    // Ran after the engine started, before this moment: kept as sent.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let ran = now() - 1.0;
    let mut old = result(1, "load", 2, "LOAD CRITICAL while disconnected");
    old.at = ran;
    assert_eq!(c.results(vec![old]), 1);
    let s = e.service("load");
    let last = s["last_check"].as_f64().expect("last_check");
    assert!(
        (last - ran).abs() < 0.01,
        "last_check {last}, ran at {ran}: {s}"
    );

    let mut ahead = result(2, "load", 0, "LOAD OK from a fast clock");
    ahead.at = now() + 3600.0;
    assert_eq!(c.results(vec![ahead]), 2);
    let s = e.service("load");
    let last = s["last_check"].as_f64().expect("last_check");
    assert!(last <= now() + 0.01, "a future time is clamped to now: {s}");
}

#[test]
fn agent_hub_refuses_malformed_oversized_and_out_of_order_frames() {
    let e = HubEngine::start("hub-hostile", &agent_config(""));
    let id = e.identity(HOST);
    let text = |s: &str| Message::text(s.to_string());

    // Enrolment connection: garbage, and a hello without a certificate.
    let mut c = e.connect(None).expect("enrolment connection");
    c.send_raw(text("enrol me")).expect("send");
    c.expect_error(ErrorCode::Malformed);
    c.expect_closed(Duration::from_secs(3));
    let mut c = e.connect(None).expect("enrolment connection");
    c.send(&hello_msg());
    c.expect_error(ErrorCode::OutOfOrder);
    c.expect_closed(Duration::from_secs(3));

    // Session: results before hello, then hello twice.
    let mut c = e.mtls(&id);
    c.send(&AgentMessage::Results {
        results: batch([1]),
        spool_dropped: 0,
    });
    c.expect_error(ErrorCode::OutOfOrder);
    assert_eq!(c.hello().0, HOST, "the session goes on after the refusal");
    c.send(&hello_msg());
    c.expect_error(ErrorCode::OutOfOrder);

    let bad = [
        ("not JSON", text("{{{ not json")),
        (
            "unknown type",
            text(r#"{"type":"launch","what":"missiles"}"#),
        ),
        (
            "status 9",
            text(
                r#"{"type":"results","spool_dropped":0,"results":[{"seq":1,"service":"load","status":9,"output":"","at":1}]}"#,
            ),
        ),
        ("binary frame", Message::binary(b"\x00\x01binary".to_vec())),
        (
            "seqs not increasing within a batch (wire::decode_agent: malformed)",
            text(&vedette_proto::wire::encode(&AgentMessage::Results {
                results: batch([5, 3]),
                spool_dropped: 0,
            })),
        ),
    ];
    for (what, frame) in bad {
        c.send_raw(frame).expect(what);
        match c.recv() {
            EngineMessage::Error { code, message } => {
                assert_eq!(code, ErrorCode::Malformed, "{what}: {message}")
            }
            other => panic!("{what}: expected Error{{malformed}}, got {other:?}"),
        }
    }
    assert_eq!(counters(&e).1, 0, "nothing applied from bad frames");

    // Across batches of one session, a seq that does not increase.
    assert_eq!(c.results(batch([10])), 10);
    c.send(&AgentMessage::Results {
        results: batch([7]),
        spool_dropped: 0,
    });
    c.expect_error(ErrorCode::OutOfOrder);
    assert_eq!(c.results(batch([11])), 11, "the session still works");

    // Larger than the limit: refused, and the connection ends.
    let mut huge = String::from(r#"{"type":"pong","nonce":1}"#);
    huge.push_str(&" ".repeat(MAX_FRAME_BYTES + 1 - huge.len()));
    // The hub may stop reading (and close) before all of it is written.
    let sent = c.send_raw(Message::text(huge));
    eprintln!("sending the huge frame: {sent:?}");
    c.expect_error(ErrorCode::TooLarge);
    c.expect_closed(Duration::from_secs(3));

    // A protocol version the engine does not speak.
    let mut c = e.mtls(&id);
    c.send(&AgentMessage::Hello {
        version: PROTOCOL_VERSION + 1,
        agent_version: "future".into(),
        spool_dropped: 0,
    });
    c.expect_error(ErrorCode::Version);
    c.expect_closed(Duration::from_secs(3));

    // The engine is fine: API up, a fresh session works.
    e.daemon().get("/v1/status");
    let mut c = e.mtls(&id);
    assert_eq!(c.hello().1, 11);
    assert_eq!(c.results(batch([12])), 12);
    assert_eq!(counters(&e), (12, 3, 0));
}

#[test]
fn agent_hub_silent_agent_host_goes_down() {
    let e = HubEngine::start("hub-silent", &agent_config(r#"agent_silence = "2s""#));
    let id = e.identity(HOST);
    let mut c = e.mtls(&id);
    c.hello();
    assert_eq!(c.results(batch([1])), 1);
    wait_for(5, "host UP while the agent reports", || {
        (e.host()["state"] == "UP").then_some(())
    });
    drop(c);
    let t = Instant::now();
    let h = wait_for(10, "host DOWN after 2 s of silence", || {
        let h = e.host();
        (h["state"] == "DOWN").then_some(h)
    });
    assert!(
        t.elapsed() >= Duration::from_millis(1500),
        "DOWN after {:?}, before agent_silence",
        t.elapsed()
    );
    let out = h["output"].as_str().unwrap_or_default();
    assert!(out.contains("silent"), "{h}");

    // The agent comes back: UP again.
    let mut c = e.mtls(&id);
    c.hello();
    wait_for(5, "host UP again", || {
        (e.host()["state"] == "UP").then_some(())
    });
}

#[test]
fn agent_hub_silent_agent_services_go_unknown() {
    let e = HubEngine::start(
        "hub-silent-unknown",
        &agent_config("agent_silence = \"2s\"\nagent_silence_state = \"unknown\""),
    );
    let mut c = e.mtls(&e.identity(HOST));
    c.hello();
    assert_eq!(c.results(batch([1, 2])), 2);
    wait_for(5, "host UP while the agent reports", || {
        (e.host()["state"] == "UP").then_some(())
    });
    drop(c);
    for svc in ["load", "ssh"] {
        let s = wait_for(10, "agent service UNKNOWN after silence", || {
            let s = e.service(svc);
            (s["state"] == "UNKNOWN").then_some(s)
        });
        assert!(
            s["output"].as_str().unwrap_or_default().contains("silent"),
            "{s}"
        );
    }
    let h = e.host();
    assert_ne!(h["state"], "DOWN", "the host is left alone: {h}");
}

#[test]
fn agent_hub_connection_cut_mid_frame_applies_nothing() {
    let e = HubEngine::start("hub-cut", &agent_config(""));
    let id = e.identity(HOST);
    let mut c = e.mtls(&id);
    c.hello();
    assert_eq!(c.results(batch(1..=10)), 10);
    let cut = AgentMessage::Results {
        results: batch(11..=40),
        spool_dropped: 0,
    };
    c.send_cut(&vedette_proto::wire::encode(&cut));
    wait_for(5, "the cut session ends", || {
        (e.agent_json(HOST)["connected"] == false).then_some(())
    });
    assert_eq!(
        counters(&e),
        (10, 10, 0),
        "nothing of the cut frame applied"
    );

    // The agent replays what was not acknowledged: applied once.
    let mut c = e.mtls(&id);
    assert_eq!(c.hello().1, 10);
    stream(&mut c, 11, 40);
    assert_eq!(counters(&e), (40, 40, 0));
}

// The hub admits 256 TLS handshakes at once; connections that never send
// a ClientHello must not hold those slots and keep agents out.
#[test]
fn agent_hub_idle_connections_do_not_lock_out_agents() {
    let e = HubEngine::start("hub-idle", &agent_config(""));
    let id = e.identity(HOST);
    let idle: Vec<std::net::TcpStream> = (0..300)
        .map(|_| std::net::TcpStream::connect(e.agent).expect("idle TCP connection"))
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    let mut c = e.mtls(&id);
    c.hello();
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "with {} idle connections open an agent needed {:?} to get in",
        idle.len(),
        t.elapsed()
    );
}
