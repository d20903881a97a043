//! The agent's session side against a deliberately small fake engine
//! (rustls + tokio-tungstenite in the test), for what the real engine
//! cannot be made to do on cue: refuse the agent's certificate at the
//! handshake, revoke mid-stream at an exact point, and record every
//! sequence number it was sent, duplicates included.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio_tungstenite::tungstenite::Message;
use vedette_proto::wire::{self, AgentMessage, AssignedCheck, EngineMessage, ErrorCode};

use crate::support::{free_port, start_agent, wait_for, TempDir};

struct Ca {
    pem: String,
    der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

fn ca(name: &str) -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let cert = params.self_signed(&key).unwrap();
    Ca {
        pem: cert.pem(),
        der: cert.der().clone(),
        issuer: Issuer::new(params, key),
    }
}

/// A certificate for `names` from `ca`: (PEM cert, DER cert, key).
fn issue(ca: &Ca, names: &[&str]) -> (String, CertificateDer<'static>, KeyPair) {
    let key = KeyPair::generate().unwrap();
    let params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    let cert = params.signed_by(&key, &ca.issuer).unwrap();
    (cert.pem(), cert.der().clone(), key)
}

/// What the fake engine saw and how it behaves.
#[derive(Default)]
struct Log {
    /// Every sequence number received, in order, duplicates included.
    received: Vec<u64>,
    /// Highest applied.
    applied_seq: u64,
    /// Results per `Results` frame, in order.
    batches: Vec<usize>,
}

/// The fake engine's thread; dropping it stops the runtime, which closes
/// every connection.
struct Fake {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Fake {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// How the fake engine misbehaves.
#[derive(Clone, Copy, Default)]
struct Behaviour {
    /// Send `Error{revoked}` after this many results.
    revoke_after: Option<usize>,
    /// Send `Error{unknown_service}` before every `Ack`, as the engine does
    /// for results of services a reload removed.
    unknown_service: bool,
}

/// Serves on `port`: server certificate from `server_ca`, clients verified
/// against `client_ca`, misbehaving as `how` says.
fn fake_engine(
    port: u16,
    server_ca: &Ca,
    client_ca: &Ca,
    log: Arc<Mutex<Log>>,
    how: Behaviour,
) -> Fake {
    let (_, hub_der, hub_key) = issue(server_ca, &["localhost", "127.0.0.1"]);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    roots.add(client_ca.der.clone()).unwrap();
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .unwrap();
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![hub_der, server_ca.der.clone()],
            PrivateKeyDer::Pkcs8(hub_key.serialize_der().into()),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let std_listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    std_listener.set_nonblocking(true).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serve = async move {
        let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            let log = log.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut ws) = tokio_tungstenite::accept_async(tls).await else {
                    return;
                };
                let send = |m: &EngineMessage| Message::text(wire::encode(m));
                while let Some(Ok(Message::Text(text))) = ws.next().await {
                    let msg = wire::decode_agent(text.as_bytes()).unwrap();
                    let reply = match msg {
                        AgentMessage::Hello { .. } => {
                            let applied_seq = log.lock().unwrap().applied_seq;
                            let welcome = EngineMessage::Welcome {
                                host: "fake".into(),
                                applied_seq,
                            };
                            let _ = ws.send(send(&welcome)).await;
                            EngineMessage::Assign {
                                generation: 1,
                                checks: vec![AssignedCheck {
                                    service: "tick".into(),
                                    command: "echo OK tick".into(),
                                    interval_s: 1.0,
                                    retry_interval_s: 1.0,
                                    max_attempts: 1,
                                    timeout_s: 10.0,
                                }],
                            }
                        }
                        AgentMessage::Results { results, .. } => {
                            if how.unknown_service {
                                let warning = EngineMessage::Error {
                                    code: ErrorCode::UnknownService,
                                    message: "1 result(s) for services not assigned were dropped"
                                        .into(),
                                };
                                let _ = ws.send(send(&warning)).await;
                            }
                            let mut l = log.lock().unwrap();
                            l.batches.push(results.len());
                            for r in &results {
                                l.received.push(r.seq);
                                l.applied_seq = l.applied_seq.max(r.seq);
                            }
                            if how.revoke_after.is_some_and(|n| l.received.len() >= n) {
                                EngineMessage::Error {
                                    code: ErrorCode::Revoked,
                                    message: "certificate revoked".into(),
                                }
                            } else {
                                EngineMessage::Ack {
                                    up_to: l.applied_seq,
                                }
                            }
                        }
                        _ => continue,
                    };
                    let _ = ws.send(send(&reply)).await;
                }
            });
        }
    };
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            tokio::select! {
                () = serve => {}
                _ = stopped => {}
            }
        });
    });
    Fake {
        stop: Some(stop),
        thread: Some(thread),
    }
}

/// An agent state directory holding a certificate from `ca`.
fn provision(dir: &TempDir, ca: &Ca, engine_ca: &Ca) -> std::path::PathBuf {
    let state = dir.join("agent");
    std::fs::create_dir_all(&state).unwrap();
    let (cert, _, key) = issue(ca, &["fake"]);
    std::fs::write(state.join("agent.key"), key.serialize_pem()).unwrap();
    std::fs::write(state.join("agent.crt"), cert).unwrap();
    std::fs::write(state.join("ca.crt"), &engine_ca.pem).unwrap();
    state
}

#[test]
fn replays_in_order_after_the_engine_went_away() {
    let dir = TempDir::new("fake-replay");
    let engine_ca = ca("engine");
    let state = provision(&dir, &engine_ca, &engine_ca);
    let port = free_port();
    let log = Arc::new(Mutex::new(Log::default()));
    let fake = fake_engine(
        port,
        &engine_ca,
        &engine_ca,
        log.clone(),
        Behaviour::default(),
    );
    let mut agent = start_agent(port, &state, &[]);
    let got = wait_for(Duration::from_secs(15), || {
        agent.assert_running();
        (log.lock().unwrap().applied_seq >= 3).then_some(())
    });
    assert!(got.is_some(), "{}", agent.log_text());
    drop(fake);
    std::thread::sleep(Duration::from_secs(3));
    let before = log.lock().unwrap().applied_seq;
    let fake = fake_engine(
        port,
        &engine_ca,
        &engine_ca,
        log.clone(),
        Behaviour::default(),
    );
    let got = wait_for(Duration::from_secs(15), || {
        agent.assert_running();
        (log.lock().unwrap().applied_seq >= before + 4).then_some(())
    });
    assert!(got.is_some(), "{}", agent.log_text());
    agent.signal(libc::SIGTERM);
    assert!(agent.wait_exit(Duration::from_secs(10)).unwrap().success());
    drop(fake);
    let received = log.lock().unwrap().received.clone();
    // The results of the outage came, none lost, none sent twice (what
    // was applied before the outage was forgotten at Welcome).
    let want: Vec<u64> = (1..=*received.last().unwrap()).collect();
    assert_eq!(received, want, "{}", agent.log_text());
}

#[test]
fn revocation_mid_stream_exits_2() {
    let dir = TempDir::new("fake-revoke");
    let engine_ca = ca("engine");
    let state = provision(&dir, &engine_ca, &engine_ca);
    let port = free_port();
    let log = Arc::new(Mutex::new(Log::default()));
    let _fake = fake_engine(
        port,
        &engine_ca,
        &engine_ca,
        log,
        Behaviour {
            revoke_after: Some(2),
            ..Behaviour::default()
        },
    );
    let mut agent = start_agent(port, &state, &[]);
    let status = agent
        .wait_exit(Duration::from_secs(15))
        .unwrap_or_else(|| panic!("still running:\n{}", agent.log_text()));
    assert_eq!(status.code(), Some(2), "{}", agent.log_text());
    assert!(
        agent
            .log_text()
            .contains("refused by the engine: certificate revoked"),
        "{}",
        agent.log_text()
    );
}

#[test]
fn certificate_from_another_ca_exits_2() {
    let dir = TempDir::new("fake-otherca");
    let engine_ca = ca("engine");
    let other = ca("other");
    let state = provision(&dir, &other, &engine_ca);
    let port = free_port();
    let log = Arc::new(Mutex::new(Log::default()));
    let _fake = fake_engine(port, &engine_ca, &engine_ca, log, Behaviour::default());
    let mut agent = start_agent(port, &state, &[]);
    let status = agent
        .wait_exit(Duration::from_secs(15))
        .unwrap_or_else(|| panic!("still running:\n{}", agent.log_text()));
    assert_eq!(status.code(), Some(2), "{}", agent.log_text());
    assert!(agent.log_text().contains("refused"), "{}", agent.log_text());
}

#[test]
fn unknown_service_warnings_do_not_break_the_stream() {
    let dir = TempDir::new("fake-unknown");
    let engine_ca = ca("engine");
    let state = provision(&dir, &engine_ca, &engine_ca);
    let port = free_port();
    let log = Arc::new(Mutex::new(Log::default()));
    let how = Behaviour {
        unknown_service: true,
        ..Behaviour::default()
    };
    let _fake = fake_engine(port, &engine_ca, &engine_ca, log.clone(), how);
    let mut agent = start_agent(port, &state, &[]);
    let got = wait_for(Duration::from_secs(15), || {
        agent.assert_running();
        (log.lock().unwrap().applied_seq >= 4).then_some(())
    });
    assert!(got.is_some(), "{}", agent.log_text());
    let received = log.lock().unwrap().received.clone();
    assert_eq!(received, (1..=received.len() as u64).collect::<Vec<_>>());
    let text = agent.log_text();
    assert!(text.contains("Engine dropped results"), "{text}");
    assert!(!text.contains("Connection failed"), "{text}");
}

#[test]
fn restarted_without_engine_runs_the_last_assignment() {
    let dir = TempDir::new("fake-saved");
    let engine_ca = ca("engine");
    let state = provision(&dir, &engine_ca, &engine_ca);
    let port = free_port();
    let log = Arc::new(Mutex::new(Log::default()));
    let fake = fake_engine(
        port,
        &engine_ca,
        &engine_ca,
        log.clone(),
        Behaviour::default(),
    );
    let mut agent = start_agent(port, &state, &[]);
    let got = wait_for(Duration::from_secs(15), || {
        agent.assert_running();
        (log.lock().unwrap().applied_seq >= 2).then_some(())
    });
    assert!(got.is_some(), "{}", agent.log_text());
    agent.signal(libc::SIGTERM);
    assert!(agent.wait_exit(Duration::from_secs(10)).unwrap().success());
    drop(fake);
    // Engine down: the restarted agent checks anyway, into the spool.
    let mut agent = start_agent(port, &state, &[]);
    std::thread::sleep(Duration::from_secs(4));
    agent.assert_running();
    let seen = log.lock().unwrap().batches.len();
    let _fake = fake_engine(
        port,
        &engine_ca,
        &engine_ca,
        log.clone(),
        Behaviour::default(),
    );
    let first = wait_for(Duration::from_secs(15), || {
        log.lock().unwrap().batches.get(seen).copied()
    });
    assert!(
        first.is_some_and(|n| n >= 3),
        "first batch after reconnect: {first:?}\n{}",
        agent.log_text()
    );
    let received = log.lock().unwrap().received.clone();
    assert_eq!(received, (1..=received.len() as u64).collect::<Vec<_>>());
}
