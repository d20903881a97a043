//! The registry of agent certificates this CA issued, by host, with their
//! revocation state: an append-only log in `STATE_DIR/agents/registry.jsonl`.
//!
//! Each line is one JSON object: a certificate issued, or a host revoked.
//! Issuing appends one line with one write and one fdatasync under the
//! store lock, so enrolling N agents writes O(N) bytes (rewriting a JSON
//! array for every certificate cost O(N²): 171 s for 10,000). Reading folds
//! the log into the list of certificates; a revocation applies to every
//! certificate of its host issued before it.
//!
//! A crash in the middle of an append leaves a last line without its
//! newline: reading ignores it with a warning and the next append cuts it
//! off (its certificate was never handed out: `record` had not returned).
//! Any other line that is not ours is an error naming the file and line.
//!
//! The hub reads the registry at start and again whenever the log changes,
//! so revoking is an append that the CLI can do while the engine runs. The
//! `registry.json` of earlier versions is converted once, on first use.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::files::{self, io_err, FileError, StoreLock, PUBLIC};
use super::{agents_dir, now_unix, validate_host, HostNameError};

/// The log, in the agents directory.
const LOG: &str = "registry.jsonl";
/// The whole-array file of earlier versions, converted to [`LOG`] once.
const LEGACY: &str = "registry.json";
/// What [`LEGACY`] is renamed to once converted (kept for the operator).
const MIGRATED: &str = "registry.json.migrated";

/// One issued agent certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentCert {
    /// The host the certificate names (CN and SAN).
    pub host: String,
    /// The certificate's serial number, hex.
    pub serial: String,
    /// SHA-256 of the certificate's DER, hex: how the hub recognises it.
    pub fingerprint: String,
    /// Unix seconds of issue.
    pub issued_at: u64,
    /// Unix seconds of revocation, if revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<u64>,
}

/// One line of the log.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Entry {
    /// A certificate was issued. Its `revoked_at` is only ever set in
    /// entries converted from [`LEGACY`], which had per-certificate times.
    Issued(AgentCert),
    /// Every certificate of `host` issued before this line is revoked.
    Revoked {
        /// The host revoked.
        host: String,
        /// Unix seconds of the revocation.
        at: u64,
    },
}

/// Why a registry operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// `revoke` named a host that has no certificate.
    #[error("no agent certificate was issued for host {0}")]
    UnknownHost(String),
    /// The host name is not one we could have issued for.
    #[error(transparent)]
    Host(#[from] HostNameError),
    /// The registry could not be read or written.
    #[error(transparent)]
    File(#[from] FileError),
    /// A line of the log (not a torn last one) is not an entry we wrote.
    #[error("{}:{line}:{column}: damaged registry entry: {reason}", path.display())]
    BadLine {
        /// The log.
        path: PathBuf,
        /// The line, counting from 1.
        line: usize,
        /// Where in the line parsing stopped, counting from 1.
        column: usize,
        /// Why it does not parse.
        reason: String,
    },
}

/// The registry of one state directory.
#[derive(Debug, Clone)]
pub struct Registry {
    path: PathBuf,
    legacy: PathBuf,
    lock: PathBuf,
}

impl Registry {
    /// The registry in `STATE_DIR/agents/registry.jsonl`.
    pub fn new(state_dir: &Path) -> Registry {
        let dir = agents_dir(state_dir);
        Registry {
            path: dir.join(LOG),
            legacy: dir.join(LEGACY),
            lock: dir.join("registry.lock"),
        }
    }

    /// The registry's log (watched by the running hub for revocations).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every certificate issued, oldest first.
    pub fn list(&self) -> Result<Vec<AgentCert>, RegistryError> {
        // Nothing issued yet: answer without creating anything.
        if !exists(&self.path)? && !exists(&self.legacy)? {
            return Ok(Vec::new());
        }
        // Under the lock, a line without its newline is a crash's remnant,
        // never an append in progress.
        let _guard = StoreLock::acquire(&self.lock)?;
        self.migrate_locked()?;
        self.read_locked()
    }

    /// Adds a newly issued certificate.
    pub fn record(&self, cert: AgentCert) -> Result<(), RegistryError> {
        let _guard = self.lock_for_write()?;
        self.append_locked(&Entry::Issued(cert))
    }

    /// Revokes every certificate of `host` not yet revoked; returns how many.
    pub fn revoke(&self, host: &str) -> Result<usize, RegistryError> {
        validate_host(host)?;
        let _guard = self.lock_for_write()?;
        let certs = self.read_locked()?;
        if !certs.iter().any(|c| c.host == host) {
            return Err(RegistryError::UnknownHost(host.to_string()));
        }
        let count = certs
            .iter()
            .filter(|c| c.host == host && c.revoked_at.is_none())
            .count();
        if count > 0 {
            self.append_locked(&Entry::Revoked {
                host: host.to_string(),
                at: now_unix(),
            })?;
        }
        Ok(count)
    }

    /// Whether `key` (a certificate fingerprint or a host name) is revoked.
    ///
    /// A fingerprint is revoked when its certificate is; a host when its
    /// most recent certificate is (a host enrolled again after a revocation
    /// is not). Anything unknown is not revoked: the hub refuses certificates
    /// that do not chain to the CA before it asks.
    pub fn is_revoked(&self, key: &str) -> Result<bool, RegistryError> {
        let certs = self.list()?;
        if let Some(c) = certs.iter().find(|c| c.fingerprint == key) {
            return Ok(c.revoked_at.is_some());
        }
        Ok(certs
            .iter()
            .rev()
            .find(|c| c.host == key)
            .is_some_and(|c| c.revoked_at.is_some()))
    }

    /// Creates the agents directory if needed, takes the lock and converts
    /// a legacy registry: ready to append.
    fn lock_for_write(&self) -> Result<StoreLock, RegistryError> {
        if let Some(dir) = self.path.parent() {
            files::ensure_dir(dir)?;
        }
        let guard = StoreLock::acquire(&self.lock)?;
        self.migrate_locked()?;
        Ok(guard)
    }

    fn read_locked(&self) -> Result<Vec<AgentCert>, RegistryError> {
        match fs::read(&self.path) {
            Ok(bytes) => fold(&self.path, &bytes),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(io_err(&self.path)(e).into()),
        }
    }

    /// Appends `entry` as one line with one write, then fdatasync: the
    /// entry is durable when this returns, as the whole file was before.
    fn append_locked(&self, entry: &Entry) -> Result<(), RegistryError> {
        let mut line = serde_json::to_vec(entry).map_err(|source| FileError::Json {
            path: self.path.clone(),
            source,
        })?;
        line.push(b'\n');
        let created = !exists(&self.path)?;
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .mode(PUBLIC)
            .open(&self.path)
            .map_err(io_err(&self.path))?;
        let cut = cut_torn_tail(&file).map_err(io_err(&self.path))?;
        if cut > 0 {
            tracing::warn!(
                file = %self.path.display(),
                bytes = cut,
                "Cut a torn last line off the agent registry (an append interrupted by a crash)"
            );
        }
        (&file)
            .write_all(&line)
            .and_then(|()| file.sync_data())
            .map_err(io_err(&self.path))?;
        if created {
            files::sync_parent(&self.path)?;
        }
        Ok(())
    }

    /// Converts [`LEGACY`] into the log if only the former exists: the log
    /// is written whole and synced before the old file is renamed, so a
    /// crash in between leaves the old file beside a complete log, which
    /// wins. Each certificate keeps its own revocation time.
    fn migrate_locked(&self) -> Result<(), RegistryError> {
        if exists(&self.path)? || !exists(&self.legacy)? {
            return Ok(());
        }
        let certs: Vec<AgentCert> = files::read_json(&self.legacy)?;
        let count = certs.len();
        let mut text = Vec::new();
        for cert in certs {
            serde_json::to_writer(&mut text, &Entry::Issued(cert)).map_err(|source| {
                FileError::Json {
                    path: self.path.clone(),
                    source,
                }
            })?;
            text.push(b'\n');
        }
        files::write_atomic(&self.path, &text, PUBLIC)?;
        let migrated = self.legacy.with_file_name(MIGRATED);
        fs::rename(&self.legacy, &migrated).map_err(io_err(&self.legacy))?;
        files::sync_parent(&migrated)?;
        tracing::info!(
            file = %self.path.display(),
            certificates = count,
            "Converted the agent registry to an append-only log; the old file is {}",
            migrated.display()
        );
        Ok(())
    }
}

/// Whether `path` exists; an error (other than absence) names it.
fn exists(path: &Path) -> Result<bool, FileError> {
    path.try_exists().map_err(io_err(path))
}

/// Folds the log's lines into the certificates, oldest first.
fn fold(path: &Path, bytes: &[u8]) -> Result<Vec<AgentCert>, RegistryError> {
    let whole = bytes
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |last| last + 1);
    if whole < bytes.len() {
        tracing::warn!(
            file = %path.display(),
            bytes = bytes.len() - whole,
            "Ignoring a torn last line of the agent registry (an append interrupted by a crash)"
        );
    }
    let mut certs: Vec<AgentCert> = Vec::new();
    // Indexes of each host's certificates not yet revoked, so that a
    // revocation costs its host's certificates, not the whole list.
    let mut unrevoked: HashMap<String, Vec<usize>> = HashMap::new();
    for (n, line) in bytes[..whole].split(|&b| b == b'\n').enumerate() {
        if line.trim_ascii().is_empty() {
            continue;
        }
        let entry = serde_json::from_slice(line).map_err(|e| bad_line(path, n + 1, &e))?;
        match entry {
            Entry::Issued(cert) => {
                if cert.revoked_at.is_none() {
                    unrevoked
                        .entry(cert.host.clone())
                        .or_default()
                        .push(certs.len());
                }
                certs.push(cert);
            }
            Entry::Revoked { host, at } => {
                for i in unrevoked.remove(&host).unwrap_or_default() {
                    if let Some(c) = certs.get_mut(i) {
                        c.revoked_at = Some(at);
                    }
                }
            }
        }
    }
    Ok(certs)
}

/// The error for line `line` of the log, located by line and column.
fn bad_line(path: &Path, line: usize, e: &serde_json::Error) -> RegistryError {
    // serde_json ends its message with " at line 1 column C", where line 1
    // is the entry's own; the error names the file's line and the column
    // instead.
    let text = e.to_string();
    let reason = text
        .rfind(" at line ")
        .map_or(text.as_str(), |i| &text[..i])
        .to_string();
    RegistryError::BadLine {
        path: path.to_path_buf(),
        line,
        column: e.column(),
        reason,
    }
}

/// Truncates `file` after its last newline, dropping a torn last line;
/// returns how many bytes were cut (almost always none).
fn cut_torn_tail(file: &File) -> io::Result<u64> {
    let len = file.metadata()?.len();
    let mut buf = [0u8; 4096];
    let mut end = len;
    let mut keep = 0;
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let chunk = &mut buf[..(end - start) as usize];
        file.read_exact_at(chunk, start)?;
        if let Some(p) = chunk.iter().rposition(|&b| b == b'\n') {
            keep = start + p as u64 + 1;
            break;
        }
        end = start;
    }
    if keep < len {
        file.set_len(keep)?;
    }
    Ok(len - keep)
}

#[cfg(test)]
mod tests;
