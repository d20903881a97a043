//! A raw agent for the hub tests: TCP, then TLS (tokio-rustls, with or
//! without a client certificate), then a WebSocket on `wire::PATH`, then
//! `wire` messages or any frame at all, so a test can be as hostile as it
//! likes. Plus the certificates such an agent shows and an engine with its
//! agent endpoint on loopback to talk to.
//!
//! The API is blocking (each connection drives its own current-thread
//! runtime), like the rest of the integration tests.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;
use vedette_proto::wire::{
    self, AgentMessage, AssignedCheck, EngineMessage, ErrorCode, WireResult, PROTOCOL_VERSION,
};

use super::{free_port, vedette, Daemon, TempDir};

/// How long a test waits for one frame from the hub before failing.
pub const FRAME_WAIT: Duration = Duration::from_secs(5);

/// An agent's certificate and private key, PEM.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The certificate.
    pub cert_pem: String,
    /// Its key.
    pub key_pem: String,
}

/// A fresh key and a PEM CSR for it asking for `name`.
pub fn key_and_csr(name: &str) -> (KeyPair, String) {
    let key = KeyPair::generate().expect("key");
    let csr = CertificateParams::new(vec![name.to_string()])
        .expect("params")
        .serialize_request(&key)
        .expect("csr")
        .pem()
        .expect("csr pem");
    (key, csr)
}

impl Identity {
    /// A certificate for `host` signed through the engine library by the
    /// CA in `state_dir` (recorded in its registry, like an enrolment).
    pub fn from_engine_ca(state_dir: &Path, host: &str) -> Identity {
        let (key, csr) = key_and_csr(host);
        let cert_pem = vedette::hub::ca::Ca::open(state_dir)
            .expect("open the engine CA")
            .sign_csr(&csr, host)
            .expect("sign the CSR");
        Identity {
            cert_pem,
            key_pem: key.serialize_pem(),
        }
    }

    /// A client certificate for `host` from a throwaway CA whose subject
    /// is `ca_name`; the engine never saw that CA.
    pub fn from_foreign_ca(host: &str, ca_name: &str) -> Identity {
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca.distinguished_name.push(DnType::CommonName, ca_name);
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let issuer = Issuer::new(ca, ca_key);
        let key = KeyPair::generate().expect("key");
        let mut leaf = CertificateParams::new(vec![host.to_string()]).expect("params");
        leaf.distinguished_name.push(DnType::CommonName, host);
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let cert = leaf.signed_by(&key, &issuer).expect("sign");
        Identity {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

/// What waiting for a frame gave.
#[derive(Debug)]
pub enum Received {
    /// A message from the engine.
    Msg(EngineMessage),
    /// The connection ended (close frame, EOF, reset); the reason.
    Closed(String),
    /// Nothing within the wait.
    Timeout,
}

type Ws = WebSocketStream<TlsStream<TcpStream>>;

/// One connection to the hub.
pub struct Conn {
    rt: tokio::runtime::Runtime,
    ws: Ws,
    /// The certificates the hub presented, its own first.
    pub server_chain: Vec<CertificateDer<'static>>,
}

impl Conn {
    /// Connects to the hub at `addr` trusting only `ca_pem`, showing `id`
    /// as client certificate if given. `Err` says why TLS or the WebSocket
    /// upgrade failed (with TLS 1.3 a refused client certificate shows in
    /// the upgrade, the first read).
    pub fn connect(addr: SocketAddr, ca_pem: &str, id: Option<&Identity>) -> Result<Conn, String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let mut roots = RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).expect("CA PEM"))
            .expect("CA into the root store");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_root_certificates(roots);
        let config = match id {
            None => builder.with_no_client_auth(),
            Some(id) => builder
                .with_client_auth_cert(
                    vec![CertificateDer::from_pem_slice(id.cert_pem.as_bytes()).expect("cert")],
                    PrivateKeyDer::from_pem_slice(id.key_pem.as_bytes()).expect("key"),
                )
                .expect("client auth"),
        };
        let connector = TlsConnector::from(Arc::new(config));
        let server = ServerName::IpAddress(addr.ip().into());
        let url = format!("wss://{addr}{}", wire::PATH);
        let (ws, server_chain) = rt.block_on(async move {
            let step = async {
                let tcp = TcpStream::connect(addr)
                    .await
                    .map_err(|e| format!("TCP connect: {e}"))?;
                let tls = connector
                    .connect(server, tcp)
                    .await
                    .map_err(|e| format!("TLS handshake: {e}"))?;
                let chain = tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .map(|c| c.iter().map(|d| d.clone().into_owned()).collect())
                    .unwrap_or_default();
                // Receive anything, so the hub's limit is what is tested.
                let config = WebSocketConfig::default()
                    .max_message_size(None)
                    .max_frame_size(None);
                let (ws, _) = tokio_tungstenite::client_async_with_config(url, tls, Some(config))
                    .await
                    .map_err(|e| format!("WebSocket upgrade: {e}"))?;
                Ok::<_, String>((ws, chain))
            };
            tokio::time::timeout(Duration::from_secs(10), step)
                .await
                .map_err(|_| "connect timed out".to_string())?
        })?;
        Ok(Conn {
            rt,
            ws,
            server_chain,
        })
    }

    /// Sends a frame as it is; `Err` when the connection is gone.
    pub fn send_raw(&mut self, frame: Message) -> Result<(), String> {
        let ws = &mut self.ws;
        self.rt.block_on(async {
            tokio::time::timeout(FRAME_WAIT, ws.send(frame))
                .await
                .map_err(|_| "send timed out".to_string())?
                .map_err(|e| e.to_string())
        })
    }

    /// Writes the first half of `text` as a text frame (hand-made, masked
    /// with a zero key), then shuts the connection: a frame cut mid-way.
    pub fn send_cut(mut self, text: &str) {
        let len = u64::try_from(text.len()).expect("length");
        let mut frame = vec![0x81u8];
        if len < 126 {
            frame.push(0x80 | u8::try_from(len).expect("short length"));
        } else if let Ok(n) = u16::try_from(len) {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&n.to_be_bytes());
        } else {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&len.to_be_bytes());
        }
        frame.extend_from_slice(&[0; 4]);
        frame.extend_from_slice(&text.as_bytes()[..text.len() / 2]);
        let tls = self.ws.get_mut();
        self.rt.block_on(async {
            tls.write_all(&frame).await.expect("write half a frame");
            tls.flush().await.expect("flush");
            let _ = tls.shutdown().await;
        });
    }

    /// Sends a message as a text frame.
    pub fn send(&mut self, msg: &AgentMessage) {
        self.send_raw(Message::text(wire::encode(msg)))
            .expect("send a frame to the hub");
    }

    /// The next message within `wait`; pings are answered and skipped.
    pub fn recv_within(&mut self, wait: Duration) -> Received {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let ws = &mut self.ws;
            let got = self
                .rt
                .block_on(async { tokio::time::timeout(left, ws.next()).await });
            let frame = match got {
                Err(_) => return Received::Timeout,
                Ok(None) => return Received::Closed("end of stream".into()),
                Ok(Some(Err(e))) => return Received::Closed(e.to_string()),
                Ok(Some(Ok(f))) => f,
            };
            let text = match frame {
                Message::Text(t) => t,
                Message::Close(c) => return Received::Closed(format!("close frame {c:?}")),
                Message::Binary(b) => panic!("the hub sent a binary frame of {} bytes", b.len()),
                _ => continue,
            };
            let msg = wire::decode_engine(text.as_bytes())
                .unwrap_or_else(|e| panic!("the hub sent an undecodable frame ({e}): {text}"));
            if let EngineMessage::Ping { nonce } = msg {
                let _ = self.send_raw(Message::text(wire::encode(&AgentMessage::Pong { nonce })));
                continue;
            }
            return Received::Msg(msg);
        }
    }

    /// The next message; panics on a timeout or a closed connection.
    pub fn recv(&mut self) -> EngineMessage {
        match self.recv_within(FRAME_WAIT) {
            Received::Msg(m) => m,
            other => panic!("expected a message from the hub, got {other:?}"),
        }
    }

    /// Expects an `Error` frame with `code`; returns its message.
    pub fn expect_error(&mut self, code: ErrorCode) -> String {
        match self.recv() {
            EngineMessage::Error { code: got, message } => {
                assert_eq!(got, code, "error code (message: {message})");
                message
            }
            other => panic!("expected Error{{{code:?}}}, got {other:?}"),
        }
    }

    /// Expects the hub to end the connection within `wait`.
    pub fn expect_closed(&mut self, wait: Duration) {
        match self.recv_within(wait) {
            Received::Closed(_) => {}
            other => panic!("expected the hub to close the connection, got {other:?}"),
        }
    }

    /// Says hello; returns the welcome's host and applied seq, and the
    /// assignment's checks.
    pub fn hello(&mut self) -> (String, u64, Vec<AssignedCheck>) {
        self.send(&hello_msg());
        let (host, applied_seq) = match self.recv() {
            EngineMessage::Welcome { host, applied_seq } => (host, applied_seq),
            other => panic!("expected Welcome, got {other:?}"),
        };
        match self.recv() {
            EngineMessage::Assign { checks, .. } => (host, applied_seq, checks),
            other => panic!("expected Assign after Welcome, got {other:?}"),
        }
    }

    /// Sends a batch and returns the `Ack`'s `up_to`.
    pub fn results(&mut self, results: Vec<WireResult>) -> u64 {
        self.send(&AgentMessage::Results {
            results,
            spool_dropped: 0,
        });
        match self.recv() {
            EngineMessage::Ack { up_to } => up_to,
            other => panic!("expected Ack, got {other:?}"),
        }
    }
}

/// A `Hello` of the current protocol version.
pub fn hello_msg() -> AgentMessage {
    AgentMessage::Hello {
        version: PROTOCOL_VERSION,
        agent_version: "hubtest-0.1".into(),
        spool_dropped: 0,
    }
}

/// A result for `service`, finished now.
pub fn result(seq: u64, service: &str, status: u8, output: &str) -> WireResult {
    let at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    WireResult {
        seq,
        service: service.to_string(),
        host: None,
        status,
        output: output.to_string(),
        perfdata: String::new(),
        long_output: String::new(),
        at,
        execution_ms: 1,
    }
}

/// The agent host every hub test configures, and its two services.
pub const HOST: &str = "web1";

/// An engine config with `HOST` checked by its agent (no host check of its
/// own, so its state follows the agent) running `load` and `ssh`; `engine`
/// is put under `[engine]`.
pub fn agent_config(engine: &str) -> String {
    format!(
        r#"[engine]
{engine}

[commands.load]
line = "check_load -w $ARG1$ -c $ARG2$"

[commands.tcp]
line = "/usr/lib/nagios/plugins/check_tcp -H $HOSTADDRESS$ -p $ARG1$"

[hosts.{HOST}]
address = "127.0.0.1"
agent = true

[[services]]
name = "load"
host = "{HOST}"
check = "load!5!10"
max_check_attempts = 1

[[services]]
name = "ssh"
host = "{HOST}"
check = "tcp!22"
max_check_attempts = 1
"#
    )
}

/// `vedette run` with its agent endpoint on a loopback port, on a config
/// and state directory in a temporary directory.
pub struct HubEngine {
    // Declared first: the daemon stops before its directory goes.
    daemon: Option<Daemon>,
    /// The agent endpoint.
    pub agent: SocketAddr,
    config: PathBuf,
    dir: TempDir,
}

impl HubEngine {
    /// Starts the engine on `config_text` and waits for its API.
    pub fn start(tag: &str, config_text: &str) -> HubEngine {
        let dir = TempDir::new(tag);
        let config = dir.path().join("vedette.toml");
        std::fs::write(&config, config_text).expect("write the config");
        let mut e = HubEngine {
            daemon: None,
            agent: "127.0.0.1:1".parse().expect("addr"),
            config,
            dir,
        };
        e.launch();
        e
    }

    fn launch(&mut self) {
        self.agent = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let listen = self.agent.to_string();
        let daemon = Daemon::start_with(
            &self.config,
            self.dir.path(),
            free_port(),
            &["--agent-listen", &listen],
        );
        self.daemon = Some(daemon);
        // The API answers after the hub is bound; the CA exists by then.
        assert!(
            self.ca_path().exists(),
            "no agent CA at {} once the engine is up:\n{}",
            self.ca_path().display(),
            self.log()
        );
    }

    /// The running daemon.
    pub fn daemon(&self) -> &Daemon {
        self.daemon.as_ref().expect("the engine is running")
    }

    /// The config file (rewrite it and SIGHUP to reload).
    pub fn config_path(&self) -> &Path {
        &self.config
    }

    fn ca_path(&self) -> PathBuf {
        self.dir.path().join("agents/ca.crt")
    }

    /// The engine CA's certificate, PEM.
    pub fn ca_pem(&self) -> String {
        std::fs::read_to_string(self.ca_path()).expect("read agents/ca.crt")
    }

    /// The engine's stderr so far.
    pub fn log(&self) -> String {
        self.daemon
            .as_ref()
            .map(Daemon::log_text)
            .unwrap_or_default()
    }

    /// Waits up to 5 s for a log line containing every one of `words`.
    pub fn wait_log_line(&self, words: &[&str]) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let log = self.log();
            if let Some(l) = log.lines().find(|l| words.iter().all(|w| l.contains(w))) {
                return l.to_string();
            }
            assert!(
                Instant::now() < deadline,
                "no engine log line contains all of {words:?}:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILLs the engine and starts it again on the same state
    /// directory (on new ports).
    pub fn kill_and_restart(&mut self) {
        if let Some(d) = self.daemon.take() {
            d.signal(libc::SIGKILL);
            drop(d);
        }
        self.launch();
    }

    /// A token from `vedette agent token` (its last line).
    pub fn token(&self, host: &str, ttl: &str) -> String {
        let state = self.dir.path().to_str().expect("utf-8 temp path");
        let out = vedette(&[
            "agent",
            "token",
            "--host",
            host,
            "--ttl",
            ttl,
            "--state-dir",
            state,
        ]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "vedette agent token failed: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
            .lines()
            .last()
            .expect("token output has lines")
            .trim()
            .to_string()
    }

    /// `vedette agent revoke HOST`.
    pub fn revoke(&self, host: &str) {
        let state = self.dir.path().to_str().expect("utf-8 temp path");
        let out = vedette(&["agent", "revoke", host, "--state-dir", state]);
        assert!(
            out.status.success(),
            "vedette agent revoke failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A certificate for `host` from this engine's CA.
    pub fn identity(&self, host: &str) -> Identity {
        Identity::from_engine_ca(self.dir.path(), host)
    }

    /// Connects trusting the engine's CA.
    pub fn connect(&self, id: Option<&Identity>) -> Result<Conn, String> {
        Conn::connect(self.agent, &self.ca_pem(), id)
    }

    /// An mTLS connection showing `id` (no hello sent yet).
    pub fn mtls(&self, id: &Identity) -> Conn {
        self.connect(Some(id))
            .unwrap_or_else(|why| panic!("mTLS connect: {why}\n{}", self.log()))
    }

    /// `GET /v1/agents/{host}`.
    pub fn agent_json(&self, host: &str) -> serde_json::Value {
        self.daemon().get(&format!("/v1/agents/{host}"))
    }

    /// `GET /v1/services?host=HOST`, the service named `name`.
    pub fn service(&self, name: &str) -> serde_json::Value {
        let all = self.daemon().get(&format!("/v1/services?host={HOST}"));
        all.as_array()
            .expect("services array")
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("no service {name} on {HOST}: {all}"))
            .clone()
    }

    /// `GET /v1/hosts/HOST`.
    pub fn host(&self) -> serde_json::Value {
        self.daemon().get(&format!("/v1/hosts/{HOST}"))
    }
}
