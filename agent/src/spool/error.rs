//! What can go wrong in the spool.

use std::io;
use std::path::PathBuf;

/// Errors from [`Spool`](super::Spool).
///
/// `Io` is usually transient from the caller's point of view (a full disk,
/// a permission changed): the spool stays usable and the call may be
/// retried. `CorruptState` and `Corrupt` need an operator: the files were
/// changed behind the spool's back. `TooLarge`, `InvalidCap` and
/// `AckBeyondEnd` are caller mistakes and change nothing.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// A file operation failed.
    #[error("spool I/O on {path}: {source}")]
    Io {
        /// The file or directory the operation was on.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The state file (next sequence number, ack floor, drop count) does not
    /// decode. It is written atomically, so this means outside damage.
    #[error("spool state file {path} is corrupt: {reason}")]
    CorruptState {
        /// The state file.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A segment that was valid at open no longer holds the records the
    /// spool indexed: it changed on disk while the spool was open.
    #[error("spool segment {path} changed on disk: {reason}")]
    Corrupt {
        /// The segment file.
        path: PathBuf,
        /// What did not match.
        reason: &'static str,
    },
    /// The record can never fit: it is larger than the cap or the per-record
    /// limit.
    #[error("record of {len} bytes does not fit the spool (limit {limit} bytes)")]
    TooLarge {
        /// Encoded size of the record, header included.
        len: u64,
        /// The limit it broke.
        limit: u64,
    },
    /// The configured cap cannot hold even one empty record.
    #[error("spool cap of {max_bytes} bytes is below the minimum of {min} bytes")]
    InvalidCap {
        /// The cap asked for.
        max_bytes: u64,
        /// The smallest usable cap.
        min: u64,
    },
    /// An ack for a sequence number that was never issued.
    #[error("ack up to sequence {seq}, but the highest issued is {last}")]
    AckBeyondEnd {
        /// The sequence number acknowledged.
        seq: u64,
        /// The highest sequence number issued so far (0: none yet).
        last: u64,
    },
}

/// Wraps an `io::Error` with the path it happened on.
pub(crate) fn io_at(path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> SpoolError {
    let path = path.into();
    move |source| SpoolError::Io { path, source }
}
