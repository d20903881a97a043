//! The spool's small state file: next sequence number, ack floor, drop count.
//!
//! Segments alone cannot say which sequence number comes next once every
//! record was acked and the files deleted, nor how many records were
//! dropped, so these live here. The file is replaced atomically (write a
//! temporary file, fsync, rename, fsync the directory): a crash leaves
//! either the old or the new state, never a mix.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::error::{io_at, SpoolError};

/// Name of the state file inside the spool directory.
pub(crate) const FILE_NAME: &str = "spool.state";

/// Name of the temporary file a new state is written to before the rename.
pub(crate) const TMP_NAME: &str = "spool.state.tmp";

const MAGIC: &[u8; 8] = b"VDTSTAT1";

/// Encoded size: magic, three u64, CRC32.
const LEN: usize = 8 + 3 * 8 + 4;

/// The persisted counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct State {
    /// No sequence number at or above this was ever handed out. While the
    /// spool is open it runs ahead of the next push (a reservation, so that
    /// pushing does not write this file each time); a clean close brings it
    /// back to the exact next number. Starts at 1 so that 0 can mean
    /// "nothing yet" in acks.
    pub next_seq: u64,
    /// Records below this were acked or dropped.
    pub floor: u64,
    /// Records discarded because the spool was full, over its whole life.
    pub dropped: u64,
}

impl State {
    /// The state of a spool that never held anything.
    pub(crate) const FRESH: State = State {
        next_seq: 1,
        floor: 1,
        dropped: 0,
    };

    fn encode(&self) -> [u8; LEN] {
        let mut out = [0u8; LEN];
        out[..8].copy_from_slice(MAGIC);
        out[8..16].copy_from_slice(&self.next_seq.to_le_bytes());
        out[16..24].copy_from_slice(&self.floor.to_le_bytes());
        out[24..32].copy_from_slice(&self.dropped.to_le_bytes());
        let crc = crc32fast::hash(&out[..32]);
        out[32..].copy_from_slice(&crc.to_le_bytes());
        out
    }

    fn decode(buf: &[u8]) -> Result<State, &'static str> {
        if buf.len() != LEN {
            return Err("wrong size");
        }
        if &buf[..8] != MAGIC {
            return Err("not a spool state file");
        }
        let word = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&buf[at..at + 8]);
            u64::from_le_bytes(b)
        };
        let crc = u32::from_le_bytes([buf[32], buf[33], buf[34], buf[35]]);
        if crc32fast::hash(&buf[..32]) != crc {
            return Err("checksum mismatch");
        }
        let state = State {
            next_seq: word(8),
            floor: word(16),
            dropped: word(24),
        };
        if state.floor == 0 || state.floor > state.next_seq {
            return Err("ack floor outside the issued sequence numbers");
        }
        Ok(state)
    }
}

/// Reads the state file; `None` when there is none yet.
pub(crate) fn load(dir: &Path) -> Result<Option<State>, SpoolError> {
    let path = dir.join(FILE_NAME);
    let buf = match fs::read(&path) {
        Ok(buf) => buf,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_at(path)(e)),
    };
    State::decode(&buf)
        .map(Some)
        .map_err(|reason| SpoolError::CorruptState { path, reason })
}

/// Replaces the state file atomically and durably.
pub(crate) fn store(dir: &Path, state: &State) -> Result<(), SpoolError> {
    let tmp = dir.join(TMP_NAME);
    let mut file = File::create(&tmp).map_err(io_at(&tmp))?;
    file.write_all(&state.encode()).map_err(io_at(&tmp))?;
    file.sync_all().map_err(io_at(&tmp))?;
    let path = dir.join(FILE_NAME);
    fs::rename(&tmp, &path).map_err(io_at(&path))?;
    sync_dir(dir)
}

/// Makes renames, creations and deletions in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), SpoolError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_at(PathBuf::from(dir)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let s = State {
            next_seq: 42,
            floor: 40,
            dropped: 3,
        };
        assert_eq!(State::decode(&s.encode()), Ok(s));
    }

    #[test]
    fn damage_is_refused() {
        let good = State::FRESH.encode();
        for at in 0..LEN {
            let mut bad = good;
            bad[at] ^= 1;
            assert!(State::decode(&bad).is_err(), "flip at {at}");
        }
        assert_eq!(State::decode(&good[..10]), Err("wrong size"));
        assert_eq!(State::decode(&[]), Err("wrong size"));
    }

    #[test]
    fn floor_past_next_is_refused() {
        let s = State {
            next_seq: 5,
            floor: 6,
            dropped: 0,
        };
        assert!(State::decode(&s.encode()).is_err());
    }
}
