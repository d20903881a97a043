//! UDP floor (DNS, SNMP): one connected socket per thread keeps
//! [`WINDOW`] checks' prebuilt requests in flight; every check's worth of
//! answers sends the next check's requests. A quiet spell (a dropped
//! datagram) refills the whole window.

use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// Checks in flight per thread: enough to keep the peer busy through a
/// scheduling delay on a loaded machine.
pub const WINDOW: usize = 256;

/// How long without an answer before the window counts as lost.
const QUIET: Duration = Duration::from_millis(20);

/// Runs until `deadline`; returns the checks answered (answers received
/// divided by the requests per check).
pub fn run(addr: SocketAddr, requests: &[Vec<u8>], deadline: Instant) -> anyhow::Result<u64> {
    let per = requests.len().max(1) as u64;
    let local: SocketAddr = if addr.is_ipv4() {
        "127.0.0.1:0".parse()?
    } else {
        "[::1]:0".parse()?
    };
    let s = UdpSocket::bind(local)?;
    s.connect(addr)?;
    s.set_read_timeout(Some(QUIET))?;
    let mut buf = [0u8; 2048];
    let mut n = 0u64;
    let send = |s: &UdpSocket| {
        for r in requests {
            let _ = s.send(r);
        }
    };
    let fill = |s: &UdpSocket| {
        for _ in 0..WINDOW {
            send(s);
        }
    };
    fill(&s);
    while Instant::now() < deadline {
        match s.recv(&mut buf) {
            Ok(_) => {
                n += 1;
                if n.is_multiple_of(per) {
                    send(&s);
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => fill(&s),
            // ECONNREFUSED from an earlier send: the peer is gone.
            Err(e) => anyhow::bail!("UDP floor against {addr}: {e}"),
        }
    }
    Ok(n / per)
}
