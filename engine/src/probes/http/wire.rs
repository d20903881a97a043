//! One HTTP exchange on the wire, as `check_http` does it: resolve, connect
//! (TCP, then TLS for `-S`), send one `Connection: close` request, read
//! until the server closes.
//!
//! Failures come back as the plugin's text, ready to print. The read keeps
//! at most [`KEEP`] bytes but counts all of them, so the reported size is
//! the plugin's while an endless or huge body never grows memory (the
//! check's timeout ends an endless one).

use std::io;
use std::net::{IpAddr, SocketAddr};

use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::check::Status;
use crate::probes::tcp::Family;

use super::tls;

/// How much of a response is kept for the status, header and `-s`
/// checks. Pages past 1 MiB are still read and counted, not stored.
pub const KEEP: usize = 1 << 20;

/// A failure, as the plugin prints it.
pub type Failed = (Status, String);

/// Where to connect, and how.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// Name or address to connect to (`-I`, else `-H`).
    pub address: &'a str,
    /// TCP port.
    pub port: u16,
    /// `-4`/`-6`.
    pub family: Family,
    /// TLS on top of TCP.
    pub ssl: bool,
    /// Name sent as SNI (`--sni`): none without it, as the plugin.
    pub sni: Option<&'a str>,
}

/// An open connection.
pub enum Conn {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

/// What the server sent before closing.
#[derive(Debug)]
pub struct Answer {
    /// The first [`KEEP`] bytes.
    pub raw: Vec<u8>,
    /// All bytes read.
    pub size: usize,
}

impl Conn {
    /// Resolves, connects and (for TLS) shakes hands, like the plugin's
    /// `my_tcp_connect` and `np_net_ssl_init`.
    pub async fn open(target: Target<'_>) -> Result<Conn, Failed> {
        let unable = |why: String| {
            (
                Status::Critical,
                format!("{why}\nHTTP CRITICAL - Unable to open TCP socket"),
            )
        };
        let addrs = resolve(target).await.map_err(|e| unable(e.into()))?;
        let mut last = io::Error::from(io::ErrorKind::AddrNotAvailable);
        let mut stream = None;
        for addr in addrs {
            match TcpStream::connect(addr).await {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = e,
            }
        }
        let Some(stream) = stream else {
            return Err(unable(format!(
                "connect to address {} and port {}: {}",
                target.address,
                target.port,
                strerror(&last)
            )));
        };
        if !target.ssl {
            return Ok(Conn::Plain(stream));
        }
        let no_ssl = |why: String| {
            (
                Status::Critical,
                format!("CRITICAL - Cannot make SSL connection.\n{why}"),
            )
        };
        let config = tls::client_config().map_err(|e| no_ssl(e.to_string()))?;
        // Without --sni the plugin sends no server name; rustls sends none
        // for an IP address, so the peer's own address stands in.
        let name = match target.sni.map(|s| ServerName::try_from(s.to_string())) {
            Some(Ok(name)) => name,
            _ => match stream.peer_addr() {
                Ok(peer) => ServerName::IpAddress(peer.ip().into()),
                Err(e) => return Err(no_ssl(strerror(&e))),
            },
        };
        match TlsConnector::from(config).connect(name, stream).await {
            Ok(tls) => Ok(Conn::Tls(Box::new(tls))),
            Err(e) => Err(no_ssl(e.to_string())),
        }
    }

    /// The server's certificate (TLS only).
    pub fn peer_certificate(&self) -> Option<&CertificateDer<'static>> {
        match self {
            Conn::Plain(_) => None,
            Conn::Tls(tls) => tls.get_ref().1.peer_certificates()?.first(),
        }
    }

    /// Sends `request` and reads the answer until the server closes (or,
    /// with `headers_only`, until the headers are complete).
    pub async fn exchange(self, request: &[u8], headers_only: bool) -> Result<Answer, Failed> {
        match self {
            Conn::Plain(mut s) => exchange(&mut s, request, headers_only).await,
            Conn::Tls(mut s) => exchange(&mut *s, request, headers_only).await,
        }
    }
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    request: &[u8],
    headers_only: bool,
) -> Result<Answer, Failed> {
    // A failed send shows as what is (not) read, as the plugin ignores it.
    let _ = stream.write_all(request).await;
    let _ = stream.flush().await;
    let mut answer = Answer {
        raw: Vec::new(),
        size: 0,
    };
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        let n = match stream.read(&mut chunk).await {
            Ok(0) => break,
            Ok(n) => n,
            // A reset, or TLS closed without close_notify, ends the page
            // (the plugin only gives up on other errors).
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionReset | io::ErrorKind::UnexpectedEof
                ) =>
            {
                break
            }
            Err(_) => {
                let text = "HTTP CRITICAL - Error on receive".to_string();
                return Err((Status::Critical, text));
            }
        };
        answer.size += n;
        let room = KEEP.saturating_sub(answer.raw.len());
        answer.raw.extend_from_slice(&chunk[..n.min(room)]);
        if headers_only && headers_done(&answer.raw) {
            break;
        }
    }
    if answer.size == 0 {
        let text = "HTTP CRITICAL - No data received from host".to_string();
        return Err((Status::Critical, text));
    }
    Ok(answer)
}

/// `document_headers_done`: a blank line has been read.
fn headers_done(raw: &[u8]) -> bool {
    raw.windows(4).any(|w| w == b"\r\n\r\n") || raw.windows(2).any(|w| w == b"\n\n")
}

/// `getaddrinfo` with the family hint; the error is `gai_strerror`'s text.
async fn resolve(target: Target<'_>) -> Result<Vec<SocketAddr>, &'static str> {
    const FAMILY: &str = "Address family for hostname not supported";
    let wanted = |a: &SocketAddr| match target.family {
        Family::Any => true,
        Family::V4 => a.is_ipv4(),
        Family::V6 => a.is_ipv6(),
    };
    if let Ok(ip) = target.address.parse::<IpAddr>() {
        let addr = SocketAddr::new(ip, target.port);
        return if wanted(&addr) {
            Ok(vec![addr])
        } else {
            Err(FAMILY)
        };
    }
    let found: Vec<SocketAddr> = tokio::net::lookup_host((target.address, target.port))
        .await
        .map_err(|_| "Name or service not known")?
        .filter(wanted)
        .collect();
    if found.is_empty() {
        return Err(FAMILY);
    }
    Ok(found)
}

/// The text of `strerror(errno)`: std's message without ` (os error N)`.
fn strerror(e: &io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}
