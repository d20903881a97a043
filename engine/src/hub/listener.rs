//! The agent endpoint: a TLS listener (port 7661) on a runtime of its own,
//! so thousands of agent connections never slow the API, plus the two
//! background watches (revocations, silence).
//!
//! Each connection: TLS handshake (client certificate optional, verified
//! against the agent CA when shown), WebSocket upgrade on [`wire::PATH`],
//! then a session (certificate) or an enrolment (none).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use rustls::server::Acceptor;
use rustls::ServerConfig;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio_rustls::LazyConfigAcceptor;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use vedette_proto::wire;

use super::agents::Agents;
use super::assign::Assignments;
use super::ca::{Ca, CaError};
use super::ledger::{Ledger, LedgerError};
use super::registry::Registry;
use super::session::{self, Wire};
use super::tls::{self, TlsSetupError};
use super::tokens::TokenStore;
use super::{enrol, liveness};
use crate::engine::Engine;

/// TLS handshakes in progress at once (from the ClientHello on): a crowd
/// of agents reconnecting after an engine restart is admitted in waves
/// rather than starving established sessions of CPU. A connection holds no
/// slot until its ClientHello has arrived, so idle connections cannot keep
/// agents out.
const MAX_HANDSHAKES: usize = 256;

/// Time allowed for the ClientHello to arrive, for the rest of the TLS
/// handshake, and for the WebSocket upgrade, each.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// WebSocket read and write buffer per connection. tungstenite zeroes its
/// read chunk on every read: at 8 KiB that memset was a sixth of a busy
/// hub's CPU (perf, 10,000 agents); 4 KiB still holds a typical frame.
const AGENT_BUFFER: usize = 4 << 10;

/// How often the registry file is looked at for revocations.
const REVOCATION_POLL: Duration = Duration::from_millis(500);

/// Why the agent endpoint could not start.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// The CA or hub certificate.
    #[error(transparent)]
    Ca(#[from] CaError),
    /// The TLS configuration.
    #[error(transparent)]
    Tls(#[from] TlsSetupError),
    /// The ledger.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// Binding the port or starting the thread.
    #[error("agent endpoint {addr}: {source}")]
    Io {
        /// The listen address.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// What every connection task shares.
pub(super) struct HubContext {
    pub(super) agents: Arc<Agents>,
    pub(super) ca: Ca,
    pub(super) tokens: TokenStore,
    pub(super) assignments: watch::Receiver<Arc<Assignments>>,
    pub(super) stopping: watch::Receiver<bool>,
}

/// The running endpoint.
pub struct Hub {
    /// The agents, for the API.
    pub agents: Arc<Agents>,
    stop: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
}

impl Hub {
    /// Opens the CA, the hub certificate and the ledger in `state_dir`,
    /// binds `addr` and starts serving agents on a thread of its own.
    pub fn start(
        engine: Arc<Engine>,
        state_dir: &Path,
        addr: SocketAddr,
        names: &[String],
    ) -> Result<Hub, HubError> {
        let ca = Ca::open(state_dir)?;
        let mut all_names = names.to_vec();
        if let Some(h) = hostname() {
            all_names.push(h);
        }
        let identity = super::server::server_identity(&ca, &all_names)?;
        let tls_config = tls::server_config(&ca, &identity)?;
        let (ledger, counters) = Ledger::open(&super::agents_dir(state_dir))?;
        let io = |source| HubError::Io { addr, source };
        let std_listener = std::net::TcpListener::bind(addr).map_err(io)?;
        std_listener.set_nonblocking(true).map_err(io)?;
        let addr = std_listener.local_addr().map_err(io)?;
        let assignments = engine.assignments();
        let agents = Arc::new(Agents::new(engine, ledger, counters));
        agents.add_hosts(&assignments.borrow());
        let (stop, stopping) = watch::channel(false);
        let ctx = Arc::new(HubContext {
            agents: Arc::clone(&agents),
            ca,
            tokens: TokenStore::new(state_dir),
            assignments,
            stopping,
        });
        let registry = Registry::new(state_dir);
        // Revocations count from the first connection on.
        match registry.list() {
            Ok(certs) => {
                let (revoked, pairs) = revoked_set(certs);
                agents.set_revoked(revoked, &pairs);
            }
            Err(e) => tracing::error!(error = %e, "Cannot read the agent registry"),
        }
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name("agent-hub")
            .enable_all()
            .build()
            .map_err(io)?;
        let thread = std::thread::Builder::new()
            .name("agent-hub".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match TcpListener::from_std(std_listener) {
                        Ok(l) => l,
                        Err(e) => {
                            tracing::error!(error = %e, "Agent endpoint cannot listen");
                            return;
                        }
                    };
                    let watches = [
                        tokio::spawn(watch_revocations(Arc::clone(&ctx), registry)),
                        tokio::spawn(liveness::watch(Arc::clone(&ctx))),
                    ];
                    accept_loop(&ctx, &listener, tls_config).await;
                    for w in watches {
                        w.abort();
                    }
                });
                // Dropping the runtime ends the sessions still open.
            })
            .map_err(io)?;
        tracing::info!(%addr, "Agent endpoint listening");
        Ok(Hub {
            agents,
            stop,
            thread: Some(thread),
        })
    }

    /// Ends every session and stops the endpoint.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.send_replace(true);
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                tracing::error!("The agent endpoint thread panicked");
            }
        }
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.shutdown();
    }
}

async fn accept_loop(ctx: &Arc<HubContext>, listener: &TcpListener, tls: Arc<ServerConfig>) {
    let handshakes = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    let mut stopping = ctx.stopping.clone();
    loop {
        let (tcp, remote) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of descriptors and the like: back off, keep serving.
                    tracing::warn!(error = %e, "Agent endpoint cannot accept");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = stopping.changed() => break,
        };
        let ctx = Arc::clone(ctx);
        let tls = Arc::clone(&tls);
        let handshakes = Arc::clone(&handshakes);
        tokio::spawn(async move {
            if let Some((wire, peer)) = upgrade(tcp, remote, tls, &handshakes).await {
                match peer {
                    Some(peer) => session::run(ctx, wire, peer).await,
                    None => enrol::run(ctx, wire, remote).await,
                }
            }
        });
    }
}

type TlsWire = Wire<tokio_rustls::server::TlsStream<TcpStream>>;

/// TLS, then the WebSocket upgrade: the wire and the client certificate's
/// identity (`None`: no certificate, enrolment only).
async fn upgrade(
    tcp: TcpStream,
    remote: SocketAddr,
    config: Arc<ServerConfig>,
    handshakes: &Semaphore,
) -> Option<(TlsWire, Option<tls::PeerIdentity>)> {
    let _ = tcp.set_nodelay(true);
    let failed = |e: &dyn std::fmt::Display| {
        tracing::warn!(%remote, "Agent TLS handshake failed from {remote}: {e}");
    };
    let start = match tokio::time::timeout(
        HANDSHAKE_TIMEOUT,
        LazyConfigAcceptor::new(Acceptor::default(), tcp),
    )
    .await
    {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            failed(&e);
            return None;
        }
        Err(_) => {
            failed(&"no ClientHello in time");
            return None;
        }
    };
    let permit = handshakes.acquire().await.ok()?;
    let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, start.into_stream(config)).await {
        Ok(Ok(t)) => t,
        Ok(Err(e)) => {
            failed(&e);
            return None;
        }
        Err(_) => {
            failed(&"timed out");
            return None;
        }
    };
    drop(permit);
    let peer = match tls.get_ref().1.peer_certificates().and_then(|c| c.first()) {
        None => None,
        Some(cert) => match tls::peer_identity(cert) {
            Some(p) => Some(p),
            None => {
                tracing::warn!(%remote, "Agent connection refused from {remote}: its certificate names no valid host");
                return None;
            }
        },
    };
    // Small buffers: thousands of agents stay connected and mostly idle;
    // the 128 KiB defaults would cost a gigabyte per 10,000 of them.
    let config = WebSocketConfig::default()
        .read_buffer_size(AGENT_BUFFER)
        .write_buffer_size(AGENT_BUFFER)
        .max_message_size(Some(wire::MAX_FRAME_BYTES))
        .max_frame_size(Some(wire::MAX_FRAME_BYTES));
    let upgrade = tokio_tungstenite::accept_hdr_async_with_config(tls, check_path, Some(config));
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, upgrade).await {
        Ok(Ok(ws)) => Some((Wire::new(ws, remote), peer)),
        Ok(Err(e)) => {
            tracing::warn!(%remote, "Agent connection refused from {remote}: WebSocket upgrade failed: {e}");
            None
        }
        Err(_) => {
            tracing::warn!(%remote, "Agent connection refused from {remote}: no WebSocket upgrade in time");
            None
        }
    }
}

/// Answers the upgrade on [`wire::PATH`] only; anything else is a 404.
// The signature is tungstenite's handshake callback; its error type is
// the HTTP response it sends.
#[allow(clippy::result_large_err)]
fn check_path(req: &Request, resp: Response) -> Result<Response, ErrorResponse> {
    if req.uri().path() == wire::PATH {
        Ok(resp)
    } else {
        let mut err = ErrorResponse::new(Some(format!("the agent endpoint is {}", wire::PATH)));
        *err.status_mut() = StatusCode::NOT_FOUND;
        Err(err)
    }
}

/// Reloads the revoked set whenever the registry file changes, so that
/// `vedette agent revoke` takes effect on live sessions within a second.
async fn watch_revocations(ctx: Arc<HubContext>, registry: Registry) {
    let mut seen: Option<(SystemTime, u64)> = None;
    let mut tick = tokio::time::interval(REVOCATION_POLL);
    loop {
        tick.tick().await;
        let stamp = std::fs::metadata(registry.path())
            .ok()
            .and_then(|m| Some((m.modified().ok()?, m.len())));
        if stamp == seen {
            continue;
        }
        let reg = registry.clone();
        let certs = match tokio::task::spawn_blocking(move || reg.list()).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "Cannot read the agent registry; revocations not updated");
                continue;
            }
            Err(_) => continue,
        };
        seen = stamp;
        let (revoked, pairs) = revoked_set(certs);
        for host in ctx.agents.set_revoked(revoked, &pairs) {
            tracing::warn!(host, "Agent {host} revoked; its sessions are closed");
        }
    }
}

/// The fingerprints of revoked certificates, and every certificate's
/// (host, fingerprint).
fn revoked_set(certs: Vec<super::registry::AgentCert>) -> (HashSet<String>, Vec<(String, String)>) {
    let revoked = certs
        .iter()
        .filter(|c| c.revoked_at.is_some())
        .map(|c| c.fingerprint.clone())
        .collect();
    let pairs = certs.into_iter().map(|c| (c.host, c.fingerprint)).collect();
    (revoked, pairs)
}

/// This machine's host name, for the hub certificate.
fn hostname() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at
    // most that many bytes.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name = std::str::from_utf8(&buf[..end]).ok()?.to_string();
    (!name.is_empty() && super::validate_host(&name).is_ok()).then_some(name)
}
