//! Running one plugin process: spawn, capture, time out, reap.
//!
//! Ground rules, all from Nagios 4's worker (`lib/worker.c`):
//! - the plugin leads its own process group, so a timeout can kill it and
//!   everything it started (`sh -c`, its `sleep`s, its pipes) in one go;
//! - stdin is `/dev/null`; stdout and stderr are read concurrently, each
//!   kept up to the caller's cap ([`OUTPUT_CAP`] for Nagios' rules) and the
//!   rest read and dropped, so a chatty plugin never blocks on a full pipe;
//! - the child is always reaped, also after a timeout; if the future is
//!   dropped half-way (shard shutting down), [`GroupKill`] kills the group.

use std::ffi::OsStr;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

/// Most bytes kept of a plugin's stdout (and, separately, stderr). Nagios
/// keeps far less in practice (its buffers and the 8 KiB
/// `MAX_PLUGIN_OUTPUT_LENGTH` of older releases); 64 KiB holds any sane long
/// output and bounds memory at 128 KiB per running plugin.
pub const OUTPUT_CAP: usize = 64 * 1024;

/// How a plugin run ended.
#[derive(Debug)]
pub enum Finished {
    /// The process exited by itself.
    Exited {
        /// Its exit code.
        code: i32,
        /// Captured stdout (capped).
        stdout: Vec<u8>,
        /// Captured stderr (capped).
        stderr: Vec<u8>,
    },
    /// The process was killed by a signal it did not get from us.
    Signaled {
        /// The signal number.
        signal: i32,
        /// Captured stdout (capped).
        stdout: Vec<u8>,
    },
    /// The timeout passed; the process group was killed and reaped.
    TimedOut,
    /// The process could not be started (or waited for).
    Failed(io::Error),
}

/// Runs `program args...` with the rules above and a `timeout` covering
/// the whole run (reading output to EOF and the exit), keeping at most
/// `cap` bytes of stdout and of stderr.
pub async fn run<I>(program: &str, args: I, timeout: Duration, cap: usize) -> Finished
where
    I: IntoIterator,
    I::Item: AsRef<OsStr>,
{
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => return Finished::Failed(e),
    };
    // With `process_group(0)` the group id is the child's pid. `id()` is
    // only `None` once the child was reaped, which cannot have happened yet.
    let Some(pgid) = child.id().and_then(|id| i32::try_from(id).ok()) else {
        return Finished::Failed(io::Error::other("plugin has no process id"));
    };
    let mut group = GroupKill { pgid, armed: true };
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();

    let work = async {
        let (out, err) = tokio::join!(read_capped(stdout, cap), read_capped(stderr, cap));
        (out, err, child.wait().await)
    };
    // Bound to a local so the future (and its borrow of `child`) is gone
    // before the arms below use `child` again.
    let outcome = tokio::time::timeout(timeout, work).await;
    let finished = match outcome {
        Ok((stdout, stderr, Ok(status))) => match (status.code(), status.signal()) {
            (Some(code), _) => Finished::Exited {
                code,
                stdout,
                stderr,
            },
            (None, Some(signal)) => Finished::Signaled { signal, stdout },
            (None, None) => Finished::Failed(io::Error::other("plugin ended without status")),
        },
        Ok((_, _, Err(e))) => Finished::Failed(e),
        Err(_elapsed) => {
            group.kill();
            // SIGKILL cannot be ignored; this wait is short. Reaping keeps
            // the pid (and so the group id) ours until the group is dead.
            let _ = child.wait().await;
            Finished::TimedOut
        }
    };
    group.armed = false;
    finished
}

/// Reads a pipe to EOF, keeping the first `cap` bytes.
async fn read_capped<R: AsyncRead + Unpin>(pipe: Option<R>, cap: usize) -> Vec<u8> {
    let mut kept = Vec::new();
    let Some(mut pipe) = pipe else {
        return kept;
    };
    let mut chunk = [0u8; 4096];
    loop {
        match pipe.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = cap.saturating_sub(kept.len()).min(n);
                kept.extend_from_slice(&chunk[..room]);
            }
        }
    }
    kept
}

/// Kills a plugin's process group, on timeout or when dropped while armed.
struct GroupKill {
    pgid: i32,
    armed: bool,
}

impl GroupKill {
    fn kill(&mut self) {
        self.armed = false;
        // SAFETY: kill(2) takes plain integers and touches no memory of
        // ours. `pgid` is the pid of a child we have not reaped yet, so the
        // group id cannot have been reused by an unrelated process group.
        // Errors (ESRCH: the group is already gone) need no handling.
        unsafe {
            libc::kill(-self.pgid, libc::SIGKILL);
        }
    }
}

impl Drop for GroupKill {
    fn drop(&mut self) {
        if self.armed {
            self.kill();
        }
    }
}
