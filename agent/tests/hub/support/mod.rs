//! What the agent's integration tests share: temporary directories, free
//! loopback ports, the `vedette` and `vedette-agent` binaries run as real
//! processes (killed on drop), a minimal HTTP GET for the engine's API and
//! a TCP proxy that can cut connections.

pub mod proxy;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    /// A fresh, empty directory.
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "vedette-agent-it-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    /// A path inside it.
    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
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

/// The target directory these tests were built in.
fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    // target/debug/deps/hub-HASH
    let exe = std::env::current_exe().expect("test binary path");
    exe.ancestors()
        .nth(3)
        .expect("test binary lives in TARGET/debug/deps")
        .to_path_buf()
}

/// The `vedette` engine binary, built once per test run.
pub fn vedette_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let target = target_dir();
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = Command::new(&cargo)
            .args(["build", "-q", "-p", "vedette", "--bin", "vedette"])
            .env("CARGO_TARGET_DIR", &target)
            .current_dir(&workspace)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {cargo} to build the vedette binary: {e}"));
        assert!(
            out.status.success(),
            "building the vedette binary (cargo build -p vedette --bin vedette) failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let bin = target.join("debug").join("vedette");
        assert!(
            bin.is_file(),
            "vedette binary not found at {}",
            bin.display()
        );
        bin
    })
    .clone()
}

/// The agent binary under test.
pub fn agent_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_vedette-agent"))
}

/// A child process with its stderr in a file; SIGKILLed on drop.
pub struct Proc {
    child: Child,
    log: PathBuf,
    name: String,
}

impl Proc {
    /// Starts `bin args...`, stderr (and stdout) to `log`.
    pub fn start(name: &str, bin: &Path, args: &[&str], log: PathBuf) -> Proc {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("log file");
        let child = Command::new(bin)
            .args(args)
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log fd"))
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
        Proc {
            child,
            log,
            name: name.to_string(),
        }
    }

    /// Everything it logged so far (also earlier runs with the same log).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends `signal` (libc number).
    pub fn signal(&self, signal: i32) {
        let pid = i32::try_from(self.child.id()).expect("pid");
        // SAFETY: kill(2) with plain integers; the child is not reaped yet.
        unsafe {
            libc::kill(pid, signal);
        }
    }

    /// Waits up to `limit` for it to exit.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Panics with its log if it has exited.
    pub fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().expect("try_wait") {
            panic!("{} exited with {status}:\n{}", self.name, self.log_text());
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `f` every 50 ms until it returns `Some` or `limit` passes.
pub fn wait_for<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `GET path` on 127.0.0.1:`port`: status and body, or `None` if nothing
/// answers.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Some((status, body))
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// The engine: `vedette run` with its API and agent endpoint on ports of
/// the test's own.
pub struct Engine {
    /// The process.
    pub proc: Proc,
    /// API port.
    pub api: u16,
    state: PathBuf,
}

impl Engine {
    /// Starts the engine on `config` and waits for its API.
    pub fn start(config: &Path, state: &Path, api: u16, agent_port: u16) -> Engine {
        let log = state.join("engine.log");
        let args = [
            "run",
            "--config",
            config.to_str().expect("utf-8 path"),
            "--state-dir",
            state.to_str().expect("utf-8 path"),
            "--api",
            &format!("127.0.0.1:{api}"),
            "--agent-listen",
            &format!("127.0.0.1:{agent_port}"),
        ];
        let mut proc = Proc::start("vedette", &vedette_bin(), &args, log);
        let up = wait_for(Duration::from_secs(20), || {
            proc.assert_running();
            let api_up = http_get(api, "/v1/status").is_some_and(|(s, _)| s == 200);
            let agent_up = TcpStream::connect(("127.0.0.1", agent_port)).is_ok();
            (api_up && agent_up).then_some(())
        });
        assert!(up.is_some(), "engine never came up:\n{}", proc.log_text());
        Engine {
            proc,
            api,
            state: state.to_path_buf(),
        }
    }

    /// `GET path` as JSON, `None` unless 200.
    pub fn get(&self, path: &str) -> Option<serde_json::Value> {
        let (status, body) = http_get(self.api, path)?;
        if status != 200 {
            return None;
        }
        serde_json::from_str(&body).ok()
    }

    /// `vedette agent revoke HOST`.
    pub fn revoke(&self, host: &str) {
        let state = self.state.to_str().expect("utf-8 path");
        let out = Command::new(vedette_bin())
            .args(["agent", "revoke", host, "--state-dir", state])
            .output()
            .expect("run vedette agent revoke");
        assert!(
            out.status.success(),
            "vedette agent revoke failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `vedette agent token --host HOST --ttl TTL`: the token.
    pub fn token(&self, host: &str, ttl: &str) -> String {
        let state = self.state.to_str().expect("utf-8 path");
        let out = Command::new(vedette_bin())
            .args(["agent", "token", "--host", host, "--ttl", ttl])
            .args(["--state-dir", state])
            .output()
            .expect("run vedette agent token");
        assert!(
            out.status.success(),
            "vedette agent token failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        stdout
            .lines()
            .last()
            .expect("token on the last line")
            .trim()
            .to_string()
    }
}

/// Starts `vedette-agent run` against 127.0.0.1:`port` with `extra` flags.
pub fn start_agent(port: u16, state: &Path, extra: &[&str]) -> Proc {
    let server = format!("127.0.0.1:{port}");
    let mut args = vec![
        "run",
        "--server",
        &server,
        "--state-dir",
        state.to_str().expect("utf-8 path"),
    ];
    args.extend_from_slice(extra);
    std::fs::create_dir_all(state).expect("agent state dir");
    let log = state
        .parent()
        .expect("state dir has a parent")
        .join("agent.log");
    Proc::start("vedette-agent", &agent_bin(), &args, log)
}
