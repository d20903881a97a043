//! Segment files: `<first seq, 20 digits>.seg`, an 8-byte magic, then records.
//!
//! A segment is only ever appended to. When the one being written reaches
//! the roll size a new one starts, so acks and drops free disk space by
//! deleting whole files instead of rewriting them.

use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::error::{io_at, SpoolError};
use super::record::{self, Next};

/// First bytes of every segment; a file without them is not ours.
pub(crate) const MAGIC: &[u8; 8] = b"VDTSEG01";

const SUFFIX: &str = ".seg";

/// File name of the segment whose first record is `first_seq`.
pub(crate) fn file_name(first_seq: u64) -> String {
    format!("{first_seq:020}{SUFFIX}")
}

/// The first sequence number a segment file name stands for, if it is one.
pub(crate) fn parse_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SUFFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// What [`scan`] found in a segment.
#[derive(Debug)]
pub(crate) struct Scanned {
    /// `(seq, encoded size)` of every valid record, in order.
    pub records: Vec<(u64, u64)>,
    /// Length of the valid prefix: magic plus whole, valid records.
    pub valid_len: u64,
    /// Length of the file as found.
    pub file_len: u64,
}

/// Reads a segment and finds where its valid part ends.
///
/// A record is valid when it decodes, its CRC matches and its sequence
/// number is above `after` and above the record before it. The first bad
/// record and everything after it are the torn or corrupt tail.
pub(crate) fn scan(path: &Path, after: u64) -> Result<Scanned, SpoolError> {
    let file = File::open(path).map_err(io_at(path))?;
    let file_len = file.metadata().map_err(io_at(path))?.len();
    let mut scanned = Scanned {
        records: Vec::new(),
        valid_len: 0,
        file_len,
    };
    let mut r = BufReader::new(file);
    let mut magic = [0u8; MAGIC.len()];
    if std::io::Read::read_exact(&mut r, &mut magic).is_err() || &magic != MAGIC {
        return Ok(scanned);
    }
    scanned.valid_len = MAGIC.len() as u64;
    let mut last = after;
    let mut payload = Vec::new();
    while let Next::Record { seq } = record::read(&mut r, &mut payload).map_err(io_at(path))? {
        if seq <= last {
            break;
        }
        let size = record::HEADER_LEN + payload.len() as u64;
        scanned.records.push((seq, size));
        scanned.valid_len += size;
        last = seq;
    }
    Ok(scanned)
}

/// Reads `expected` records in order, the first of which is `first_seq`
/// at byte `offset`.
///
/// The spool's index says they are there; finding anything else means the
/// file changed behind the spool's back.
pub(crate) fn read_from(
    path: &Path,
    (offset, first_seq): (u64, u64),
    expected: usize,
) -> Result<Vec<(u64, Vec<u8>)>, SpoolError> {
    let mut file = File::open(path).map_err(io_at(path))?;
    let mut magic = [0u8; MAGIC.len()];
    if file.read_exact(&mut magic).is_err() || &magic != MAGIC {
        return Err(corrupt(path, "segment header missing"));
    }
    file.seek(SeekFrom::Start(offset)).map_err(io_at(path))?;
    let mut r = BufReader::new(file);
    let mut out = Vec::with_capacity(expected);
    let mut payload = Vec::new();
    while out.len() < expected {
        match record::read(&mut r, &mut payload).map_err(io_at(path))? {
            Next::Record { seq } if out.is_empty() && seq != first_seq => {
                return Err(corrupt(path, "a record is not where the index says"));
            }
            Next::Record { seq } => out.push((seq, payload.clone())),
            Next::End => return Err(corrupt(path, "records missing")),
            Next::Bad(reason) => return Err(corrupt(path, reason)),
        }
    }
    Ok(out)
}

fn corrupt(path: &Path, reason: &'static str) -> SpoolError {
    SpoolError::Corrupt {
        path: path.to_path_buf(),
        reason,
    }
}

/// Creates a new, empty segment for records from `first_seq` on and returns
/// it open for appending.
pub(crate) fn create(dir: &Path, first_seq: u64) -> Result<(PathBuf, File), SpoolError> {
    let path = dir.join(file_name(first_seq));
    let mut file = OpenOptions::new()
        .append(true)
        .create_new(true)
        .open(&path)
        .map_err(io_at(&path))?;
    file.write_all(MAGIC).map_err(io_at(&path))?;
    Ok((path, file))
}

/// Opens an existing segment for appending.
pub(crate) fn reopen(path: &Path) -> Result<File, SpoolError> {
    OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(io_at(path))
}

/// Cuts a segment back to `len` bytes and makes that durable.
pub(crate) fn truncate(path: &Path, len: u64) -> Result<(), SpoolError> {
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(io_at(path))?;
    file.set_len(len).map_err(io_at(path))?;
    file.sync_all().map_err(io_at(path))
}

/// Deletes a segment; one already gone is fine.
pub(crate) fn remove(path: &Path) -> Result<(), SpoolError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_at(path)(e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(file_name(42), "00000000000000000042.seg");
        assert_eq!(parse_name(&file_name(42)), Some(42));
        assert_eq!(parse_name(&file_name(u64::MAX)), Some(u64::MAX));
        for bad in [
            "42.seg",
            "0000000000000000004x.seg",
            "00000000000000000042.tmp",
            "99999999999999999999.seg",
            "spool.state",
        ] {
            assert_eq!(parse_name(bad), None, "{bad}");
        }
    }
}
