//! What the hub has applied for each agent, kept on disk so that a result
//! is applied at most once across engine restarts and crashes.
//!
//! `STATE_DIR/agents/ledger.jsonl` is an append-only log of per-host
//! counters (the last line of a host wins). A writer thread does group
//! commits: every update waiting when it wakes is appended and made durable
//! with one `fdatasync`, then each waiter is told. The hub sends an agent
//! its `Ack` only after that, so an acknowledged sequence number is never
//! forgotten; one applied in memory but not yet committed when the engine
//! dies is lost with the rest of the process's memory and applied again on
//! replay. The log is rewritten compactly when it outgrows its contents.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::files::{self, FileError};

/// File name under `STATE_DIR/agents/`.
pub const FILE: &str = "ledger.jsonl";

/// The log is compacted when larger than this many times its compact size
/// (and at least [`COMPACT_MIN_BYTES`]).
const COMPACT_FACTOR: u64 = 4;
const COMPACT_MIN_BYTES: u64 = 1 << 20;

/// One agent host's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Highest sequence number applied (or skipped as not assigned).
    pub applied_seq: u64,
    /// Results applied, over the host's life.
    pub applied: u64,
    /// Results refused because their sequence number was already applied.
    pub duplicates: u64,
}

#[derive(Serialize, Deserialize)]
struct Line<'a> {
    host: &'a str,
    #[serde(flatten)]
    counters: Counters,
}

/// Why the ledger could not be opened or written.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The file could not be read, written or synced.
    #[error("agent ledger {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The directory could not be made.
    #[error(transparent)]
    File(#[from] FileError),
    /// The writer thread is gone (the engine is stopping).
    #[error("agent ledger writer stopped")]
    Stopped,
}

struct Commit {
    host: Arc<str>,
    counters: Counters,
    done: tokio::sync::oneshot::Sender<Result<(), String>>,
}

/// Handle for committing counters; cheap to clone.
#[derive(Clone)]
pub struct Ledger {
    tx: crossbeam_channel::Sender<Commit>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ledger")
    }
}

impl Ledger {
    /// Opens (or creates) the ledger in `agents_dir`, returns the counters
    /// it holds and starts its writer thread. Lines that do not parse (a
    /// torn last line after a crash) are skipped with a warning.
    pub fn open(agents_dir: &Path) -> Result<(Ledger, HashMap<Arc<str>, Counters>), LedgerError> {
        files::ensure_dir(agents_dir)?;
        let path = agents_dir.join(FILE);
        let io = |source| LedgerError::Io {
            path: path.clone(),
            source,
        };
        let counters = load(&path).map_err(io)?;
        // Start from a compact file: also drops a torn tail.
        rewrite(&path, &counters).map_err(io)?;
        let file = OpenOptions::new().append(true).open(&path).map_err(io)?;
        let (tx, rx) = crossbeam_channel::unbounded();
        let mut writer = Writer {
            path: path.clone(),
            file,
            size: compact_size(&counters),
            all: counters.clone(),
        };
        std::thread::Builder::new()
            .name("agent-ledger".into())
            .spawn(move || writer.run(&rx))
            .map_err(io)?;
        Ok((Ledger { tx }, counters))
    }

    /// Makes `counters` of `host` durable; returns once they are on disk.
    pub async fn commit(&self, host: Arc<str>, counters: Counters) -> Result<(), LedgerError> {
        let (done, wait) = tokio::sync::oneshot::channel();
        self.tx
            .send(Commit {
                host,
                counters,
                done,
            })
            .map_err(|_| LedgerError::Stopped)?;
        match wait.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(LedgerError::Io {
                path: PathBuf::from(FILE),
                source: std::io::Error::other(e),
            }),
            Err(_) => Err(LedgerError::Stopped),
        }
    }
}

struct Writer {
    path: PathBuf,
    file: File,
    size: u64,
    all: HashMap<Arc<str>, Counters>,
}

impl Writer {
    fn run(&mut self, rx: &crossbeam_channel::Receiver<Commit>) {
        let mut batch = Vec::new();
        let mut text = Vec::new();
        while let Ok(first) = rx.recv() {
            batch.push(first);
            batch.extend(rx.try_iter());
            text.clear();
            for c in &batch {
                append_line(&mut text, &c.host, c.counters);
                let e = self.all.entry(Arc::clone(&c.host)).or_default();
                // Commits of one host may race; never go backwards.
                if c.counters.applied_seq >= e.applied_seq {
                    *e = c.counters;
                }
            }
            let result = self.write(&text).map_err(|e| {
                tracing::error!(file = %self.path.display(), error = %e, "Cannot write the agent ledger");
                e.to_string()
            });
            for c in batch.drain(..) {
                let _ = c.done.send(result.clone());
            }
        }
    }

    fn write(&mut self, text: &[u8]) -> std::io::Result<()> {
        self.file.write_all(text)?;
        self.file.sync_data()?;
        self.size += text.len() as u64;
        let compact = compact_size(&self.all);
        if self.size > COMPACT_MIN_BYTES.max(compact * COMPACT_FACTOR) {
            rewrite(&self.path, &self.all)?;
            self.file = OpenOptions::new().append(true).open(&self.path)?;
            self.size = compact;
        }
        Ok(())
    }
}

fn append_line(out: &mut Vec<u8>, host: &str, counters: Counters) {
    // Serialising plain strings and integers cannot fail.
    if serde_json::to_writer(&mut *out, &Line { host, counters }).is_ok() {
        out.push(b'\n');
    }
}

fn compact_size(all: &HashMap<Arc<str>, Counters>) -> u64 {
    // An estimate is enough to decide when to compact.
    all.keys().map(|h| h.len() as u64 + 64).sum()
}

fn load(path: &Path) -> std::io::Result<HashMap<Arc<str>, Counters>> {
    let mut out: HashMap<Arc<str>, Counters> = HashMap::new();
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for (n, line) in BufReader::new(file).split(b'\n').enumerate() {
        let line = line?;
        match serde_json::from_slice::<Line>(&line) {
            Ok(l) => {
                let e = out.entry(l.host.into()).or_default();
                if l.counters.applied_seq >= e.applied_seq {
                    *e = l.counters;
                }
            }
            Err(e) => tracing::warn!(
                file = %path.display(),
                line = n + 1,
                error = %e,
                "Agent ledger line skipped"
            ),
        }
    }
    Ok(out)
}

fn rewrite(path: &Path, all: &HashMap<Arc<str>, Counters>) -> std::io::Result<()> {
    let mut text = Vec::with_capacity(compact_size(all) as usize);
    for (host, c) in all {
        append_line(&mut text, host, *c);
    }
    files::write_atomic(path, &text, files::PRIVATE).map_err(std::io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(seq: u64, applied: u64, dup: u64) -> Counters {
        Counters {
            applied_seq: seq,
            applied,
            duplicates: dup,
        }
    }

    #[tokio::test]
    async fn commits_survive_reopen_and_torn_tails() {
        let dir = crate::hub::TestDir::new("ledger");
        {
            let (ledger, found) = Ledger::open(&dir).expect("open");
            assert!(found.is_empty());
            ledger
                .commit("web".into(), c(5, 5, 0))
                .await
                .expect("commit");
            ledger
                .commit("db".into(), c(2, 2, 0))
                .await
                .expect("commit");
            ledger
                .commit("web".into(), c(9, 8, 1))
                .await
                .expect("commit");
            // A stale commit (raced by a newer one) does not win.
            ledger
                .commit("web".into(), c(7, 7, 0))
                .await
                .expect("commit");
        }
        // A crash mid-append leaves a torn line.
        let path = dir.join(FILE);
        let mut f = OpenOptions::new().append(true).open(&path).expect("append");
        f.write_all(br#"{"host":"web","applied_se"#).expect("torn");
        drop(f);
        let (_ledger, found) = Ledger::open(&dir).expect("reopen");
        assert_eq!(found.get("web"), Some(&c(9, 8, 1)));
        assert_eq!(found.get("db"), Some(&c(2, 2, 0)));
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text.lines().count(), 2, "compacted at open: {text}");
    }

    #[tokio::test]
    async fn compacts_when_large() {
        let dir = crate::hub::TestDir::new("ledger-compact");
        let (ledger, _) = Ledger::open(&dir).expect("open");
        // Concurrent commits share fsyncs (group commit), which keeps this
        // quick.
        let commits = (1..=25_000u64).map(|seq| ledger.commit("h".into(), c(seq, seq, 0)));
        for r in futures_util::future::join_all(commits).await {
            r.expect("commit");
        }
        let size = std::fs::metadata(dir.join(FILE)).expect("stat").len();
        assert!(size <= COMPACT_MIN_BYTES + 100, "{size}");
        drop(ledger);
        let (_l, found) = Ledger::open(&dir).expect("reopen");
        assert_eq!(found.get("h"), Some(&c(25_000, 25_000, 0)));
    }
}
