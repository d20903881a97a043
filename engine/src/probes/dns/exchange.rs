//! The conversation: the A and AAAA questions nslookup asks, sent
//! together on one UDP socket opened for this run, retried like nslookup
//! (3 tries, 5 s each), answers matched by id and question; a question
//! whose UDP answer comes back truncated is asked again over TCP, as
//! nslookup does (`;; Truncated, retrying in TCP mode.`).
//!
//! One socket per run keeps the first version simple: no shared state
//! between checks, and the kernel's connected-socket filter drops packets
//! from anyone but the server. A per-shard socket multiplexing ids would
//! save the two syscalls per check; not done yet.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use super::wire::{self, Response, WireError};

/// nslookup's `timeout` per try.
const TRY_WAIT: Duration = Duration::from_secs(5);
/// nslookup's tries before `no servers could be reached`.
const TRIES: u32 = 3;
/// Receive buffer for one answer. The queries carry no EDNS option, so a
/// server answers in at most 512 bytes over UDP (and sets TC beyond);
/// 4 KiB leaves room for servers that send more anyway, without the
/// 64 KiB allocation and clearing per check the EDNS maximum would cost.
const MAX_PACKET: usize = 4096;

/// How the questions went.
#[derive(Debug)]
pub enum Exchange {
    /// The A answer, and the AAAA answer unless the A query failed (as
    /// nslookup then does not ask it).
    Answers {
        /// The A answer.
        a: Response,
        /// The AAAA answer.
        aaaa: Option<Response>,
    },
    /// Nothing came back in time, or the port is closed (ICMP).
    NoResponse,
    /// A packet with our id that is not a well-formed response.
    Malformed(WireError),
    /// We could not open, connect or use the socket.
    Local(io::Error),
}

/// Asks `server` port 53 for the A and AAAA records of `name`.
pub async fn exchange(server: IpAddr, name: &str) -> Exchange {
    match ask(server, name).await {
        Ok(done) => done,
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => Exchange::NoResponse,
        Err(e) => Exchange::Local(e),
    }
}

/// One question in flight.
struct Pending {
    id: u16,
    qtype: u16,
    packet: Vec<u8>,
    answer: Option<Response>,
}

async fn ask(server: IpAddr, name: &str) -> io::Result<Exchange> {
    let local: SocketAddr = match server {
        IpAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        IpAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(local).await?;
    socket.connect((server, 53)).await?;
    let first = next_id();
    let mut pending = Vec::with_capacity(2);
    for (n, qtype) in [wire::TYPE_A, wire::TYPE_AAAA].into_iter().enumerate() {
        let id = first.wrapping_add(n as u16);
        // The config only admits names that encode.
        let packet = wire::query(id, name, qtype)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "bad name"))?;
        pending.push(Pending {
            id,
            qtype,
            packet,
            answer: None,
        });
    }
    let wanted = name.trim_end_matches('.').to_ascii_lowercase();
    let mut buf = vec![0u8; MAX_PACKET];
    for _ in 0..TRIES {
        for p in pending.iter().filter(|p| p.answer.is_none()) {
            socket.send(&p.packet).await?;
        }
        let deadline = tokio::time::Instant::now() + TRY_WAIT;
        loop {
            if let Some(done) = finished(&mut pending) {
                return Ok(done);
            }
            let received = tokio::time::timeout_at(deadline, socket.recv(&mut buf)).await;
            let Ok(received) = received else { break };
            let packet = buf.get(..received?).unwrap_or_default();
            let Some(id) = packet.get(..2).map(|b| u16::from_be_bytes([b[0], b[1]])) else {
                continue;
            };
            let Some(slot) = pending.iter_mut().find(|p| p.id == id) else {
                continue;
            };
            let response = match wire::decode(packet) {
                Ok(r) => r,
                Err(why) => return Ok(Exchange::Malformed(why)),
            };
            // An answer to another question (late or forged): ignored.
            if response.qtype != slot.qtype || response.qname != wanted {
                continue;
            }
            slot.answer = Some(if response.truncated {
                match over_tcp(server, &slot.packet).await {
                    Ok(packet) => match wire::decode(&packet) {
                        Ok(r) if r.id == slot.id && r.qtype == slot.qtype && r.qname == wanted => r,
                        Ok(_) => return Ok(Exchange::Malformed(WireError::Mismatch)),
                        Err(why) => return Ok(Exchange::Malformed(why)),
                    },
                    // nslookup: `connection refused`, `no servers could be
                    // reached`, which the plugin reports as no response.
                    Err(_) => return Ok(Exchange::NoResponse),
                }
            } else {
                response
            });
        }
    }
    Ok(Exchange::NoResponse)
}

/// Asks the question in `packet` over TCP (RFC 7766 framing: a two-byte
/// length before each message) and returns the answer's bytes.
async fn over_tcp(server: IpAddr, packet: &[u8]) -> io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect((server, 53)).await?;
    let len = u16::try_from(packet.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "query too long"))?;
    let mut framed = Vec::with_capacity(packet.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(packet);
    stream.write_all(&framed).await?;
    let answer_len = stream.read_u16().await?;
    let mut answer = vec![0u8; usize::from(answer_len)];
    stream.read_exact(&mut answer).await?;
    Ok(answer)
}

/// The result once the answers needed are in: the A answer, and the AAAA
/// one unless the A query failed.
fn finished(pending: &mut [Pending]) -> Option<Exchange> {
    let [a, aaaa] = pending else { return None };
    let a_answer = a.answer.as_ref()?;
    if a_answer.rcode != 0 {
        return Some(Exchange::Answers {
            a: a.answer.take()?,
            aaaa: None,
        });
    }
    aaaa.answer.as_ref()?;
    Some(Exchange::Answers {
        a: a.answer.take()?,
        aaaa: aaaa.answer.take(),
    })
}

/// Query ids hard to guess from outside: a per-process counter mixed
/// with the clock.
fn next_id() -> u16 {
    static COUNTER: AtomicU16 = AtomicU16::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let n = COUNTER.fetch_add(2, Ordering::Relaxed);
    (nanos as u16) ^ ((nanos >> 16) as u16) ^ n.rotate_left(7)
}
