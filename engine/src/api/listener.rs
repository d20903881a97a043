//! The API's accept loop: axum's, with its failures logged.
//!
//! Out of descriptors, `accept(2)` fails with EMFILE; axum, built without
//! its `tracing` feature, sleeps a second and retries in silence, so an
//! API that stopped answering left no trace. This loop says why, at most
//! every [`LOG_EVERY`] (with the failures since), and retries after
//! [`RETRY`]: checks cannot take the descriptors reserved for the API
//! ([`crate::probes::descriptors`]), so an exhaustion that reaches it is
//! rare and worth a prompt retry, not a second's deafness.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};

/// Least time between two warnings about failing accepts.
pub const LOG_EVERY: Duration = Duration::from_secs(10);

/// Wait after an accept failed for want of a resource (descriptors,
/// memory) before trying again.
pub const RETRY: Duration = Duration::from_millis(100);

/// The API's listener, for `axum::serve`.
#[derive(Debug)]
pub struct Logged {
    listener: TcpListener,
    warned: Option<Instant>,
    failed: u64,
}

impl Logged {
    /// Wraps a bound listener.
    pub fn new(listener: TcpListener) -> Logged {
        Logged {
            listener,
            warned: None,
            failed: 0,
        }
    }

    async fn failed(&mut self, e: io::Error) {
        let Some(wait) = retry_after(&e) else {
            // The client gave up before we took its connection: its
            // business, nothing to wait for.
            return;
        };
        self.failed += 1;
        if self.warned.is_none_or(|t| t.elapsed() >= LOG_EVERY) {
            tracing::warn!(
                error = %e,
                failed = self.failed,
                "The API cannot accept connections; retrying"
            );
            self.warned = Some(Instant::now());
            self.failed = 0;
        }
        tokio::time::sleep(wait).await;
    }
}

impl axum::serve::Listener for Logged {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            match self.listener.accept().await {
                Ok(conn) => return conn,
                Err(e) => self.failed(e).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

/// How long to wait after a failed accept: not at all when the client
/// went away, [`RETRY`] when we lacked a resource, a second otherwise
/// (as axum does).
fn retry_after(e: &io::Error) -> Option<Duration> {
    match e.kind() {
        io::ErrorKind::ConnectionRefused
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::ConnectionReset => None,
        _ => match e.raw_os_error() {
            Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM) => Some(RETRY),
            _ => Some(Duration::from_secs(1)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_by_cause() {
        let table = [
            (io::Error::from_raw_os_error(libc::EMFILE), Some(RETRY)),
            (io::Error::from_raw_os_error(libc::ENFILE), Some(RETRY)),
            (io::Error::from_raw_os_error(libc::ECONNABORTED), None),
            (
                io::Error::from_raw_os_error(libc::EINVAL),
                Some(Duration::from_secs(1)),
            ),
        ];
        for (e, want) in table {
            assert_eq!(retry_after(&e), want, "{e}");
        }
    }
}
