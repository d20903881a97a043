//! The `tcp` probe's connect on io_uring (`[engine] tcp_io = "uring"`).
//!
//! A plain `check_tcp -H h -p N` (nothing sent, nothing expected, no TLS)
//! is only a connect and a close. On the tokio path that costs each check
//! its own `socket`, `connect`, `epoll_ctl`, `getsockopt` and `close`. Here
//! each shard has one ring: a check's `socket` (into a direct descriptor
//! slot, so no file descriptor is made) and `connect` go in as one linked
//! pair, and every pair pushed during one turn of the shard's loop reaches
//! the kernel in the same `io_uring_enter`, made by the ring's driver task
//! after the turn's probe tasks have run. The closes that follow a batch of
//! completions go in together too.
//!
//! The ring belongs to the shard thread (it is `!Send`, and its driver is a
//! task on the shard's `LocalSet`), so it lives in a thread-local that the
//! shard installs ([`install`]); probes run anywhere else (the `probe`
//! command, tests) find none ([`current`]) and take the tokio path.
//!
//! A check dropped by its timeout cancels its connect; its slot is
//! reused only after the kernel has reported the connect and the close.

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use io_uring::squeue::{Entry, Flags};
use io_uring::types::{DestinationSlot, Fixed};
use io_uring::{opcode, IoUring};
use socket2::SockAddr;
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// Most connects one shard's ring has in flight; beyond it (or above half
/// the open-files limit, which bounds the direct descriptor table) a check
/// connects on the tokio path instead.
const MAX_SLOTS: u32 = 16_384;

/// What a completion's `user_data` is for (its low bits; the slot is above).
const SOCKET: u64 = 1;
const CONNECT: u64 = 2;
const CLOSE: u64 = 3;
const CANCEL: u64 = 4;
const OP_BITS: u32 = 3;

thread_local! {
    static RING: RefCell<Option<Rc<Ring>>> = const { RefCell::new(None) };
}

/// Opens this thread's ring and starts its driver on the current
/// `LocalSet`. Errors when the kernel lacks what the ring needs (io_uring
/// itself, `IORING_OP_SOCKET`, direct descriptors) or forbids it
/// (seccomp); the caller then stays on the tokio path.
///
/// # Errors
/// The failing setup call's error.
pub fn install() -> io::Result<()> {
    let ring = Rc::new(Ring::open()?);
    tokio::task::spawn_local(drive(Rc::clone(&ring)));
    RING.with(|r| *r.borrow_mut() = Some(ring));
    Ok(())
}

/// Closes this thread's ring (the shard is stopping).
pub fn uninstall() {
    RING.with(|r| r.borrow_mut().take());
}

/// This thread's ring, when [`install`] opened one.
pub fn current() -> Option<Rc<Ring>> {
    RING.with(|r| r.borrow().clone())
}

/// One shard's ring and the connects in it.
pub struct Ring {
    inner: RefCell<Inner>,
    /// Signalled by the kernel for every completion.
    eventfd: AsyncFd<OwnedFd>,
}

struct Inner {
    uring: IoUring,
    /// Fixed size: a slot's address must not move while the kernel may
    /// read it.
    slots: Box<[Slot]>,
    free: Vec<u32>,
    /// Entries pushed since the last `io_uring_enter`.
    unsubmitted: bool,
    driver: Option<Waker>,
}

/// One connect in flight, from its `socket` to its `close`.
#[derive(Default)]
struct Slot {
    addr: Option<SockAddr>,
    waiter: Option<Waker>,
    /// The `socket` call's result (negative: its error).
    socket_err: i32,
    /// The connect's result and when the driver saw it.
    connected: Option<(i32, Instant)>,
    closed: bool,
    /// Its check was dropped: free the slot at the close.
    abandoned: bool,
}

impl Ring {
    fn open() -> io::Result<Ring> {
        let slots = MAX_SLOTS.min(half_the_open_files_limit()?).max(1);
        let uring = IoUring::builder()
            .setup_single_issuer()
            .setup_cqsize(slots * 4)
            .build(slots.min(4096))?;
        let mut probe = io_uring::Probe::new();
        uring.submitter().register_probe(&mut probe)?;
        for code in [
            opcode::Socket::CODE,
            opcode::Connect::CODE,
            opcode::Close::CODE,
            opcode::AsyncCancel::CODE,
        ] {
            if !probe.is_supported(code) {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    format!("the kernel's io_uring lacks opcode {code}"),
                ));
            }
        }
        uring.submitter().register_files_sparse(slots)?;
        // SAFETY: eventfd(2) with valid flags; the result is checked and
        // then owned by exactly one OwnedFd.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        uring.submitter().register_eventfd(fd.as_raw_fd())?;
        // SAFETY: the AsyncFd owns `fd`, so it stays open and the same
        // descriptor for the AsyncFd's whole life.
        let eventfd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE)? };
        Ok(Ring {
            inner: RefCell::new(Inner {
                uring,
                slots: (0..slots).map(|_| Slot::default()).collect(),
                free: (0..slots).rev().collect(),
                unsubmitted: false,
                driver: None,
            }),
            eventfd,
        })
    }

    /// Starts a connect to `addr`; `None` when every slot is in use.
    pub fn connect(self: &Rc<Self>, addr: SocketAddr) -> Option<Connect> {
        let mut inner = self.inner.borrow_mut();
        let slot = inner.free.pop()?;
        let addr = SockAddr::from(addr);
        let domain = addr.domain();
        let s = &mut inner.slots[slot as usize];
        *s = Slot::default();
        // The pointer is taken where the address stays until the connect
        // has completed, not from the local it was built in.
        let stored = s.addr.insert(addr);
        let (ptr, len) = (stored.as_ptr(), stored.len());
        let tag = u64::from(slot) << OP_BITS;
        let Ok(dest) = DestinationSlot::try_from_slot_target(slot) else {
            inner.free.push(slot);
            return None;
        };
        let pair = [
            // No SOCK_CLOEXEC: a direct descriptor is never inherited (and
            // the kernel refuses the flag for one). No SKIP_SUCCESS: on a
            // link head it would also hide the linked connect's
            // cancellation when the socket fails.
            opcode::Socket::new(domain.into(), libc::SOCK_STREAM, 0)
                .file_index(Some(dest))
                .build()
                .flags(Flags::IO_LINK)
                .user_data(tag | SOCKET),
            opcode::Connect::new(Fixed(slot), ptr.cast(), len)
                .build()
                .user_data(tag | CONNECT),
        ];
        if inner.push(&pair).is_err() {
            inner.free.push(slot);
            return None;
        }
        drop(inner);
        Some(Connect {
            ring: Rc::clone(self),
            slot,
            finished: false,
        })
    }

    /// The driver's one step: submit what was pushed, apply completions,
    /// and sleep on the eventfd.
    fn poll_drive(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut woken = Vec::new();
        loop {
            {
                let mut inner = self.inner.borrow_mut();
                if !inner
                    .driver
                    .as_ref()
                    .is_some_and(|w| w.will_wake(cx.waker()))
                {
                    inner.driver = Some(cx.waker().clone());
                }
                if inner.unsubmitted {
                    inner.unsubmitted = false;
                    inner.uring.submit()?;
                }
                inner.reap(&mut woken);
                if inner.unsubmitted {
                    // Closes were pushed: they go in now, and complete
                    // at once (a direct descriptor's close does not block).
                    continue;
                }
            }
            for w in woken.drain(..) {
                w.wake();
            }
            match self.eventfd.poll_read_ready(cx) {
                Poll::Ready(Ok(mut ready)) => {
                    let mut count = [0u8; 8];
                    // SAFETY: reads 8 bytes into a buffer of 8 from the
                    // eventfd we own. Its result does not matter: reading
                    // only resets the counter, and a completion after
                    // the read signals the eventfd again, so clearing the
                    // readiness loses nothing.
                    unsafe {
                        libc::read(
                            self.eventfd.get_ref().as_raw_fd(),
                            count.as_mut_ptr().cast(),
                            count.len(),
                        )
                    };
                    ready.clear_ready();
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl Inner {
    /// Queues entries, making room by submitting when the queue is full.
    fn push(&mut self, entries: &[Entry]) -> io::Result<()> {
        for _ in 0..2 {
            // SAFETY: every entry points only at a slot's address, kept in
            // `slots` (which never moves) until the slot is freed after
            // its close, and at registered descriptor slots.
            if unsafe { self.uring.submission().push_multiple(entries) }.is_ok() {
                // The first push of a turn wakes the driver, which runs
                // after the turn's other checks have pushed theirs.
                if !std::mem::replace(&mut self.unsubmitted, true) {
                    if let Some(w) = &self.driver {
                        w.wake_by_ref();
                    }
                }
                return Ok(());
            }
            self.uring.submit()?;
        }
        Err(io::Error::other("io_uring submission queue full"))
    }

    /// Applies every completion; the checks to wake go to `woken`.
    fn reap(&mut self, woken: &mut Vec<Waker>) {
        let now = Instant::now();
        let mut closes = Vec::new();
        for cqe in self.uring.completion() {
            let slot = (cqe.user_data() >> OP_BITS) as usize;
            let Some(s) = self.slots.get_mut(slot) else {
                continue;
            };
            match cqe.user_data() & ((1 << OP_BITS) - 1) {
                SOCKET => s.socket_err = cqe.result(),
                CONNECT => {
                    s.connected = Some((cqe.result(), now));
                    s.addr = None;
                    closes.push(slot as u32);
                }
                CLOSE => {
                    s.closed = true;
                    if s.abandoned {
                        self.free.push(slot as u32);
                    } else if let Some(w) = s.waiter.take() {
                        woken.push(w);
                    }
                }
                // CANCEL: whether it found the connect does not matter;
                // the connect's own completion follows either way.
                _ => {}
            }
        }
        for slot in closes {
            let close = opcode::Close::new(Fixed(slot))
                .build()
                .user_data((u64::from(slot) << OP_BITS) | CLOSE);
            if self.push(&[close]).is_err() {
                // Cannot happen with the queue just drained; if it did,
                // the slot stays out of use rather than be reused open.
                tracing::error!(slot, "Cannot queue the close of an io_uring connect");
            }
        }
    }
}

/// A connect in flight: resolves to when it succeeded, or its error.
pub struct Connect {
    ring: Rc<Ring>,
    slot: u32,
    finished: bool,
}

impl Future for Connect {
    type Output = io::Result<Instant>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let slot = self.slot;
        let mut inner = self.ring.inner.borrow_mut();
        let s = &mut inner.slots[slot as usize];
        if !s.closed {
            if !s.waiter.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                s.waiter = Some(cx.waker().clone());
            }
            return Poll::Pending;
        }
        let (result, at) = s.connected.unwrap_or((-libc::ECANCELED, Instant::now()));
        // A failed socket() cancels the linked connect: its error is the
        // one to report.
        let err = if s.socket_err < 0 {
            s.socket_err
        } else {
            result
        };
        inner.free.push(slot);
        drop(inner);
        self.finished = true;
        Poll::Ready(if err < 0 {
            Err(io::Error::from_raw_os_error(-err))
        } else {
            Ok(at)
        })
    }
}

impl Drop for Connect {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let mut inner = self.ring.inner.borrow_mut();
        let slot = self.slot;
        let s = &mut inner.slots[slot as usize];
        s.waiter = None;
        if s.closed {
            inner.free.push(slot);
            return;
        }
        s.abandoned = true;
        if s.connected.is_none() {
            let tag = u64::from(slot) << OP_BITS;
            let cancel = opcode::AsyncCancel::new(tag | CONNECT)
                .build()
                .flags(Flags::SKIP_SUCCESS)
                .user_data(tag | CANCEL);
            if inner.push(&[cancel]).is_err() {
                tracing::warn!(slot, "Cannot cancel a timed-out io_uring connect");
            }
        }
    }
}

/// The ring's driver task: runs until the ring fails.
async fn drive(ring: Rc<Ring>) {
    if let Err(e) = std::future::poll_fn(|cx| ring.poll_drive(cx)).await {
        // Checks waiting on the ring end at their timeouts; new ones take
        // the tokio path.
        tracing::error!(error = %e, "The io_uring tcp driver failed; tcp checks use tokio from now on");
        uninstall();
    }
}

/// Half the soft open-files limit: the direct descriptor table may not
/// exceed the limit, and the shard's other sockets need the rest.
fn half_the_open_files_limit() -> io::Result<u32> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit(2) writes into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(u32::try_from(lim.rlim_cur / 2).unwrap_or(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::time::Duration;

    fn on_a_shard<F: Future<Output = ()>>(f: impl FnOnce() -> F) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let local = tokio::task::LocalSet::new();
        local.block_on(&rt, async {
            install().expect("io_uring (kernel 5.19 or later, not forbidden by seccomp)");
            f().await;
            uninstall();
        });
    }

    fn free_slots(ring: &Ring) -> usize {
        ring.inner.borrow().free.len()
    }

    #[test]
    fn connects_and_refusals_come_back_and_free_their_slots() {
        on_a_shard(|| async {
            let ring = current().expect("installed");
            let all = free_slots(&ring);
            let open = TcpListener::bind("127.0.0.1:0").expect("bind");
            let closed = {
                let l = TcpListener::bind("127.0.0.1:0").expect("bind");
                l.local_addr().expect("addr")
            };
            let started = Instant::now();
            let mut ok = Vec::new();
            let mut refused = Vec::new();
            for _ in 0..50 {
                ok.push(
                    ring.connect(open.local_addr().expect("addr"))
                        .expect("slot"),
                );
                refused.push(ring.connect(closed).expect("slot"));
            }
            for c in ok {
                let at = c.await.expect("connected");
                assert!(at >= started);
            }
            for c in refused {
                let e = c.await.expect_err("refused");
                assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
            }
            assert_eq!(free_slots(&ring), all);
        });
    }

    #[test]
    fn a_dropped_connect_is_cancelled_and_its_slot_comes_back() {
        on_a_shard(|| async {
            let ring = current().expect("installed");
            let all = free_slots(&ring);
            // A listener whose accept queue is full drops SYNs: a connect
            // to it hangs (on loopback) until it is cancelled.
            let full = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
                .expect("socket");
            full.bind(&SockAddr::from(SocketAddr::from(([127, 0, 0, 1], 0))))
                .expect("bind");
            full.listen(0).expect("listen");
            let at = full.local_addr().expect("addr").as_socket().expect("inet");
            let mut held = Vec::new();
            while let Ok(s) = std::net::TcpStream::connect_timeout(&at, Duration::from_millis(200))
            {
                held.push(s);
                assert!(held.len() < 100, "the accept queue never fills");
            }
            let c = ring.connect(at).expect("slot");
            let timed_out = tokio::time::timeout(Duration::from_millis(300), c).await;
            assert!(timed_out.is_err(), "the connect should hang: {timed_out:?}");
            for _ in 0..100 {
                if free_slots(&ring) == all {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            assert_eq!(free_slots(&ring), all);
        });
    }
}
