//! Descriptor pressure: a peer that holds every connection silently until
//! released, and the engine started under a low open-files limit.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::Daemon;

/// What the peer answers once released: enough HTTP for `check_http`,
/// and a line `check_tcp -e HTTP/1.1` matches.
const ANSWER: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

/// A peer that accepts every connection and says nothing while held (each
/// connection then stays open on the engine's side until the check's
/// timeout); released, it answers [`ANSWER`] to the held and every new
/// connection and closes them.
pub struct Holding {
    /// Where it listens.
    pub addr: SocketAddr,
    held: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Holding {
    /// Starts it on 127.0.0.1, holding.
    pub fn start() -> Holding {
        // The peer keeps hundreds of connections; the usual soft limit of
        // 1,024 is shared with the other tests of this binary.
        vedette::limits::raise_open_files().expect("raise the test's open files limit");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let held = Arc::new(AtomicBool::new(true));
        let stop = Arc::new(AtomicBool::new(false));
        let (h, s) = (Arc::clone(&held), Arc::clone(&stop));
        let thread = std::thread::spawn(move || serve(&listener, &h, &s));
        Holding {
            addr,
            held,
            stop,
            thread: Some(thread),
        }
    }

    /// From now on every connection, held or new, gets its answer.
    pub fn release(&self) {
        self.held.store(false, Ordering::SeqCst);
    }

    /// Stops it and re-raises a panic from its thread.
    pub fn join(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(Err(panic)) = self.thread.take().map(JoinHandle::join) {
            std::panic::resume_unwind(panic);
        }
    }
}

impl Drop for Holding {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(listener: &TcpListener, held: &AtomicBool, stop: &AtomicBool) {
    let mut waiting: Vec<TcpStream> = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((conn, _)) => waiting.push(conn),
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
        if !held.load(Ordering::SeqCst) {
            for conn in waiting.drain(..) {
                std::thread::spawn(move || answer(conn));
            }
        }
    }
}

/// Answers at once and half-closes, then reads whatever request came
/// until the client closes: check_tcp without `-s` sends none and is
/// done on the answer, check_http's request is drained so the close
/// resets nothing it has yet to read.
fn answer(mut conn: TcpStream) {
    let _ = conn.set_nonblocking(false);
    let _ = conn.write_all(ANSWER);
    let _ = conn.shutdown(std::net::Shutdown::Write);
    let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
    let mut buf = [0u8; 4096];
    while matches!(conn.read(&mut buf), Ok(n) if n > 0) {}
}

impl Daemon {
    /// As [`Daemon::start_on`], with the engine's open-files limit (soft
    /// and hard, so it cannot raise it) set to `nofile`.
    pub fn start_limited(config: &Path, state_dir: &Path, port: u16, nofile: u64) -> Daemon {
        let api: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        let log = state_dir.join("daemon.log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vedette"));
        cmd.args(["run", "--config"])
            .arg(config)
            .arg("--api")
            .arg(api.to_string())
            .arg("--state-dir")
            .arg(state_dir)
            .stderr(std::fs::File::create(&log).expect("log file"));
        let lim = libc::rlimit {
            rlim_cur: nofile,
            rlim_max: nofile,
        };
        // SAFETY: runs in the forked child before exec; setrlimit(2) is
        // async-signal-safe and only reads `lim`, a copy owned by the
        // closure.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
        let child = cmd.spawn().expect("spawn vedette run");
        let mut d = Daemon { child, api, log };
        let deadline = Instant::now() + Duration::from_secs(20);
        while vedette::api::client::request(api, "GET", "/v1/status", None).is_err() {
            if let Ok(Some(status)) = d.child.try_wait() {
                panic!("vedette run exited with {status}:\n{}", d.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "API never came up:\n{}",
                d.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        d
    }
}
