//! Running Nagios 4 or Icinga 2 by hand: in the foreground as a child of
//! this process, in a process group of its own, stopped by PID; and
//! measuring one window of it from its perfdata file and /proc.
//!
//! Both daemons write one perfdata line per service check result, with the
//! template `TIMET \t LATENCY \t STATE_ID` (see [`parse_line`]). The file is
//! read after the daemon stopped, when it has flushed it; whole-second
//! timestamps are exact because the window starts and ends on a whole
//! second.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;

use super::run::{median, Run};
use super::tree;

/// How long a daemon may take to load its config and start checking.
const START_TIMEOUT: Duration = Duration::from_secs(90);

/// How long a daemon may take to exit after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// How to start one daemon and know it is up.
pub struct Spec {
    /// Name for messages.
    pub name: &'static str,
    /// The program.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// The file the daemon writes `ready` to once it runs its checks.
    pub ready_file: PathBuf,
    /// The text that says it is up.
    pub ready: &'static str,
    /// The directory its service perfdata file(s) land in, names starting
    /// with `service`.
    pub perf_dir: PathBuf,
}

/// A running daemon; SIGTERM by PID on drop (SIGKILL to its group when it
/// does not exit), so no daemon outlives a failed run.
struct Running {
    child: Child,
    name: &'static str,
}

impl Running {
    fn start(spec: &Spec, dir: &Path) -> anyhow::Result<Running> {
        let out = std::fs::File::create(dir.join(format!("{}.out", spec.name)))?;
        let mut cmd = Command::new(&spec.program);
        cmd.args(&spec.args)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .process_group(0);
        // SAFETY: prctl(2) is async-signal-safe and touches no memory of ours.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("start {}", spec.program.display()))?;
        Ok(Running {
            child,
            name: spec.name,
        })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until `ready_file` holds `ready`, failing early on exit.
    fn wait_ready(&mut self, spec: &Spec) -> anyhow::Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let text = std::fs::read_to_string(&spec.ready_file).unwrap_or_default();
            if text.contains(spec.ready) {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                anyhow::bail!("{} exited with {status}: {}", self.name, tail(&text));
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "{} did not log `{}` within {:?}: {}",
                self.name,
                spec.ready,
                START_TIMEOUT,
                tail(&text)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// SIGTERM, so the daemon flushes its perfdata file, then waits.
    fn stop(&mut self) -> anyhow::Result<()> {
        let pid = libc::pid_t::try_from(self.pid())?;
        // SAFETY: kill(2) on our own child's PID, which we have not reaped.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + STOP_TIMEOUT;
        while self.child.try_wait()?.is_none() {
            anyhow::ensure!(
                Instant::now() < deadline,
                "{} did not exit within {STOP_TIMEOUT:?} of SIGTERM",
                self.name
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        if self.stop().is_err() {
            if let Ok(pid) = libc::pid_t::try_from(self.pid()) {
                // SAFETY: kill(2) on the process group this child leads.
                unsafe { libc::kill(-pid, libc::SIGKILL) };
            }
            let _ = self.child.wait();
        }
    }
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().rev().take(5).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
}

/// Starts the daemon, waits for it, warms up one `interval`, measures a
/// `duration` window (rounded up to whole seconds) and stops it.
///
/// # Errors
/// When it does not start, exits early, does not stop, or its perfdata
/// cannot be read.
pub fn run(
    spec: &Spec,
    dir: &Path,
    offered: f64,
    interval: Duration,
    duration: Duration,
) -> anyhow::Result<Run> {
    let mut d = Running::start(spec, dir)?;
    d.wait_ready(spec)?;
    std::thread::sleep(interval + Duration::from_secs(2));
    // Start on a whole second: the perfdata timestamps are whole seconds.
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?;
    std::thread::sleep(
        Duration::from_secs(1).saturating_sub(Duration::from_nanos(u64::from(now.subsec_nanos()))),
    );
    let t0 = SystemTime::now()
        .duration_since(UNIX_EPOCH)?
        .as_secs_f64()
        .round() as u64;
    let w0 = Instant::now();
    let (cpu0, _) = tree::usage(d.pid());
    let secs = duration.as_secs_f64().ceil().max(3.0) as u64;
    std::thread::sleep(Duration::from_secs(secs));
    let (cpu1, rss) = tree::usage(d.pid());
    // Over the time between the two reads, which a loaded machine
    // stretches beyond `secs`.
    let cpu_share = (cpu1 - cpu0) / w0.elapsed().as_secs_f64();
    d.stop()?;
    let lines = read_perf(&spec.perf_dir)?;
    anyhow::ensure!(
        !lines.is_empty(),
        "{} wrote no perfdata lines in {}",
        spec.name,
        spec.perf_dir.display()
    );
    Ok(summarise(&lines, t0, secs, offered, cpu_share, rss))
}

/// One check result: when it was processed, its latency, its state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Line {
    /// Unix time, whole seconds.
    pub t: u64,
    /// Seconds from due to started.
    pub latency: f64,
    /// 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
    pub state: u8,
}

/// Parses `TIMET \t LATENCY \t STATE_ID`; None for anything else.
pub fn parse_line(l: &str) -> Option<Line> {
    let mut f = l.split('\t');
    let line = Line {
        t: f.next()?.trim().parse().ok()?,
        latency: f.next()?.trim().parse().ok()?,
        state: f.next()?.trim().parse().ok()?,
    };
    f.next().is_none().then_some(line)
}

fn read_perf(dir: &Path) -> anyhow::Result<Vec<Line>> {
    let mut lines = Vec::new();
    for e in std::fs::read_dir(dir).with_context(|| format!("read {}", dir.display()))? {
        let e = e?;
        if !e.file_name().to_string_lossy().starts_with("service") {
            continue;
        }
        let text = std::fs::read_to_string(e.path())?;
        lines.extend(text.lines().filter_map(parse_line));
    }
    Ok(lines)
}

/// The window `[t0, t0 + secs)` of `lines`, with the CPU share and
/// memory measured over it.
pub fn summarise(
    lines: &[Line],
    t0: u64,
    secs: u64,
    offered: f64,
    cpu_share: f64,
    rss: u64,
) -> Run {
    let third = secs / 3;
    let (mut done, mut ok) = (0u64, 0u64);
    let (mut first, mut last) = (Vec::new(), Vec::new());
    for l in lines.iter().filter(|l| l.t >= t0 && l.t < t0 + secs) {
        done += 1;
        ok += u64::from(l.state == 0);
        if l.t < t0 + third {
            first.push(l.latency);
        } else if l.t >= t0 + secs - third {
            last.push(l.latency);
        }
    }
    let wall = secs as f64;
    Run {
        offered,
        done: done as f64 / wall,
        ok: ok as f64 / wall,
        cpu_share,
        rss_bytes: rss,
        latency_s: [median(&mut first), median(&mut last)],
        example: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perf_lines() {
        assert_eq!(
            parse_line("1700000000\t0.012\t0"),
            Some(Line {
                t: 1_700_000_000,
                latency: 0.012,
                state: 0
            })
        );
        for bad in ["", "1700000000\t0.1", "x\t0.1\t0", "1\t0.1\t0\textra"] {
            assert_eq!(parse_line(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn window_counts_only_its_seconds() {
        let l = |t, latency, state| Line { t, latency, state };
        let lines = [
            l(99, 9.0, 0),
            l(100, 0.1, 0),
            l(101, 0.1, 2),
            l(104, 0.2, 0),
            l(105, 0.3, 0),
            l(106, 9.0, 0),
        ];
        let r = summarise(&lines, 100, 6, 1.0, 0.5, 0);
        assert_eq!((r.done, r.ok, r.cpu_share), (4.0 / 6.0, 3.0 / 6.0, 0.5));
        assert_eq!(r.latency_s, [0.1, 0.3]);
    }
}
