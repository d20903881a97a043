//! One connection to the engine: TCP, TLS (tokio-rustls), WebSocket
//! (tokio-tungstenite on top of the TLS stream), then either an enrolment
//! exchange ([`enrol`]) or a session ([`session`]).
//!
//! Every way a connection ends is a [`Ended`]: [`Ended::Refused`] when the
//! engine refused us for good (token refused, certificate revoked or not
//! accepted, protocol version), anything else [`Ended::Lost`], which the
//! caller retries with backoff.

use std::collections::VecDeque;
use std::error::Error as StdError;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rustls::pki_types::ServerName;
use rustls::{AlertDescription, ClientConfig};
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;
use vedette_proto::wire::{
    self, AgentMessage, AssignedCheck, EngineMessage, ErrorCode, Token, PROTOCOL_VERSION,
};

use crate::config::Server;
use crate::identity::{Identity, Request};
use crate::outbox::Outbox;
use crate::tls;

/// Time for TCP, TLS and the WebSocket upgrade together.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// A connection with no frame from the engine for this long is dead (the
/// engine pings every 15 s).
pub const DEAD_PEER: Duration = Duration::from_secs(45);

/// `Results` frames sent but not acknowledged yet, at most. Bounds what a
/// reconnect replays twice and what sits in socket buffers.
pub const MAX_IN_FLIGHT: usize = 8;

/// The WebSocket over TLS over TCP.
pub type Ws = WebSocketStream<TlsStream<TcpStream>>;

/// How a connection ended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Ended {
    /// The engine refused us; retrying cannot help.
    #[error("refused by the engine: {0}")]
    Refused(String),
    /// Anything else; try again later.
    #[error("{0}")]
    Lost(String),
}

impl Ended {
    fn lost(context: &str, e: impl std::fmt::Display) -> Ended {
        Ended::Lost(format!("{context}: {e}"))
    }
}

/// Error codes that retrying cannot cure.
fn permanent(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::EnrolmentRefused | ErrorCode::Revoked | ErrorCode::Version
    )
}

fn ws_config() -> WebSocketConfig {
    // Small buffers: the agent's frames are small and it should stay
    // a few MiB resident; the read limit is the protocol's.
    WebSocketConfig::default()
        .read_buffer_size(16 << 10)
        .write_buffer_size(0)
        .max_message_size(Some(wire::MAX_FRAME_BYTES))
        .max_frame_size(Some(wire::MAX_FRAME_BYTES))
}

/// Opens the WebSocket to `server` with `tls`.
pub async fn connect(server: &Server, tls: Arc<ClientConfig>) -> Result<Ws, Ended> {
    let work = async {
        let tcp = TcpStream::connect(server.to_string())
            .await
            .map_err(|e| Ended::lost(&format!("connect to {server}"), e))?;
        let _ = tcp.set_nodelay(true);
        let name =
            ServerName::try_from(server.host.clone()).map_err(|e| Ended::lost("server name", e))?;
        let stream = TlsConnector::from(tls)
            .connect(name, tcp)
            .await
            .map_err(|e| classify("TLS handshake", &e))?;
        let url = format!("wss://{server}{}", wire::PATH);
        let (ws, _) = tokio_tungstenite::client_async_with_config(url, stream, Some(ws_config()))
            .await
            .map_err(|e| classify("WebSocket upgrade", &e))?;
        Ok(ws)
    };
    timeout(CONNECT_TIMEOUT, work)
        .await
        .unwrap_or_else(|_| Err(Ended::Lost(format!("connect to {server}: timed out"))))
}

/// Turns a transport error into [`Ended`]: an alert from the engine saying
/// it does not accept our certificate is a refusal, the rest is lost.
fn classify(context: &str, err: &(dyn StdError + 'static)) -> Ended {
    let mut next: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = next {
        // io::Error hides a wrapped error from `source()`; look inside.
        let inner = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .map(|i| i as &(dyn StdError + 'static));
        for candidate in [Some(e), inner].into_iter().flatten() {
            if let Some(rustls::Error::AlertReceived(alert)) = candidate.downcast_ref() {
                if refuses_certificate(*alert) {
                    return Ended::Refused(format!(
                        "{context}: the engine did not accept the agent's certificate ({alert:?})"
                    ));
                }
            }
        }
        next = inner.or_else(|| e.source());
    }
    Ended::lost(context, err)
}

fn refuses_certificate(alert: AlertDescription) -> bool {
    matches!(
        alert,
        AlertDescription::BadCertificate
            | AlertDescription::UnknownCA
            | AlertDescription::CertificateRevoked
            | AlertDescription::CertificateExpired
            | AlertDescription::CertificateUnknown
            | AlertDescription::CertificateRequired
            | AlertDescription::UnsupportedCertificate
            | AlertDescription::AccessDenied
    )
}

async fn send(ws: &mut Ws, msg: &AgentMessage) -> Result<(), Ended> {
    let text = wire::encode(msg);
    match timeout(DEAD_PEER, ws.send(Message::text(text))).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(classify("send", &e)),
        Err(_) => Err(Ended::Lost("send: engine not reading".into())),
    }
}

/// What a frame from the engine means to us.
enum Frame {
    Msg(EngineMessage),
    /// A control frame or anything else to skip.
    Other,
}

fn read(
    msg: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
) -> Result<Frame, Ended> {
    match msg {
        None => Err(Ended::Lost("engine closed the connection".into())),
        Some(Err(e)) => Err(classify("receive", &e)),
        Some(Ok(Message::Text(text))) => match wire::decode_engine(text.as_bytes()) {
            Ok(EngineMessage::Error { code, message }) if permanent(code) => {
                Err(Ended::Refused(message))
            }
            Ok(m) => Ok(Frame::Msg(m)),
            Err(e) => Err(Ended::lost("bad frame from the engine", e)),
        },
        Some(Ok(Message::Close(frame))) => Err(Ended::Lost(match frame {
            Some(f) if !f.reason.is_empty() => {
                format!("engine closed the connection: {}", f.reason)
            }
            _ => "engine closed the connection".into(),
        })),
        Some(Ok(_)) => Ok(Frame::Other),
    }
}

/// Enrols with `token`: sends a fresh key's CSR, returns the identity the
/// engine issued (not stored yet).
pub async fn enrol(server: &Server, token: &Token, name: &str) -> Result<Identity, Ended> {
    let request = Request::generate(name).map_err(|e| Ended::lost("enrolment", e))?;
    let config = tls::enrolment_config(&token.ca_pin).map_err(|e| Ended::lost("enrolment", e))?;
    let mut ws = connect(server, Arc::new(config)).await?;
    send(
        &mut ws,
        &AgentMessage::Enrol {
            version: PROTOCOL_VERSION,
            token: token.secret.clone(),
            csr_pem: request.csr_pem,
        },
    )
    .await?;
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .map_err(|_| Ended::Lost("no answer to the enrolment".into()))?;
        match read(msg)? {
            Frame::Msg(EngineMessage::Enrolled {
                host,
                cert_pem,
                ca_pem,
            }) => {
                tracing::info!(host, "Enrolled");
                let _ = ws.close(None).await;
                return Ok(Identity {
                    key_pem: request.key_pem,
                    cert_pem,
                    ca_pem,
                });
            }
            Frame::Msg(other) => {
                return Err(Ended::Lost(format!(
                    "unexpected answer to the enrolment: {other:?}"
                )))
            }
            Frame::Other => {}
        }
    }
}

/// A session: `Hello`, then results out and acknowledgements in until the
/// connection ends. `welcomed` is called once the engine accepted the
/// session, `assign` on each assignment.
pub async fn session(
    server: &Server,
    tls: Arc<ClientConfig>,
    outbox: &Outbox,
    welcomed: &mut dyn FnMut(),
    assign: &mut dyn FnMut(u64, &[AssignedCheck]),
) -> Ended {
    let mut ws = match connect(server, tls).await {
        Ok(ws) => ws,
        Err(e) => return e,
    };
    let mut state = Stream::default();
    match run_session(&mut ws, &mut state, outbox, welcomed, assign).await {
        Ok(never) => match never {},
        Err(e) => e,
    }
}

/// Where the stream of results stands on this connection.
#[derive(Debug, Default)]
struct Stream {
    /// `Welcome` seen: results may flow.
    open: bool,
    /// Highest sequence number sent (or known applied).
    sent_upto: u64,
    /// Last sequence number of each batch not acknowledged yet.
    in_flight: VecDeque<u64>,
}

async fn run_session(
    ws: &mut Ws,
    st: &mut Stream,
    outbox: &Outbox,
    welcomed: &mut dyn FnMut(),
    assign: &mut dyn FnMut(u64, &[AssignedCheck]),
) -> Result<std::convert::Infallible, Ended> {
    send(
        ws,
        &AgentMessage::Hello {
            version: PROTOCOL_VERSION,
            agent_version: env!("CARGO_PKG_VERSION").to_string(),
            spool_dropped: outbox.dropped(),
        },
    )
    .await?;
    let mut last_heard = Instant::now();
    loop {
        tokio::select! {
            msg = ws.next() => {
                last_heard = Instant::now();
                let Frame::Msg(msg) = read(msg)? else { continue };
                match msg {
                    EngineMessage::Welcome { host, applied_seq } => {
                        tracing::info!(%host, applied_seq, waiting = outbox.waiting(), "Session open");
                        outbox
                            .welcome(applied_seq)
                            .map_err(|e| Ended::lost("spool", e))?;
                        st.open = true;
                        st.sent_upto = applied_seq;
                        welcomed();
                        pump(ws, st, outbox).await?;
                    }
                    EngineMessage::Assign { generation, checks } => {
                        tracing::info!(generation, checks = checks.len(), "Checks assigned");
                        assign(generation, &checks);
                    }
                    EngineMessage::Ack { up_to } => {
                        if let Err(e) = outbox.ack(up_to) {
                            tracing::warn!(error = %e, up_to, "Acknowledgement not applied");
                        }
                        while st.in_flight.front().is_some_and(|last| *last <= up_to) {
                            st.in_flight.pop_front();
                        }
                        pump(ws, st, outbox).await?;
                    }
                    EngineMessage::Ping { nonce } => send(ws, &AgentMessage::Pong { nonce }).await?,
                    EngineMessage::Error { code, message } => session_error(code, message)?,
                    other => tracing::warn!(message = ?other, "Unexpected message from the engine ignored"),
                }
            }
            () = outbox.recorded() => pump(ws, st, outbox).await?,
            () = tokio::time::sleep_until(last_heard + DEAD_PEER) => {
                return Err(Ended::Lost(format!("no frame from the engine for {} s", DEAD_PEER.as_secs())));
            }
        }
    }
}

/// What an engine's error means mid-session. Results for services no
/// longer assigned (a reload removed them) are dropped by the engine, which
/// says so and acknowledges them anyway: a warning, and the stream goes on.
/// A failure on the engine's side leaves results unacknowledged: reconnect
/// (with backoff) and replay. Anything else means we sent something the
/// engine could not take; it closes, and so do we.
fn session_error(code: ErrorCode, message: String) -> Result<(), Ended> {
    match code {
        ErrorCode::UnknownService => {
            tracing::warn!("Engine dropped results: {message}");
            Ok(())
        }
        _ => Err(Ended::Lost(format!("engine error ({code:?}): {message}"))),
    }
}

/// Sends waiting results while fewer than [`MAX_IN_FLIGHT`] batches are
/// unacknowledged.
async fn pump(ws: &mut Ws, st: &mut Stream, outbox: &Outbox) -> Result<(), Ended> {
    if !st.open {
        return Ok(());
    }
    while st.in_flight.len() < MAX_IN_FLIGHT {
        let batch = outbox
            .batch_after(st.sent_upto)
            .map_err(|e| Ended::lost("reading the spool", e))?;
        if batch.last_seq == 0 {
            break;
        }
        st.sent_upto = batch.last_seq;
        if batch.results.is_empty() {
            continue;
        }
        send(
            ws,
            &AgentMessage::Results {
                results: batch.results,
                spool_dropped: outbox.dropped(),
            },
        )
        .await?;
        st.in_flight.push_back(batch.last_seq);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_alerts_are_refusals() {
        let io = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::AlertReceived(AlertDescription::CertificateRevoked),
        );
        let ws = tokio_tungstenite::tungstenite::Error::Io(io);
        assert!(
            matches!(classify("x", &ws), Ended::Refused(m) if m.contains("CertificateRevoked"))
        );
        let io = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::AlertReceived(AlertDescription::HandshakeFailure),
        );
        assert!(matches!(classify("x", &io), Ended::Lost(_)));
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert!(matches!(classify("x", &reset), Ended::Lost(_)));
    }

    #[test]
    fn permanent_codes() {
        assert!(permanent(ErrorCode::Revoked));
        assert!(permanent(ErrorCode::EnrolmentRefused));
        assert!(!permanent(ErrorCode::Internal));
        assert!(!permanent(ErrorCode::OutOfOrder));
    }
}
