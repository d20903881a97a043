//! The async NRPE client: one query per connection (NRPE has no
//! keep-alive), plain or TLS, under one deadline for the whole exchange
//! (as check_nrpe's alarm), with the v4-then-v2 fallback.

use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::frame::{self, ReadError};
use crate::packet::{Kind, Packet, PacketError, Version};
use crate::tls::{self, Security, TlsSetupError};

/// Which packet versions to try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Versions {
    /// The version of the first query.
    pub first: Version,
    /// Retry with v2 on a new connection when the daemon drops the first
    /// query (older daemons, NSClient++), as check_nrpe does unless `-2`.
    pub fall_back_to_v2: bool,
}

impl Versions {
    /// v4, then v2: check_nrpe's default.
    pub const AUTO: Versions = Versions {
        first: Version::V4,
        fall_back_to_v2: true,
    };
    /// Only v2 (`-2`; or pinned for a host known to speak nothing else).
    pub const V2_ONLY: Versions = Versions {
        first: Version::V2,
        fall_back_to_v2: false,
    };
}

impl Default for Versions {
    fn default() -> Versions {
        Versions::AUTO
    }
}

/// How to query.
#[derive(Debug, Clone)]
pub struct Options {
    /// Plain or TLS.
    pub security: Security,
    /// Deadline for the whole exchange, connect and fallback included.
    pub timeout: Duration,
    /// Packet versions.
    pub versions: Versions,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            security: Security::Anonymous,
            timeout: Duration::from_secs(10),
            versions: Versions::AUTO,
        }
    }
}

/// The daemon's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The remote state (0..3 for a well-behaved plugin).
    pub result: i16,
    /// The remote output, as sent.
    pub text: String,
    /// The version the answer came in.
    pub version: Version,
}

/// Why a query got no answer. `Connect`, `Handshake` and `Timeout` are
/// about the target; `Setup`, `Internal` and `Query` about us.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The host name did not resolve.
    #[error("cannot resolve {host}: {source}")]
    Resolve {
        /// The name.
        host: String,
        /// Resolver error.
        #[source]
        source: std::io::Error,
    },
    /// The TCP connection failed.
    #[error("connect to address {addr}: {source}")]
    Connect {
        /// The address tried.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The TLS handshake failed (often: the daemon does not allow us, or
    /// one side runs `-n`).
    #[error("TLS handshake with {addr}: {reason}")]
    Handshake {
        /// The peer.
        addr: SocketAddr,
        /// OpenSSL's reason (the OS's, when the socket failed).
        reason: String,
        /// OpenSSL's `SSL_get_error` code: 5 (`SSL_ERROR_SYSCALL`) when
        /// the socket failed, 1 (`SSL_ERROR_SSL`) for a protocol failure.
        ssl_error: i32,
    },
    /// The whole exchange took longer than the timeout.
    #[error("timeout after {0:?}")]
    Timeout(Duration),
    /// Sending the query failed.
    #[error("sending the query: {0}")]
    Send(#[source] std::io::Error),
    /// Receiving the answer failed.
    #[error("receiving the answer: {0}")]
    Receive(#[source] ReadError),
    /// The answer was a packet, but not a response of our version.
    #[error("unexpected answer: {0}")]
    Unexpected(String),
    /// Our TLS context could not be built.
    #[error(transparent)]
    Setup(#[from] TlsSetupError),
    /// A failure inside the client itself (a task that did not finish).
    #[error("internal error: {0}")]
    Internal(String),
    /// The query does not fit a packet.
    #[error("query: {0}")]
    Query(#[source] PacketError),
}

/// Joins a command and its arguments as NRPE queries carry them
/// (`name!arg1!arg2`).
pub fn command_line(command: &str, args: &[String]) -> String {
    let mut line = command.to_string();
    for a in args {
        line.push('!');
        line.push_str(a);
    }
    line
}

/// Sends `line` (see [`command_line`]) to `host:port` and returns the answer.
///
/// # Errors
/// [`ClientError`]; after a fallback, the error of the last attempt.
pub async fn query(
    host: &str,
    port: u16,
    line: &str,
    options: &Options,
) -> Result<Response, ClientError> {
    let deadline = Instant::now() + options.timeout;
    match tokio::time::timeout_at(deadline, query_inner(host, port, line, options)).await {
        Ok(r) => r,
        Err(_) => Err(ClientError::Timeout(options.timeout)),
    }
}

async fn query_inner(
    host: &str,
    port: u16,
    line: &str,
    options: &Options,
) -> Result<Response, ClientError> {
    let addr = resolve(host, port).await?;
    let connector = match &options.security {
        Security::Plain => None,
        Security::Anonymous => Some(tls::connector(&Security::Anonymous)?),
        // Reading PEM files is blocking I/O: off the caller's thread (an
        // engine shard runs many checks on one).
        certs @ Security::Certificates(_) => {
            let certs = certs.clone();
            let built = tokio::task::spawn_blocking(move || tls::connector(&certs))
                .await
                .map_err(|e| ClientError::Internal(format!("TLS setup task: {e}")))?;
            Some(built?)
        }
    };
    let first = options.versions.first;
    let r = exchange(addr, connector.as_ref(), first, line).await;
    match r {
        // A daemon that does not speak v4 drops the query, like nrpe 4
        // does to v3; check_nrpe then retries with v2.
        Err(ClientError::Receive(_))
            if options.versions.fall_back_to_v2 && first != Version::V2 =>
        {
            tracing::debug!(%addr, ?first, "No answer, retrying with v2");
            exchange(addr, connector.as_ref(), Version::V2, line).await
        }
        r => r,
    }
}

async fn resolve(host: &str, port: u16) -> Result<SocketAddr, ClientError> {
    let resolve_err = |source| ClientError::Resolve {
        host: host.to_string(),
        source,
    };
    let mut addrs = tokio::net::lookup_host((host, port))
        .await
        .map_err(resolve_err)?;
    addrs.next().ok_or_else(|| {
        resolve_err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no address",
        ))
    })
}

async fn exchange(
    addr: SocketAddr,
    connector: Option<&openssl::ssl::SslContext>,
    version: Version,
    line: &str,
) -> Result<Response, ClientError> {
    let query = Packet {
        version,
        kind: Kind::Query,
        result: 0,
        text: line.to_string(),
    };
    // Encode before connecting: a query that does not fit is our error.
    crate::packet::encode(&query).map_err(ClientError::Query)?;
    let tcp = TcpStream::connect(addr)
        .await
        .map_err(|source| ClientError::Connect { addr, source })?;
    let _ = tcp.set_nodelay(true);
    match connector {
        None => talk(tcp, &query).await,
        Some(connector) => {
            let handshake = |e: &dyn std::fmt::Display, ssl_error| ClientError::Handshake {
                addr,
                reason: e.to_string(),
                ssl_error,
            };
            let protocol = openssl::ssl::ErrorCode::SSL.as_raw();
            // No SNI and no host name check: NRPE peers are addressed by
            // IP and their certificates checked against the CA only.
            let ssl = openssl::ssl::Ssl::new(connector).map_err(|e| handshake(&e, protocol))?;
            let mut stream =
                tokio_openssl::SslStream::new(ssl, tcp).map_err(|e| handshake(&e, protocol))?;
            if let Err(e) = Pin::new(&mut stream).connect().await {
                let code = e.code().as_raw();
                // A daemon refusing us just resets the connection; say that
                // rather than OpenSSL's generic syscall failure.
                return Err(match e.io_error() {
                    Some(io) => handshake(&os_message(io), code),
                    None => handshake(&e, code),
                });
            }
            talk(stream, &query).await
        }
    }
}

async fn talk<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    query: &Packet,
) -> Result<Response, ClientError> {
    frame::write_packet(&mut stream, query)
        .await
        .map_err(ClientError::Send)?;
    let answer = frame::read_packet(&mut stream)
        .await
        .map_err(ClientError::Receive)?;
    if answer.kind != Kind::Response {
        return Err(ClientError::Unexpected(
            "a query instead of a response".into(),
        ));
    }
    Ok(Response {
        result: answer.result,
        text: answer.text,
        version: answer.version,
    })
}

/// The OS's own message (`Connection refused`), without Rust's
/// ` (os error N)` suffix, as the C plugin prints `strerror`.
pub(crate) fn os_message(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}
