//! The shard's idle keep-alive connections (`[engine] http_keepalive`).
//!
//! One pool per shard, inside its [`ProbeContext`](crate::probes::ProbeContext):
//! only that shard's thread touches it, so the mutex is never contended;
//! it is never held across an `.await` (a check takes a connection out,
//! uses it, and puts it back). A lookup borrows the target's fields, so
//! taking and returning a connection allocates nothing; only a target's
//! first connection does.
//!
//! Idle connections are capped per target ([`MAX_IDLE_PER_TARGET`]) and
//! dropped after [`IDLE_TIMEOUT`], below common servers' own keep-alive
//! timeouts, so a pooled connection is seldom one the server is closing.
//! Exchanges in flight to one address are capped too
//! ([`MAX_OPEN_PER_ADDRESS`]): past it a check waits (within its timeout)
//! for a connection instead of opening one. Without that cap a burst (the
//! engine's start, a slow answer) opened a connection per check, each open
//! made the next checks later, and the run spiralled into thousands of
//! sockets ("Too many open files") and a server dropping them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::Semaphore;

use crate::probes::tcp::Family;

use super::wire::{Answer, Conn, End, Failed, Target};

/// How long a connection may sit idle. Apache's default keep-alive timeout
/// is 5 s (nginx: 75 s); staying under it avoids most races with a server
/// closing the connection just as a request goes out.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(4);

/// Idle connections kept per target: enough for the checks of one target
/// that run at the same moment on a shard (past the cap, every check opens
/// and drops a connection of its own, and under a burst that churn costs
/// more CPU than the checks: at 64 the benchmark's keep-alive rate
/// collapsed above 20K/s), few enough for two shards to stay within a
/// server's connection slots (nginx: 512 per worker by default).
pub const MAX_IDLE_PER_TARGET: usize = 256;

/// Exchanges in flight to one address per shard: as many as connections
/// may be kept idle, so a shard never holds more than that many open to
/// one server.
pub const MAX_OPEN_PER_ADDRESS: usize = MAX_IDLE_PER_TARGET;

/// How often idle connections of every target are swept, so targets
/// checked rarely do not keep sockets open.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// Which connections can serve a target, besides its address.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Key {
    port: u16,
    ssl: bool,
    sni: Option<Box<str>>,
    family: Family,
}

impl Key {
    fn matches(&self, t: &Target<'_>) -> bool {
        self.port == t.port
            && self.ssl == t.ssl
            && self.sni.as_deref() == t.sni
            && self.family == t.family
    }
}

/// A connection out of the pool (or new), with what it serves.
pub struct Pooled {
    /// The connection.
    pub conn: Conn,
    address: Box<str>,
    key: Key,
}

impl Pooled {
    /// A fresh connection to `target`, to be put back after use.
    pub fn new(conn: Conn, target: &Target<'_>) -> Pooled {
        Pooled {
            conn,
            address: target.address.into(),
            key: Key {
                port: target.port,
                ssl: target.ssl,
                sni: target.sni.map(Box::from),
                family: target.family,
            },
        }
    }
}

struct Idle {
    conn: Pooled,
    since: Instant,
}

#[derive(Default)]
struct Inner {
    by_address: HashMap<Box<str>, Vec<Idle>>,
    /// Permits for exchanges in flight, by address.
    in_flight: HashMap<Box<str>, Arc<Semaphore>>,
    last_sweep: Option<Instant>,
}

/// Idle connections by target; see the module docs.
#[derive(Default)]
pub struct Pool {
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let idle: usize = self.inner.lock().by_address.values().map(Vec::len).sum();
        f.debug_struct("Pool").field("idle", &idle).finish()
    }
}

impl Pool {
    /// The most recently used idle connection for `target` that is still
    /// open, if any.
    pub fn take(&self, target: &Target<'_>) -> Option<Pooled> {
        let now = Instant::now();
        let mut inner = self.inner.lock();
        let idle = inner.by_address.get_mut(target.address)?;
        idle.retain(|i| now.duration_since(i.since) < IDLE_TIMEOUT);
        // Only the candidate is probed (a syscall), not every idle one.
        while let Some(at) = idle.iter().rposition(|i| i.conn.key.matches(target)) {
            let candidate = idle.remove(at).conn;
            if candidate.conn.looks_open() {
                return Some(candidate);
            }
        }
        None
    }

    /// Returns a connection after a complete, reusable exchange.
    pub fn put(&self, conn: Pooled) {
        let now = Instant::now();
        let mut inner = self.inner.lock();
        let sweep = inner
            .last_sweep
            .is_none_or(|t| now.duration_since(t) >= SWEEP_EVERY);
        if sweep {
            inner.last_sweep = Some(now);
            inner.by_address.retain(|_, idle| {
                idle.retain(|i| now.duration_since(i.since) < IDLE_TIMEOUT);
                !idle.is_empty()
            });
            // Addresses with nothing in flight need no semaphore kept.
            inner
                .in_flight
                .retain(|_, s| s.available_permits() < MAX_OPEN_PER_ADDRESS);
        }
        let idle = match inner.by_address.get_mut(&*conn.address) {
            Some(idle) => idle,
            None => inner.by_address.entry(conn.address.clone()).or_default(),
        };
        let same = idle.iter().filter(|i| i.conn.key == conn.key).count();
        if same >= MAX_IDLE_PER_TARGET {
            // The oldest of this target goes (connections are pushed in
            // the order they went idle).
            if let Some(oldest) = idle.iter().position(|i| i.conn.key == conn.key) {
                idle.remove(oldest);
            }
        }
        idle.push(Idle { conn, since: now });
    }

    /// One exchange on an idle connection for `target`, or a new one when
    /// there is none or the server closed the idle one before answering;
    /// the connection comes back here when the answer allows.
    pub async fn exchange(
        &self,
        target: Target<'_>,
        request: &[u8],
        headers_only: bool,
        end: End,
    ) -> Result<Answer, Failed> {
        let slots = {
            let mut inner = self.inner.lock();
            match inner.in_flight.get(target.address) {
                Some(s) => Arc::clone(s),
                None => Arc::clone(
                    inner
                        .in_flight
                        .entry(target.address.into())
                        .or_insert_with(|| Arc::new(Semaphore::new(MAX_OPEN_PER_ADDRESS))),
                ),
            }
        };
        // Never closed, so acquiring cannot fail; held for the exchange.
        let _slot = slots.acquire_owned().await.ok();
        if let Some(mut idle) = self.take(&target) {
            let answer = idle.conn.exchange(request, headers_only, end).await?;
            if answer.size > 0 {
                if answer.reusable {
                    self.put(idle);
                }
                return Ok(answer);
            }
            // Not a byte: the server had closed it. Once more, afresh.
        }
        let mut fresh = Pooled::new(Conn::open(target).await?, &target);
        let answer = fresh
            .conn
            .exchange(request, headers_only, end)
            .await?
            .received()?;
        if answer.reusable {
            self.put(fresh);
        }
        Ok(answer)
    }

    /// Idle connections held right now (for tests and diagnostics).
    pub fn idle(&self) -> usize {
        self.inner.lock().by_address.values().map(Vec::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(port: u16, sni: Option<&str>) -> Target<'_> {
        Target {
            address: "127.0.0.1",
            port,
            family: Family::Any,
            ssl: false,
            sni,
        }
    }

    #[tokio::test]
    async fn keeps_a_capped_number_per_target_and_matches_all_of_it() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let pool = Pool::default();
        let mut accepted = Vec::new();
        for _ in 0..MAX_IDLE_PER_TARGET + 3 {
            let conn = Conn::open(target(port, None)).await.expect("connect");
            accepted.push(listener.accept().await.expect("accept"));
            pool.put(Pooled::new(conn, &target(port, None)));
        }
        assert_eq!(pool.idle(), MAX_IDLE_PER_TARGET);
        assert!(pool.take(&target(port, Some("other"))).is_none());
        assert!(pool.take(&target(port.wrapping_add(1), None)).is_none());
        assert!(pool.take(&target(port, None)).is_some());
        assert_eq!(pool.idle(), MAX_IDLE_PER_TARGET - 1);
        // The server closes them all: none is handed out, all are dropped.
        drop(accepted);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(pool.take(&target(port, None)).is_none());
        assert_eq!(pool.idle(), 0);
    }

    /// A burst past the cap waits for a connection instead of opening one
    /// per check: the server sees at most [`MAX_OPEN_PER_ADDRESS`].
    #[tokio::test]
    async fn exchanges_to_one_address_are_capped() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let pool = Pool::default();
        // Accepts and never answers, counting the connections opened while
        // the first exchanges still hold theirs (they give up at 300 ms).
        let accept = async {
            let until = tokio::time::Instant::now() + Duration::from_millis(200);
            let mut held = Vec::new();
            while let Ok(Ok((s, _))) = tokio::time::timeout_at(until, listener.accept()).await {
                held.push(s);
            }
            held.len()
        };
        let checks = (0..MAX_OPEN_PER_ADDRESS + 40).map(|_| {
            tokio::time::timeout(
                Duration::from_millis(300),
                pool.exchange(
                    target(port, None),
                    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                    false,
                    End::Framed { head: false },
                ),
            )
        });
        let (opened, _) = tokio::join!(accept, futures_util::future::join_all(checks));
        assert_eq!(opened, MAX_OPEN_PER_ADDRESS);
    }
}
