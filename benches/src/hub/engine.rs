//! The engine under test as a separate process (`vedette run`), so that
//! its CPU and memory are its own and not the load tool's, plus the one
//! API call the benchmarks need.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use super::procfs::ProcView;

/// A running `vedette run`, stopped (SIGTERM, then SIGKILL) on drop.
pub struct EngineProcess {
    child: Child,
    /// Where the API listens.
    pub api: SocketAddr,
    /// Where the agent endpoint listens.
    pub agent_addr: SocketAddr,
    /// The engine's stderr, for the error message if it dies.
    log: PathBuf,
    /// Its /proc files, opened at start.
    pub proc: ProcView,
}

/// The `vedette` binary beside this one (same target directory), unless
/// `explicit` names one.
pub fn binary(name: &str, explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    let me = std::env::current_exe().context("where is this binary")?;
    let path = me.with_file_name(name);
    if !path.is_file() {
        bail!(
            "{} not found; build it first (cargo build --release -p {})",
            path.display(),
            if name == "vedette" { "vedette" } else { name }
        );
    }
    Ok(path)
}

/// A loopback port free right now.
pub fn free_port() -> anyhow::Result<SocketAddr> {
    let l = TcpListener::bind("127.0.0.1:0").context("find a free port")?;
    Ok(l.local_addr()?)
}

impl EngineProcess {
    /// Starts `vedette run` on `config` and waits until its API answers
    /// `GET /v1/agents` with `expect_agents` hosts. A port taken between
    /// choosing it and the engine binding it (other load on the machine
    /// uses the same ephemeral range) means another try on new ports.
    pub fn start(
        vedette: &Path,
        config: &Path,
        state_dir: &Path,
        expect_agents: usize,
    ) -> anyhow::Result<EngineProcess> {
        let mut attempt = 1;
        loop {
            match EngineProcess::start_once(vedette, config, state_dir, expect_agents) {
                Err(e) if attempt < 3 && format!("{e:#}").contains("Address already in use") => {
                    eprintln!("engine start: a port was taken; trying other ports");
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    fn start_once(
        vedette: &Path,
        config: &Path,
        state_dir: &Path,
        expect_agents: usize,
    ) -> anyhow::Result<EngineProcess> {
        let api = free_port()?;
        let agent_addr = free_port()?;
        let log = state_dir.join("engine.log");
        let stderr = std::fs::File::create(&log).context("create the engine log")?;
        let child = Command::new(vedette)
            .arg("run")
            .arg("--config")
            .arg(config)
            .arg("--state-dir")
            .arg(state_dir)
            .arg("--api")
            .arg(api.to_string())
            .arg("--agent-listen")
            .arg(agent_addr.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("start {}", vedette.display()))?;
        let proc = ProcView::open(child.id()).context("open the engine's /proc files")?;
        let mut engine = EngineProcess {
            child,
            api,
            agent_addr,
            log,
            proc,
        };
        let t0 = Instant::now();
        loop {
            if let Some(status) = engine.child.try_wait()? {
                bail!("the engine exited ({status}): {}", engine.log_tail());
            }
            if let Ok(agents) = engine.agents() {
                if agents.len() == expect_agents && TcpStream::connect(agent_addr).is_ok() {
                    break;
                }
            }
            if t0.elapsed() > Duration::from_secs(120) {
                bail!("the engine did not come up in 120 s: {}", engine.log_tail());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        eprintln!(
            "engine pid {} up in {:.1}s (api {api}, agents {agent_addr})",
            engine.child.id(),
            t0.elapsed().as_secs_f64()
        );
        Ok(engine)
    }

    /// The engine's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `GET /v1/agents`.
    pub fn agents(&self) -> anyhow::Result<Vec<serde_json::Value>> {
        let body = http_get(self.api, "/v1/agents")?;
        let v: serde_json::Value = serde_json::from_slice(&body).context("/v1/agents JSON")?;
        match v {
            serde_json::Value::Array(a) => Ok(a),
            other => bail!("/v1/agents is not an array: {other}"),
        }
    }

    /// The last lines of the engine's log, for error messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(8)..].join("\n")
    }

    /// Log lines containing `needle`, counted.
    pub fn log_count(&self, needle: &str) -> usize {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(needle))
            .count()
    }
}

impl Drop for EngineProcess {
    fn drop(&mut self) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: kill(2) on our own child's pid, which we have not reaped.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(10) {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain HTTP/1.1 GET on loopback; the body of a 200 answer.
pub fn http_get(addr: SocketAddr, path: &str) -> anyhow::Result<Vec<u8>> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("HTTP answer without a header end")?;
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let body = &raw[split + 4..];
    if !head.starts_with("http/1.1 200") {
        bail!(
            "GET {path}: {}",
            head.lines().next().unwrap_or("no status line")
        );
    }
    if head.contains("transfer-encoding: chunked") {
        return dechunk(body);
    }
    Ok(body.to_vec())
}

/// Undoes chunked transfer encoding.
fn dechunk(mut body: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = body
            .windows(2)
            .position(|w| w == b"\r\n")
            .context("chunk size line")?;
        let size_text = std::str::from_utf8(&body[..eol])?;
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).context("chunk size")?;
        body = &body[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        let chunk = body.get(..size).context("chunk shorter than its size")?;
        out.extend_from_slice(chunk);
        body = body.get(size + 2..).unwrap_or_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dechunks() {
        let body = b"4\r\nWiki\r\n6;x=1\r\npedia \r\n0\r\n\r\n";
        assert_eq!(dechunk(body).expect("valid"), b"Wikipedia ");
        assert!(dechunk(b"9\r\nabc").is_err());
    }
}
