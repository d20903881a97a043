//! The NRPE server: accepts connections from `allowed_hosts`, reads one
//! query per connection, answers it (or closes without an answer, as NRPE
//! does for refused queries), then closes.
//!
//! Bounds: connections at once ([`MAX_CONNECTIONS`]; more wait in the
//! listen backlog), commands at once (`max_commands`; more queue),
//! `connection_timeout` for the handshake and the query, `command_timeout`
//! for the command.

pub mod config;
pub mod exec;
pub mod request;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;

use openssl::ssl::{Ssl, SslAcceptor};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use crate::frame;
use crate::packet::{max_text_len, Kind, Packet};
use crate::tls::{self, Security, TlsSetupError};
use config::Config;
use request::Decision;

/// Connections served at once. Each holds at most one packet buffer
/// (64 KiB) and, while its command runs, one process.
pub const MAX_CONNECTIONS: usize = 1024;

/// Why the server cannot start or keep listening.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The listen address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// `accept` failed for good.
    #[error("accept: {0}")]
    Accept(#[source] std::io::Error),
    /// The TLS context cannot be built.
    #[error(transparent)]
    Tls(#[from] TlsSetupError),
}

struct Shared {
    config: Config,
    acceptor: Option<SslAcceptor>,
    commands: Semaphore,
}

/// A bound server, ready to [`serve`](Server::serve).
pub struct Server {
    listener: TcpListener,
    shared: Arc<Shared>,
}

impl Server {
    /// Binds `server_address:server_port` from `config`.
    ///
    /// # Errors
    /// [`ServerError::Bind`] or [`ServerError::Tls`].
    pub async fn bind(config: Config, security: &Security) -> Result<Server, ServerError> {
        let addr = SocketAddr::new(
            config.address.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            config.port,
        );
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ServerError::Bind { addr, source })?;
        let acceptor = match security {
            Security::Plain => None,
            s => Some(tls::acceptor(s)?),
        };
        let commands = Semaphore::new(config.max_commands.clamp(1, Semaphore::MAX_PERMITS));
        Ok(Server {
            listener,
            shared: Arc::new(Shared {
                config,
                acceptor,
                commands,
            }),
        })
    }

    /// The address it listens on.
    ///
    /// # Errors
    /// The OS error, if the socket has none.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until an unrecoverable accept error.
    ///
    /// # Errors
    /// [`ServerError::Accept`].
    pub async fn serve(self) -> Result<(), ServerError> {
        let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        loop {
            let Ok(permit) = slots.clone().acquire_owned().await else {
                return Ok(());
            };
            let (tcp, peer) = match self.listener.accept().await {
                Ok(c) => c,
                // Out of descriptors or a connection reset before accept:
                // transient, keep serving.
                Err(e) if is_transient(&e) => {
                    tracing::warn!(error = %e, "Accept failed, retrying");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
                Err(e) => return Err(ServerError::Accept(e)),
            };
            let shared = self.shared.clone();
            tokio::spawn(async move {
                connection(tcp, peer, &shared).await;
                drop(permit);
            });
        }
    }
}

fn is_transient(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM | libc::ECONNABORTED)
    ) || e.kind() == std::io::ErrorKind::ConnectionAborted
        || e.kind() == std::io::ErrorKind::ConnectionReset
}

/// Binds and serves `config` (TLS unless `no_ssl`), logging where.
///
/// # Errors
/// [`ServerError`].
pub async fn run(config: Config, no_ssl: bool) -> Result<(), ServerError> {
    let security = config.security(no_ssl);
    let server = Server::bind(config, &security).await?;
    if let Ok(addr) = server.local_addr() {
        let mode = match security {
            Security::Plain => "plain",
            Security::Anonymous => "TLS (anonymous DH)",
            Security::Certificates(_) => "TLS (certificates)",
        };
        tracing::info!(%addr, mode, "Listening");
    }
    server.serve().await
}

async fn connection(tcp: TcpStream, peer: SocketAddr, shared: &Shared) {
    if !shared.config.allows(peer.ip()) {
        tracing::warn!(%peer, "Host not in allowed_hosts, closing");
        // A reset, as NRPE's refusal reaches the client: check_nrpe then
        // says "Connection reset by peer" rather than waiting for data.
        let _ = tcp.set_zero_linger();
        return;
    }
    let _ = tcp.set_nodelay(true);
    let limit = shared.config.connection_timeout;
    match &shared.acceptor {
        None => exchange(tcp, peer, shared).await,
        Some(acceptor) => {
            let stream = Ssl::new(acceptor.context())
                .and_then(|ssl| tokio_openssl::SslStream::new(ssl, tcp));
            let mut stream = match stream {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(%peer, error = %e, "TLS setup failed");
                    return;
                }
            };
            match tokio::time::timeout(limit, Pin::new(&mut stream).accept()).await {
                Ok(Ok(())) => exchange(stream, peer, shared).await,
                Ok(Err(e)) => tracing::info!(%peer, error = %e, "TLS handshake failed"),
                Err(_) => tracing::info!(%peer, "TLS handshake timed out"),
            }
        }
    }
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    peer: SocketAddr,
    shared: &Shared,
) {
    let limit = shared.config.connection_timeout;
    let query = match tokio::time::timeout(limit, frame::read_packet(&mut stream)).await {
        Ok(Ok(q)) => q,
        Ok(Err(e)) => {
            tracing::info!(%peer, error = %e, "Bad request, closing");
            return;
        }
        Err(_) => {
            tracing::info!(%peer, "No request within connection_timeout, closing");
            return;
        }
    };
    let (result, text) = match request::decide(&query, &shared.config) {
        Decision::Refuse(why) => {
            tracing::warn!(%peer, reason = %why, "Request refused, closing");
            return;
        }
        Decision::Answer { result, text } => (result, text),
        Decision::Run { name, line } => {
            let Ok(_permit) = shared.commands.acquire().await else {
                return;
            };
            tracing::debug!(%peer, command = %name, "Running command");
            let o = exec::run(&line, shared.config.command_timeout).await;
            (o.result, o.text)
        }
    };
    let answer = Packet {
        version: query.version,
        kind: Kind::Response,
        result,
        text: truncate(text, max_text_len(query.version)),
    };
    let write = async {
        frame::write_packet(&mut stream, &answer).await?;
        stream.shutdown().await
    };
    if let Ok(Err(e)) = tokio::time::timeout(limit, write).await {
        tracing::info!(%peer, error = %e, "Sending the answer failed");
    }
}

/// Cuts `text` to at most `max` bytes on a character boundary.
fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a test may unwrap: a panic is its failure
    use super::*;

    #[test]
    fn truncates_on_character_boundaries() {
        assert_eq!(truncate("abc".into(), 5), "abc");
        assert_eq!(truncate("abcdef".into(), 3), "abc");
        assert_eq!(truncate("aé".into(), 2), "a");
    }
}
