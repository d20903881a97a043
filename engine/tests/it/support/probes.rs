//! Fixtures: a small TCP server that plays the peer check_tcp talks to, the
//! real plugin's location, and a helper running a probe to completion.

use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use vedette::check::CheckResult;
use vedette::model::{CheckSpec, Settings, TcpIo};
use vedette::probes::tcp::uring;
use vedette::probes::{build, ProbeContext};

/// What the fixture server does with each connection.
#[derive(Debug, Clone, Copy)]
pub enum Peer {
    /// Waits `delay`, writes `banner`, then keeps the connection open for
    /// `hold` (0: closes at once).
    Banner {
        banner: &'static [u8],
        delay: Duration,
        hold: Duration,
    },
    /// Accepts and says nothing for `hold`.
    Silent { hold: Duration },
}

impl Peer {
    /// An SSH-like server: answers a banner at once, holds 3 s.
    pub fn ssh() -> Peer {
        Peer::Banner {
            banner: b"SSH-2.0-test\r\n",
            delay: Duration::ZERO,
            hold: Duration::from_secs(3),
        }
    }
}

/// A running fixture server; stops when dropped.
pub struct Listening {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Listening {
    /// Starts a server on 127.0.0.1 (own thread and runtime, so a test may
    /// block on the real plugin while the server answers).
    pub fn start(peer: Peer) -> Listening {
        let (addr_tx, addr_rx) = mpsc::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = runtime();
            rt.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
                addr_tx
                    .send(listener.local_addr().expect("addr"))
                    .expect("send addr");
                let serve = async {
                    loop {
                        let Ok((mut conn, _)) = listener.accept().await else {
                            continue;
                        };
                        tokio::spawn(async move {
                            let hold = match peer {
                                Peer::Banner {
                                    banner,
                                    delay,
                                    hold,
                                } => {
                                    tokio::time::sleep(delay).await;
                                    let _ = conn.write_all(banner).await;
                                    hold
                                }
                                Peer::Silent { hold } => hold,
                            };
                            tokio::time::sleep(hold).await;
                        });
                    }
                };
                tokio::select! {
                    _ = serve => {}
                    _ = stopped => {}
                }
            });
        });
        let addr = addr_rx.recv().expect("server address");
        Listening {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Stops the server and re-raises a panic from its thread.
    pub fn join(mut self) {
        self.shutdown(true);
    }

    fn shutdown(&mut self, raise: bool) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            if let Err(panic) = thread.join() {
                if raise {
                    std::panic::resume_unwind(panic);
                }
            }
        }
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.shutdown(false);
    }
}

/// A current-thread runtime, as a shard has.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// A check spec for `line`.
pub fn spec(line: &str, timeout: Option<Duration>) -> CheckSpec {
    CheckSpec {
        command: "test".into(),
        line: line.into(),
        timeout,
    }
}

/// Builds `line` and runs it once with `settings`; returns the probe name
/// too, so a test can insist on native or forked.
pub fn run(
    line: &str,
    timeout: Option<Duration>,
    settings: &Settings,
) -> (&'static str, CheckResult) {
    let probe = build(&spec(line, timeout), settings);
    let ctx = ProbeContext::new(settings);
    // As on a shard: a LocalSet, and the io_uring that connect-only tcp
    // checks use unless the settings say tokio.
    let local = tokio::task::LocalSet::new();
    let result = local.block_on(&runtime(), async {
        if settings.tcp_io == TcpIo::Uring {
            uring::install()
                .expect("io_uring for tcp checks (kernel 5.19 or later, not forbidden by seccomp)");
        }
        let result = probe.run(&ctx).await;
        uring::uninstall();
        result
    });
    (probe.name(), result)
}
