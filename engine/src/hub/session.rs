//! One agent's session over mutual TLS: hello, welcome and assignment,
//! then results in and acknowledgements out until the connection ends.
//!
//! The host is the one the verified client certificate names. A frame that
//! is not a valid message, or comes out of order, gets an `Error` frame and
//! the session goes on (a run of them ends it); a result claiming another
//! host, a revoked certificate or a replaced session end it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::WebSocketStream;
use vedette_proto::check::Status;
use vedette_proto::wire::{
    self, AgentMessage, AssignedCheck, EngineMessage, ErrorCode, PROTOCOL_VERSION,
};

use super::agents::{unix_ms, AgentSlot};
use super::assign::{AgentHost, Assignments};
use super::listener::HubContext;
use super::tls::PeerIdentity;

/// How long an agent has to say hello.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the hub pings a quiet agent.
pub const PING_EVERY: Duration = Duration::from_secs(15);
/// A session with no frame from the agent for this long is dead.
pub const DEAD_AFTER: Duration = Duration::from_secs(45);
/// Bad frames in a row after which the hub gives up on a session.
const MAX_BAD_FRAMES: u32 = 16;

/// How a session's frames are read and written.
pub(super) struct Wire<S> {
    ws: WebSocketStream<S>,
    remote: SocketAddr,
}

/// What reading the next frame gave.
pub(super) enum Incoming {
    /// A text frame's bytes.
    Text(tungstenite::Bytes),
    /// A frame that is not text (or too large): already answered with an
    /// error frame.
    Refused,
    /// The connection ended (closed, reset, or unusable).
    Closed,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Wire<S> {
    pub(super) fn new(ws: WebSocketStream<S>, remote: SocketAddr) -> Wire<S> {
        Wire { ws, remote }
    }

    /// Sends one message; false when the connection is gone.
    pub(super) async fn send(&mut self, msg: &EngineMessage) -> bool {
        self.ws.send(Message::text(wire::encode(msg))).await.is_ok()
    }

    /// Sends an `Error` frame.
    pub(super) async fn refuse(&mut self, code: ErrorCode, message: impl Into<String>) -> bool {
        self.send(&EngineMessage::Error {
            code,
            message: message.into(),
        })
        .await
    }

    /// Closes the connection politely (best effort).
    pub(super) async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.ws.close(None)).await;
    }

    /// The next frame that matters (control frames are handled here).
    pub(super) async fn next(&mut self) -> Incoming {
        loop {
            match self.ws.next().await {
                None => return Incoming::Closed,
                Some(Ok(Message::Text(t))) => return Incoming::Text(t.into()),
                Some(Ok(Message::Binary(_))) => {
                    self.refuse(
                        ErrorCode::Malformed,
                        "binary frames are not part of the protocol; send JSON text frames",
                    )
                    .await;
                    return Incoming::Refused;
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Ok(Message::Close(_))) => return Incoming::Closed,
                Some(Err(tungstenite::Error::Capacity(e))) => {
                    tracing::warn!(remote = %self.remote, "Agent frame refused: {e}");
                    self.refuse(
                        ErrorCode::TooLarge,
                        format!("{e}; the limit is {} bytes", wire::MAX_FRAME_BYTES),
                    )
                    .await;
                    // The stream cannot resync after an oversized frame.
                    return Incoming::Closed;
                }
                Some(Err(e)) => {
                    tracing::debug!(remote = %self.remote, error = %e, "Agent connection ended");
                    return Incoming::Closed;
                }
            }
        }
    }
}

/// Runs a certified agent's session to its end.
pub(super) async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    ctx: Arc<HubContext>,
    mut wire: Wire<S>,
    peer: PeerIdentity,
) {
    let remote = wire.remote;
    let host = peer.host.as_str();
    if ctx.agents.is_revoked(&peer.fingerprint) {
        tracing::warn!(%remote, host, "Agent connection refused from {remote}: certificate of {host} is revoked");
        wire.refuse(
            ErrorCode::Revoked,
            format!("the certificate of {host} is revoked; enrol again with a new token"),
        )
        .await;
        wire.close().await;
        return;
    }
    let version = match tokio::time::timeout(HELLO_TIMEOUT, hello(&mut wire)).await {
        Ok(Some(v)) => v,
        Ok(None) => {
            wire.close().await;
            return;
        }
        Err(_) => {
            tracing::warn!(%remote, host, "Agent connection refused from {remote}: no hello within {HELLO_TIMEOUT:?}");
            wire.refuse(ErrorCode::OutOfOrder, "no hello in time").await;
            wire.close().await;
            return;
        }
    };
    let slot = ctx.agents.slot(host);
    ctx.agents.clear_revoked(&slot);
    let id = ctx.agents.session_id();
    let (_guard, mut kick) = slot.open_session(id, &version.agent_version);
    slot.seen(unix_ms());
    slot.set_spool_dropped(version.spool_dropped);
    tracing::info!(%remote, host, agent_version = %version.agent_version, "Agent connected");
    let mut assignments = ctx.assignments.clone();
    let current = assignments.borrow_and_update().clone();
    let mut mine = current.hosts.get(host).cloned();
    let welcome = EngineMessage::Welcome {
        host: host.to_string(),
        applied_seq: slot.counters().applied_seq,
    };
    if !wire.send(&welcome).await || !wire.send(&assign_msg(&current, mine.as_ref())).await {
        return;
    }
    if mine.is_none() {
        tracing::warn!(
            host,
            "Agent connected, but no checks are assigned to host {host}"
        );
    }
    if mine.as_ref().is_some_and(|m| m.liveness_host) {
        ctx.agents.verdict(
            host,
            None,
            Status::Ok,
            format!(
                "UP - vedette-agent {} connected from {}",
                version.agent_version,
                remote.ip()
            ),
        );
    }
    let mut stopping = ctx.stopping.clone();
    let mut ping = tokio::time::interval_at(Instant::now() + PING_EVERY, PING_EVERY);
    let mut dead_at = Instant::now() + DEAD_AFTER;
    let mut last_seq = 0u64;
    let mut bad = 0u32;
    let mut nonce = 0u64;
    let reason = loop {
        tokio::select! {
            frame = wire.next() => {
                let text = match frame {
                    Incoming::Text(t) => t,
                    Incoming::Refused => {
                        bad += 1;
                        if bad > MAX_BAD_FRAMES { break "too many bad frames"; }
                        continue;
                    }
                    Incoming::Closed => break "connection closed",
                };
                dead_at = Instant::now() + DEAD_AFTER;
                if slot.seen(unix_ms()) && mine.as_ref().is_some_and(|m| m.liveness_host) {
                    ctx.agents.verdict(host, None, Status::Ok, "UP - vedette-agent reporting again".into());
                }
                match handle(&ctx, &slot, mine.as_ref(), &mut wire, &text, &mut last_seq).await {
                    Step::Ok => bad = 0,
                    Step::Bad => {
                        bad += 1;
                        if bad > MAX_BAD_FRAMES { break "too many bad frames"; }
                    }
                    Step::End(why) => break why,
                }
            }
            _ = ping.tick() => {
                nonce += 1;
                if !wire.send(&EngineMessage::Ping { nonce }).await { break "connection lost"; }
            }
            () = tokio::time::sleep_until(dead_at) => break "no frame for 45 s",
            changed = kick.changed() => {
                if changed.is_err() || slot.is_revoked() {
                    tracing::warn!(%remote, host, "Agent connection refused from {remote}: certificate of {host} revoked; closing its session");
                    wire.refuse(ErrorCode::Revoked, format!("the certificate of {host} was revoked")).await;
                    break "revoked";
                }
                if !slot.is_current(id) { break "replaced by a newer session of the same host"; }
            }
            changed = assignments.changed() => {
                if changed.is_err() { break "engine stopping"; }
                let now = assignments.borrow_and_update().clone();
                let next = now.hosts.get(host).cloned();
                if next.as_ref().map(|h| &h.checks) != mine.as_ref().map(|h| &h.checks)
                    && !wire.send(&assign_msg(&now, next.as_ref())).await
                {
                    break "connection lost";
                }
                mine = next;
            }
            _ = stopping.changed() => break "engine stopping",
        }
    };
    tracing::info!(%remote, host, reason, "Agent disconnected");
    wire.close().await;
}

/// The agent's hello: its version fields, or `None` after refusing.
struct HelloInfo {
    agent_version: String,
    spool_dropped: u64,
}

async fn hello<S: AsyncRead + AsyncWrite + Unpin>(wire: &mut Wire<S>) -> Option<HelloInfo> {
    let remote = wire.remote;
    loop {
        let text = match wire.next().await {
            Incoming::Text(t) => t,
            Incoming::Refused => continue,
            Incoming::Closed => return None,
        };
        match wire::decode_agent(&text) {
            Ok(AgentMessage::Hello {
                version,
                agent_version,
                spool_dropped,
            }) => {
                if version != PROTOCOL_VERSION {
                    tracing::warn!(%remote, "Agent connection refused from {remote}: protocol version {version}");
                    wire.refuse(
                        ErrorCode::Version,
                        format!("protocol version {version} is not spoken here (this engine speaks {PROTOCOL_VERSION})"),
                    )
                    .await;
                    return None;
                }
                return Some(HelloInfo {
                    agent_version,
                    spool_dropped,
                });
            }
            Ok(other) => {
                wire.refuse(
                    ErrorCode::OutOfOrder,
                    format!("expected hello first, got {}", kind(&other)),
                )
                .await;
            }
            Err(e) => {
                wire.refuse(e.code(), e.to_string()).await;
            }
        }
    }
}

enum Step {
    Ok,
    Bad,
    End(&'static str),
}

async fn handle<S: AsyncRead + AsyncWrite + Unpin>(
    ctx: &HubContext,
    slot: &AgentSlot,
    mine: Option<&AgentHost>,
    wire: &mut Wire<S>,
    text: &[u8],
    last_seq: &mut u64,
) -> Step {
    let msg = match wire::decode_agent(text) {
        Ok(m) => m,
        Err(e) => {
            tracing::debug!(host = %slot.host, error = %e, "Agent frame refused");
            return sent(wire.refuse(e.code(), e.to_string()).await, Step::Bad);
        }
    };
    match msg {
        AgentMessage::Results {
            results,
            spool_dropped,
        } => {
            slot.set_spool_dropped(spool_dropped);
            let Some(first) = results.first() else {
                return Step::Ok;
            };
            if first.seq <= *last_seq {
                let message = format!(
                    "sequence numbers must increase within a session: {} after {}",
                    first.seq, *last_seq
                );
                return sent(wire.refuse(ErrorCode::OutOfOrder, message).await, Step::Bad);
            }
            match ctx
                .agents
                .apply(slot, mine.map(|m| &m.services), &results)
                .await
            {
                Ok(done) => {
                    *last_seq = done.up_to;
                    if done.unassigned > 0 {
                        let message = format!(
                            "{} result(s) for services not assigned to {} were dropped",
                            done.unassigned, slot.host
                        );
                        if !wire.refuse(ErrorCode::UnknownService, message).await {
                            return Step::End("connection lost");
                        }
                    }
                    sent(
                        wire.send(&EngineMessage::Ack { up_to: done.up_to }).await,
                        Step::Ok,
                    )
                }
                Err(refusal) if refusal.code == ErrorCode::WrongHost => {
                    tracing::warn!(host = %slot.host, remote = %wire.remote, "Agent results refused: {}", refusal.message);
                    wire.refuse(refusal.code, refusal.message).await;
                    Step::End("claimed another host")
                }
                Err(refusal) => {
                    tracing::error!(host = %slot.host, "Agent results not applied: {}", refusal.message);
                    sent(wire.refuse(refusal.code, refusal.message).await, Step::Ok)
                }
            }
        }
        AgentMessage::Pong { .. } => Step::Ok,
        other @ (AgentMessage::Hello { .. } | AgentMessage::Enrol { .. }) => {
            let message = format!("{} after hello: the session is already open", kind(&other));
            sent(wire.refuse(ErrorCode::OutOfOrder, message).await, Step::Bad)
        }
    }
}

fn sent(ok: bool, step: Step) -> Step {
    if ok {
        step
    } else {
        Step::End("connection lost")
    }
}

fn kind(msg: &AgentMessage) -> &'static str {
    match msg {
        AgentMessage::Enrol { .. } => "enrol",
        AgentMessage::Hello { .. } => "hello",
        AgentMessage::Results { .. } => "results",
        AgentMessage::Pong { .. } => "pong",
    }
}

fn assign_msg(all: &Assignments, mine: Option<&AgentHost>) -> EngineMessage {
    let checks: Vec<AssignedCheck> = mine.map(|m| m.checks.to_vec()).unwrap_or_default();
    EngineMessage::Assign {
        generation: all.generation,
        checks,
    }
}
