//! The shard's one ICMP socket, shared by every ping check of the shard.
//!
//! Ground rules:
//! - One [`IcmpSocket`] per shard and address family, opened lazily by the
//!   first check that needs it, inside the shard's runtime
//!   ([`IcmpSockets::get`]), because the context is built on the main
//!   thread and only then moved in.
//! - Checks [`send`](IcmpSocket::send) echo requests and await a
//!   [`Reply`]; one receiver task per socket reads every datagram and
//!   hands it to the check waiting on its key (peer, identifier,
//!   sequence), and likewise an ICMP error that quotes a request (raw
//!   sockets only: datagram sockets queue errors apart). Anything else —
//!   other hosts, other programs' pings, late replies whose check gave up,
//!   other ICMP messages — is dropped.
//! - Raw sockets (`CAP_NET_RAW`) carry our own identifier; unprivileged
//!   datagram ICMP sockets (`net.ipv4.ping_group_range`) have theirs
//!   rewritten by the kernel, so there the key's identifier is 0 and the
//!   16-bit sequence alone tells checks apart per peer.
//!
//! Implemented on `socket2` + tokio `AsyncFd` rather than `surge-ping`:
//! the receiver, keying and socket options must be ours to keep exactly
//! one socket per shard with a forced receive buffer.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::unix::AsyncFd;
use tokio::sync::{oneshot, OnceCell};

use super::packet::{self, Echo, IcmpError, Version};

/// Receive buffer asked for: 32 MiB, so bursts of replies from thousands
/// of checks on one shard are not dropped before the receiver task runs.
const RCVBUF: usize = 32 << 20;

/// Datagrams (or read errors) handled before the receiver task yields.
const READ_BUDGET: u32 = 256;

/// Source of identifiers and sequence numbers for every socket of the
/// process: high 16 bits identifier, low 16 bits sequence.
static NEXT_TOKEN: AtomicU32 = AtomicU32::new(0);

/// Bytes of echo payload, as `ping`'s default 56.
const PAYLOAD: usize = 56;

/// The sockets of one shard, opened on first use. Opening failures are
/// kept, so every check reports them without retrying a syscall each time.
#[derive(Debug, Default)]
pub struct IcmpSockets {
    v4: OnceCell<Result<Arc<IcmpSocket>, String>>,
    v6: OnceCell<Result<Arc<IcmpSocket>, String>>,
}

impl IcmpSockets {
    /// The shard's socket for `version`; must be called inside the shard's
    /// runtime.
    ///
    /// # Errors
    /// The text for the check's UNKNOWN output when no ICMP socket may be
    /// opened (no `CAP_NET_RAW` and not in `net.ipv4.ping_group_range`).
    pub async fn get(&self, version: Version) -> Result<Arc<IcmpSocket>, String> {
        let cell = match version {
            Version::V4 => &self.v4,
            Version::V6 => &self.v6,
        };
        cell.get_or_init(|| async { IcmpSocket::open(version).map_err(|e| open_error(&e)) })
            .await
            .clone()
    }
}

/// The UNKNOWN text for a socket that could not be opened.
fn open_error(e: &io::Error) -> String {
    format!(
        "Cannot open an ICMP socket ({e}): grant CAP_NET_RAW to vedette \
         or allow its group in sysctl net.ipv4.ping_group_range"
    )
}

/// Key of an echo request in flight: the peer, the identifier (0 on
/// datagram sockets) and the sequence number.
type Key = (IpAddr, u16, u16);

/// What a check learns about one of its echo requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    /// When the receiver task read the reply.
    pub at: Instant,
    /// `None` for an echo reply; the error when an ICMP error quoting the
    /// request came back instead (raw sockets only).
    pub error: Option<IcmpError>,
}

/// One ICMP socket and the requests in flight on it. The descriptor is
/// a std `UdpSocket` only as a typed owner with `send_to`/`recv_from`:
/// those are plain `sendto(2)`/`recvfrom(2)`, right for ICMP sockets too.
pub struct IcmpSocket {
    fd: AsyncFd<UdpSocket>,
    version: Version,
    /// Raw socket: replies carry our identifier (and, on IPv4, start with
    /// the IP header).
    raw: bool,
    waiting: Mutex<HashMap<Key, oneshot::Sender<Reply>>>,
}

impl std::fmt::Debug for IcmpSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IcmpSocket")
            .field("version", &self.version)
            .field("raw", &self.raw)
            .field("in_flight", &self.waiting.lock().len())
            .finish()
    }
}

/// An echo request in flight; dropping it forgets the request.
#[derive(Debug)]
pub struct InFlight {
    socket: Arc<IcmpSocket>,
    key: Key,
    /// Resolves with the reply.
    pub reply: oneshot::Receiver<Reply>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.socket.waiting.lock().remove(&self.key);
    }
}

impl IcmpSocket {
    /// Opens a raw ICMP socket, or a datagram one without the privilege,
    /// and starts its receiver task.
    fn open(version: Version) -> io::Result<Arc<IcmpSocket>> {
        let (domain, protocol) = match version {
            Version::V4 => (Domain::IPV4, Protocol::ICMPV4),
            Version::V6 => (Domain::IPV6, Protocol::ICMPV6),
        };
        let (socket, raw) = match Socket::new(domain, Type::RAW, Some(protocol)) {
            Ok(s) => (s, true),
            Err(_) => (Socket::new(domain, Type::DGRAM, Some(protocol))?, false),
        };
        socket.set_nonblocking(true)?;
        force_rcvbuf(&socket);
        // SAFETY: the UdpSocket owns its descriptor, always returns that
        // same one from as_raw_fd, and closes it only when dropped with
        // the AsyncFd.
        let fd = unsafe { AsyncFd::register(UdpSocket::from(socket))? };
        let socket = Arc::new(IcmpSocket {
            fd,
            version,
            raw,
            waiting: Mutex::new(HashMap::new()),
        });
        tokio::spawn(receive(Arc::clone(&socket)));
        Ok(socket)
    }

    /// Sends one echo request to `peer` and registers for its reply.
    ///
    /// # Errors
    /// The socket's send error (no route, buffer full for longer than the
    /// caller waits).
    pub async fn send(self: &Arc<Self>, peer: IpAddr) -> io::Result<(InFlight, Instant)> {
        // Raw sockets each get a copy of every reply to the host, so the
        // tokens are unique across the process's sockets (all shards), and
        // offset by the pid so two engines on one host rarely collide.
        let salt = std::process::id().wrapping_mul(0x9e37_79b9);
        let token = NEXT_TOKEN
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_add(salt);
        let (ident, seq) = ((token >> 16) as u16, token as u16);
        let key = (peer, if self.raw { ident } else { 0 }, seq);
        let (tx, reply) = oneshot::channel();
        self.waiting.lock().insert(key, tx);
        let in_flight = InFlight {
            socket: Arc::clone(self),
            key,
            reply,
        };
        let bytes = packet::echo_request(self.version, ident, seq, &[0x5a; PAYLOAD]);
        let to = SocketAddr::new(peer, 0);
        loop {
            let mut guard = self.fd.writable().await?;
            let sent_at = Instant::now();
            match guard.try_io(|fd| fd.get_ref().send_to(&bytes, to)) {
                Ok(result) => return result.map(|_| (in_flight, sent_at)),
                Err(_would_block) => continue,
            }
        }
    }

    /// Hands one received datagram to its waiting check, if any.
    fn deliver(&self, datagram: &[u8], from: IpAddr, at: Instant) {
        let ip_header = self.raw && self.version == Version::V4;
        let (peer, Echo { ident, seq }, error) =
            match packet::parse_reply(self.version, datagram, ip_header) {
                Some(echo) => (from, echo, None),
                // Errors quote the request: its destination is the key's
                // peer, wherever the error came from.
                None if self.raw => {
                    let Some((error, dest, echo)) =
                        packet::parse_error(self.version, datagram, ip_header, from)
                    else {
                        return;
                    };
                    (dest, echo, Some(error))
                }
                None => return,
            };
        let key = (peer, if self.raw { ident } else { 0 }, seq);
        if let Some(tx) = self.waiting.lock().remove(&key) {
            let _ = tx.send(Reply { at, error });
        }
    }
}

/// The receiver task: reads every datagram of the socket until the
/// runtime shuts down. Read errors (ICMP errors queued on the socket) are
/// skipped, never fatal. It yields to the shard's checks every
/// [`READ_BUDGET`] reads, so a flood of packets cannot stall the shard.
async fn receive(socket: Arc<IcmpSocket>) {
    let mut buf = vec![0u8; 65536];
    loop {
        let Ok(mut guard) = socket.fd.readable().await else {
            return;
        };
        let mut budget = READ_BUDGET;
        while budget > 0 {
            budget -= 1;
            match guard.try_io(|fd| fd.get_ref().recv_from(&mut buf)) {
                Ok(Ok((n, from))) => socket.deliver(&buf[..n], from.ip(), Instant::now()),
                Ok(Err(_)) => {}
                Err(_would_block) => break,
            }
        }
        if budget == 0 {
            drop(guard);
            tokio::task::yield_now().await;
        }
    }
}

/// Raises the receive buffer to [`RCVBUF`]: `SO_RCVBUFFORCE` passes the
/// `net.core.rmem_max` cap with `CAP_NET_ADMIN`; else `SO_RCVBUF`, which
/// the kernel caps silently. Failure only costs buffer room.
fn force_rcvbuf(socket: &Socket) {
    use std::os::fd::AsRawFd;
    let size = libc::c_int::try_from(RCVBUF).unwrap_or(libc::c_int::MAX);
    // SAFETY: setsockopt(2) on a socket we own, reading a c_int that
    // lives for the whole call; the length passed is that of the c_int.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        let _ = socket.set_recv_buffer_size(RCVBUF);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn socket() -> Arc<IcmpSocket> {
        IcmpSocket::open(Version::V4).expect("ICMP socket (tests run as root)")
    }

    #[test]
    fn foreign_identifier_sequence_or_peer_is_ignored() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let s = socket();
            // Register an echo request to a documentation address: no
            // reply will ever come from the network.
            let peer = IpAddr::from([192, 0, 2, 1]);
            let (mut in_flight, _) = s.send(peer).await.expect("send");
            let (p, ident, seq) = in_flight.key;
            let reply = |ident, seq| {
                let mut d = packet::echo_request(Version::V4, ident, seq, b"x");
                d[0] = 0; // echo reply
                d
            };
            let now = Instant::now();
            // The raw path parses the IP header; feed datagram-style
            // packets through a socket flagged accordingly.
            let deliver = |d: &[u8], from| {
                if s.raw {
                    let mut ip = packet::tests::ipv4_header(d.len());
                    ip.extend_from_slice(d);
                    s.deliver(&ip, from, now);
                } else {
                    s.deliver(d, from, now);
                }
            };
            let real_ident = if s.raw { ident } else { 0x1234 };
            deliver(&reply(real_ident.wrapping_add(1), seq), p);
            deliver(&reply(real_ident, seq.wrapping_add(1)), p);
            deliver(&reply(real_ident, seq), IpAddr::from([192, 0, 2, 2]));
            let mut request = packet::echo_request(Version::V4, real_ident, seq, b"x");
            deliver(&request, p);
            assert!(in_flight.reply.try_recv().is_err(), "foreign reply taken");
            request[0] = 0;
            deliver(&request, p);
            assert_eq!(
                in_flight.reply.try_recv().ok(),
                Some(Reply {
                    at: now,
                    error: None
                })
            );
        });
    }
}
