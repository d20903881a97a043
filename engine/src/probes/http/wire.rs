//! One HTTP exchange on the wire, as `check_http` does it: resolve, connect
//! (TCP, then TLS for `-S`), send one request, read until the server closes
//! — or, on a kept-alive connection, until the answer's framing ends it.
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

use super::framing::{Framing, Progress};
use crate::probes::tls_common as tls;

/// How much of a response is kept for the status, header and `-s`
/// checks. Pages past 1 MiB are still read and counted, not stored.
pub const KEEP: usize = 1 << 20;

/// Bytes read at once: the plugin's `MAX_INPUT_BUFFER`.
const READ_CHUNK: usize = 8192;

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
    /// The connection may carry another request (only ever true for
    /// [`End::Framed`]).
    pub reusable: bool,
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

    /// Whether an idle connection still seems usable: nothing to read and
    /// no EOF pending. A server's close shows as a readable socket; any
    /// byte read here is one the connection should not have had, so the
    /// connection is dropped either way.
    pub fn looks_open(&self) -> bool {
        let tcp = match self {
            Conn::Plain(s) => s,
            Conn::Tls(t) => t.get_ref().0,
        };
        let mut probe = [0u8; 1];
        matches!(tcp.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
    }

    /// Sends `request` and reads the answer until its [`End`] (or, with
    /// `headers_only`, until the headers are complete). An answer of no
    /// bytes at all is returned as such: on a pooled connection it means
    /// the server closed it first.
    pub async fn exchange(
        &mut self,
        request: &[u8],
        headers_only: bool,
        end: End,
    ) -> Result<Answer, Failed> {
        match self {
            Conn::Plain(s) => exchange(s, request, headers_only, end).await,
            Conn::Tls(s) => exchange(&mut **s, request, headers_only, end).await,
        }
    }
}

/// How the end of an answer is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// When the server closes, as the plugin reads.
    Close,
    /// From the answer's framing (keep-alive); `head` for a HEAD request.
    Framed {
        /// The request was HEAD: no body follows the headers.
        head: bool,
    },
}

impl Answer {
    /// The answer, or the plugin's verdict on an empty one.
    pub fn received(self) -> Result<Answer, Failed> {
        if self.size == 0 {
            let text = "HTTP CRITICAL - No data received from host".to_string();
            return Err((Status::Critical, text));
        }
        Ok(self)
    }
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    request: &[u8],
    headers_only: bool,
    end: End,
) -> Result<Answer, Failed> {
    // A failed send shows as what is (not) read, as the plugin ignores it.
    let _ = stream.write_all(request).await;
    let _ = stream.flush().await;
    let mut answer = Answer {
        raw: Vec::new(),
        size: 0,
        reusable: false,
    };
    let mut framing: Option<Framing> = None;
    let mut scanned = 0;
    // In the task's own allocation: no buffer to allocate per check.
    let mut chunk = [0u8; READ_CHUNK];
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
        let start = answer.size;
        answer.size += n;
        let room = KEEP.saturating_sub(answer.raw.len());
        answer.raw.extend_from_slice(&chunk[..n.min(room)]);
        if let End::Framed { head } = end {
            let progress = match &mut framing {
                Some(f) => f.feed(&chunk[..n]),
                None => match head_end(&answer.raw, scanned) {
                    Some(h) => {
                        // The head ends inside this read, which was kept
                        // whole up to there: the rest of it is body.
                        let f = framing.insert(Framing::from_head(&answer.raw[..h], head));
                        match chunk[..n].get(h.saturating_sub(start)..) {
                            Some(body) if !body.is_empty() => f.feed(body),
                            _ => f.progress(),
                        }
                    }
                    None if answer.raw.len() >= KEEP => Progress::UntilClose,
                    None => {
                        scanned = answer.raw.len().saturating_sub(3);
                        Progress::More
                    }
                },
            };
            if let Progress::Done { reusable } = progress {
                answer.reusable = reusable;
                break;
            }
        }
        if headers_only && headers_done(&answer.raw) {
            break;
        }
    }
    Ok(answer)
}

/// `document_headers_done`: a blank line has been read.
fn headers_done(raw: &[u8]) -> bool {
    raw.windows(4).any(|w| w == b"\r\n\r\n") || raw.windows(2).any(|w| w == b"\n\n")
}

/// Where the header block ends (just past its blank line), searching
/// from `from`.
fn head_end(raw: &[u8], from: usize) -> Option<usize> {
    let tail = raw.get(from..)?;
    tail.iter().enumerate().find_map(|(i, &b)| {
        if b != b'\n' {
            return None;
        }
        match &tail[i + 1..] {
            [b'\n', ..] => Some(from + i + 2),
            [b'\r', b'\n', ..] => Some(from + i + 3),
            _ => None,
        }
    })
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
