//! One agent per state directory: two agents sharing a spool would hand
//! out the same sequence numbers and corrupt each other's segments, so the
//! second one refuses to start.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

const FILE: &str = "agent.lock";

/// Holds the state directory's lock until dropped (or the process ends).
#[derive(Debug)]
pub struct StateLock {
    _file: File,
}

/// Why the lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds it.
    #[error("another vedette-agent is running with state directory {0}")]
    Busy(PathBuf),
    /// The lock file cannot be opened or locked.
    #[error("{path}: {source}")]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

impl StateLock {
    /// Takes the lock of `state_dir` (which must exist), without waiting.
    pub fn acquire(state_dir: &Path) -> Result<StateLock, LockError> {
        let path = state_dir.join(FILE);
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| LockError::Io {
                path: path.clone(),
                source,
            })?;
        // SAFETY: flock(2) on a descriptor this `File` owns and keeps open
        // for as long as the lock is meant to last; no memory is touched.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            return Err(if err.kind() == std::io::ErrorKind::WouldBlock {
                LockError::Busy(state_dir.to_path_buf())
            } else {
                LockError::Io { path, source: err }
            });
        }
        Ok(StateLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_until_the_first_lets_go() {
        let dir = std::env::temp_dir().join(format!("vedette-agent-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let first = StateLock::acquire(&dir).expect("first");
        let err = StateLock::acquire(&dir).expect_err("busy");
        assert!(matches!(err, LockError::Busy(_)), "{err}");
        drop(first);
        StateLock::acquire(&dir).expect("free again");
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
