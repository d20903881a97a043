//! Shared helpers: paths, the `vedette` binary, temporary directories,
//! a running daemon; `probes` holds the probe tests' peers, `nginx` the
//! http probe's.

pub mod agent_client;
pub mod dnsmasq;
pub mod held;
pub mod netns;
pub mod nginx;
pub mod probes;
pub mod snmpd;
pub mod tcp_fixtures;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The engine crate's directory.
pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A test fixture path.
pub fn fixture(rel: &str) -> PathBuf {
    crate_dir().join("tests/fixtures").join(rel)
}

/// The repository's `configs/` directory.
pub fn configs_dir() -> PathBuf {
    crate_dir().join("../configs")
}

/// Runs the `vedette` binary with `args`.
pub fn vedette(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vedette"))
        .args(args)
        .output()
        .expect("run the vedette binary")
}

/// A temporary directory removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates a fresh directory named after `tag`.
    pub fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "vedette-test-{tag}-{}-{}",
            std::process::id(),
            unique()
        ));
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// A `vedette run` child process with its API address; SIGKILLed on drop
/// if still running.
pub struct Daemon {
    child: std::process::Child,
    /// The API address.
    pub api: std::net::SocketAddr,
    /// Captured stderr goes here.
    pub log: PathBuf,
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    // Below the kernel's ephemeral range (32768 up): a port from that range
    // can be taken as the source port of any outgoing connection between
    // this choice and the bind, and the kernel may hand the same one to two
    // binds in a row. No port is handed out twice in one test process.
    static NEXT: std::sync::Mutex<u16> = std::sync::Mutex::new(0);
    let mut next = NEXT.lock().unwrap_or_else(|e| e.into_inner());
    if *next == 0 {
        // Test binaries run one after another; spreading them by pid keeps
        // a lingering peer of the last one out of the way.
        *next = 20_000 + (std::process::id() % 1_000) as u16 * 10;
    }
    loop {
        let port = *next;
        *next = if port >= 32_000 { 20_000 } else { port + 1 };
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

impl Daemon {
    /// Starts `vedette run` on `config` with its API on `port` and waits
    /// until the API answers.
    pub fn start_on(config: &Path, state_dir: &Path, port: u16) -> Daemon {
        Daemon::start_with(config, state_dir, port, &[])
    }

    /// As [`Daemon::start_on`], with more `vedette run` arguments.
    pub fn start_with(config: &Path, state_dir: &Path, port: u16, extra: &[&str]) -> Daemon {
        let api: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        let log = state_dir.join("daemon.log");
        let child = Command::new(env!("CARGO_BIN_EXE_vedette"))
            .args(["run", "--config"])
            .arg(config)
            .arg("--api")
            .arg(api.to_string())
            .arg("--state-dir")
            .arg(state_dir)
            .args(extra)
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("spawn vedette run");
        let mut d = Daemon { child, api, log };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while vedette::api::client::request(api, "GET", "/v1/status", None).is_err() {
            if let Ok(Some(status)) = d.child.try_wait() {
                panic!("vedette run exited with {status}:\n{}", d.log_text());
            }
            assert!(
                std::time::Instant::now() < deadline,
                "API never came up:\n{}",
                d.log_text()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        d
    }

    /// The daemon's stderr so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// GET, expecting 200 and JSON.
    pub fn get(&self, path: &str) -> serde_json::Value {
        let a = vedette::api::client::request(self.api, "GET", path, None).expect("GET");
        assert_eq!(a.status, 200, "GET {path}: {}", a.body);
        serde_json::from_str(&a.body).expect("JSON")
    }

    /// POST a JSON body; returns status and parsed body.
    pub fn post(&self, path: &str, body: &str) -> (u16, serde_json::Value) {
        let a = vedette::api::client::request(self.api, "POST", path, Some(body)).expect("POST");
        (
            a.status,
            serde_json::from_str(&a.body).unwrap_or(serde_json::Value::Null),
        )
    }

    /// Sends a signal to the daemon.
    pub fn signal(&self, sig: i32) {
        let pid = i32::try_from(self.child.id()).expect("pid");
        // SAFETY: plain kill(2) on our own child's pid.
        let rc = unsafe { libc::kill(pid, sig) };
        assert_eq!(rc, 0, "kill({pid}, {sig})");
    }

    /// SIGTERM, then the exit status (within 10 s).
    pub fn stop(mut self) -> std::process::ExitStatus {
        self.signal(libc::SIGTERM);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                return s;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "did not stop on SIGTERM:\n{}",
                self.log_text()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `f` every 50 ms until it returns `Some`, or panics after `secs`.
pub fn wait_for<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Fails with the package to install when a monitoring plugin is missing.
pub fn plugin(name: &str) -> PathBuf {
    let p = PathBuf::from("/usr/lib/nagios/plugins").join(name);
    assert!(
        p.exists(),
        "{} is missing: install Debian's monitoring plugins (apt-get install monitoring-plugins-basic monitoring-plugins-standard)",
        p.display()
    );
    p
}
