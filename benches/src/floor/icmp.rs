//! ICMP floor: one raw socket per thread (as the engine has one per shard)
//! keeps [`WINDOW`] echo requests in flight to the peer; every reply with
//! this thread's identifier sends the next. On loopback the raw socket
//! also reads our own requests, as the engine's does: that is part of the
//! floor.

use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

/// Echoes in flight per thread.
pub const WINDOW: usize = 256;

/// Echo payload bytes, as ping's default.
const PAYLOAD: usize = 56;

/// How long without a reply before the window counts as lost.
const QUIET: Duration = Duration::from_millis(20);

/// Runs until `deadline`; returns the replies received.
pub fn run(peer: Ipv4Addr, index: usize, deadline: Instant) -> anyhow::Result<u64> {
    let sock = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::ICMPV4)).map_err(|e| {
        anyhow::anyhow!("raw ICMP socket: {e} (the ICMP floor needs root or CAP_NET_RAW)")
    })?;
    sock.set_recv_buffer_size(8 << 20)?;
    let s = UdpSocket::from(sock);
    s.set_read_timeout(Some(QUIET))?;
    let to = SocketAddr::from((peer, 0));
    // Distinct per process and thread, so two floors never count each
    // other's replies.
    let id = ((std::process::id() & 0x0fff) << 4) as u16 | (index & 0xf) as u16;
    let mut seq = 0u16;
    let mut send = |s: &UdpSocket| {
        seq = seq.wrapping_add(1);
        let _ = s.send_to(&echo(id, seq), to);
    };
    let mut buf = [0u8; 2048];
    let mut n = 0u64;
    for _ in 0..WINDOW {
        send(&s);
    }
    while Instant::now() < deadline {
        match s.recv(&mut buf) {
            Ok(k) if is_our_reply(&buf[..k], id) => {
                n += 1;
                send(&s);
            }
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                for _ in 0..WINDOW {
                    send(&s);
                }
            }
            Err(e) => anyhow::bail!("ICMP floor: {e}"),
        }
    }
    Ok(n)
}

/// An echo request with its checksum.
fn echo(id: u16, seq: u16) -> [u8; 8 + PAYLOAD] {
    let mut p = [0u8; 8 + PAYLOAD];
    p[0] = 8;
    p[4..6].copy_from_slice(&id.to_be_bytes());
    p[6..8].copy_from_slice(&seq.to_be_bytes());
    let sum = checksum(&p).to_be_bytes();
    p[2..4].copy_from_slice(&sum);
    p
}

/// The Internet checksum (RFC 1071).
fn checksum(b: &[u8]) -> u16 {
    let mut sum: u32 = b
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An IPv4 datagram carrying an echo reply with identifier `id`.
fn is_our_reply(datagram: &[u8], id: u16) -> bool {
    let Some(&first) = datagram.first() else {
        return false;
    };
    let ihl = usize::from(first & 0x0f) * 4;
    let icmp = datagram.get(ihl..).unwrap_or_default();
    icmp.len() >= 8 && icmp[0] == 0 && icmp[4..6] == id.to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_checksums_to_zero_and_replies_are_recognised() {
        let p = echo(0x1234, 7);
        assert_eq!(checksum(&p), 0);
        let mut reply = vec![0x45u8; 20];
        reply.extend_from_slice(&p);
        reply[20] = 0;
        assert!(is_our_reply(&reply, 0x1234));
        assert!(!is_our_reply(&reply, 0x1235));
        reply[20] = 8;
        assert!(!is_our_reply(&reply, 0x1234));
        assert!(!is_our_reply(&[], 1));
    }
}
