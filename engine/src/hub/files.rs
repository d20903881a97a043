//! File plumbing shared by the hub's stores: atomic writes with a chosen
//! mode, JSON documents that may not exist yet, and a cross-process lock.
//!
//! The CLI (`vedette agent token|revoke`) and the running engine touch the
//! same files, so every read-modify-write holds [`StoreLock`] and every write
//! goes through a rename: a reader never sees half a file, and a crash
//! leaves either the old or the new version.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Mode for files holding secrets (private keys, token hashes).
pub const PRIVATE: u32 = 0o600;
/// Mode for files that may be read by anyone (certificates).
pub const PUBLIC: u32 = 0o644;

/// A failure reading or writing one of the hub's files; always names it.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file system refused.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// What went wrong.
        source: io::Error,
    },
    /// The file exists but is not the JSON we wrote.
    #[error("{}: damaged file: {source}", path.display())]
    Json {
        /// The file concerned.
        path: PathBuf,
        /// Where parsing stopped.
        source: serde_json::Error,
    },
}

/// Wraps an I/O error so that it names `path`.
pub(super) fn io_err(path: &Path) -> impl FnOnce(io::Error) -> FileError + '_ {
    move |source| FileError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Creates `dir` (and parents) if needed, readable only by us: it holds keys.
pub fn ensure_dir(dir: &Path) -> Result<(), FileError> {
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io_err(dir))
}

/// Reads `path`, or `None` when it does not exist.
pub fn read_optional(path: &Path) -> Result<Option<String>, FileError> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(path)(e)),
    }
}

/// Reads a JSON document; a missing file is the empty default.
pub fn read_json<T: DeserializeOwned + Default>(path: &Path) -> Result<T, FileError> {
    match read_optional(path)? {
        None => Ok(T::default()),
        Some(text) => serde_json::from_str(&text).map_err(|source| FileError::Json {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Writes `value` as JSON through [`write_atomic`].
pub fn write_json<T: Serialize>(path: &Path, value: &T, mode: u32) -> Result<(), FileError> {
    let text = serde_json::to_vec_pretty(value).map_err(|source| FileError::Json {
        path: path.to_path_buf(),
        source,
    })?;
    write_atomic(path, &text, mode)
}

/// Replaces `path` with `bytes`: a temporary file created with `mode` (so a
/// key is never readable by others, not even briefly), synced, then renamed.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), FileError> {
    // Unique per writer (process and call), so writers never share one.
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(format!(
        ".tmp{}.{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let tmp = PathBuf::from(tmp_name);
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(io_err(path))?;
    // The rename is only durable once the directory entry is.
    sync_parent(path)
}

/// Syncs the directory holding `path`, making a file's creation or
/// renaming durable (syncing the file itself covers only its contents).
pub fn sync_parent(path: &Path) -> Result<(), FileError> {
    match path.parent() {
        Some(dir) => File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(dir)),
        None => Ok(()),
    }
}

/// An exclusive advisory lock on a file, held until dropped (the close
/// releases it), so the CLI and the engine take turns on a store.
#[derive(Debug)]
pub struct StoreLock {
    _file: File,
}

impl StoreLock {
    /// Blocks until the lock on `path` (created if missing) is ours.
    pub fn acquire(path: &Path) -> Result<StoreLock, FileError> {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(PRIVATE)
            .open(path)
            .map_err(io_err(path))?;
        loop {
            // SAFETY: the descriptor is owned by `file`, open for the call.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
            if rc == 0 {
                return Ok(StoreLock { _file: file });
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(io_err(path)(e));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_sets_mode_and_replaces() {
        let dir = crate::hub::TestDir::new("atomic");
        fs::create_dir_all(&*dir).expect("test step");
        let f = dir.join("k");
        write_atomic(&f, b"one", PRIVATE).expect("test step");
        write_atomic(&f, b"two", PRIVATE).expect("test step");
        assert_eq!(fs::read_to_string(&f).expect("test step"), "two");
        let mode = fs::metadata(&f).expect("test step").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(
            fs::read_dir(&*dir).expect("test step").count(),
            1,
            "no temp file left"
        );
    }

    #[test]
    fn json_missing_is_default_and_damage_names_file() {
        let dir = crate::hub::TestDir::new("json");
        fs::create_dir_all(&*dir).expect("test step");
        let f = dir.join("x.json");
        let v: Vec<u32> = read_json(&f).expect("test step");
        assert!(v.is_empty());
        fs::write(&f, "{not json").expect("test step");
        let e = read_json::<Vec<u32>>(&f)
            .expect_err("must fail")
            .to_string();
        assert!(e.contains("x.json") && e.contains("damaged"), "{e}");
    }
}
