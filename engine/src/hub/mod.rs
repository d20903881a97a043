//! The agent hub's identity side: the engine's own CA, one-time enrolment
//! tokens and the registry of issued agent certificates.
//!
//! Brief overview:
//! - [`ca::Ca`] creates (first use) or loads the CA in
//!   `STATE_DIR/agents/` and signs agents' CSRs.
//! - [`tokens::TokenStore`] issues and redeems one-time expiring tokens.
//! - [`server::server_identity`] makes the hub's TLS certificate from the CA.
//! - [`registry::Registry`] remembers every certificate issued, by host,
//!   and which are revoked.
//!
//! All of it lives in files so that the CLI and the running engine share it.
//!
//! The endpoint itself ([`listener::Hub`]): TLS and WebSocket on port 7661,
//! enrolment, sessions ([`agents`] applies their results, the [`ledger`]
//! remembers what was applied), assignments from the model ([`assign`]),
//! and the silence watch.

pub mod agents;
pub mod assign;
pub mod ca;
pub mod csr;
mod enrol;
pub mod files;
pub mod ledger;
pub mod listener;
mod liveness;
pub mod registry;
pub mod server;
mod session;
pub mod tls;
pub mod tokens;

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use ring::rand::{SecureRandom, SystemRandom};

/// The directory under the state directory holding everything agent-related.
pub fn agents_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("agents")
}

/// Why a host name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid host name {0:?}: use 1-253 characters of letters, digits, '-', '_' and '.'")]
pub struct HostNameError(pub String);

/// Checks that `host` can be a certificate's CN and DNS SAN and a file-safe
/// key: the host name is what an agent may report for, so it is strict.
pub fn validate_host(host: &str) -> Result<(), HostNameError> {
    let ok = !host.is_empty()
        && host.len() <= 253
        && !host.starts_with(['.', '-'])
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(HostNameError(host.to_string()))
    }
}

/// `n` bytes from the operating system's CSPRNG.
fn random_bytes<const N: usize>() -> Result<[u8; N], ring::error::Unspecified> {
    let mut out = [0u8; N];
    SystemRandom::new().fill(&mut out)?;
    Ok(out)
}

/// Lower-case hex, used for token text, hashes, serials and fingerprints.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of `bytes`, as hex.
fn sha256_hex(bytes: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

/// Unix seconds as `2026-11-25T10:01:02Z` (the number itself if out of
/// range).
pub fn unix_utc(secs: u64) -> String {
    let Some(t) = i64::try_from(secs)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
    else {
        return secs.to_string();
    };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Seconds since the Unix epoch (0 if the clock is before it).
fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A fresh temporary directory for one unit test, removed on drop (also
/// when the test fails).
#[cfg(test)]
pub(crate) struct TestDir(pub PathBuf);

#[cfg(test)]
impl TestDir {
    pub(crate) fn new(tag: &str) -> TestDir {
        use std::sync::atomic::{AtomicU64, Ordering};
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let p = std::env::temp_dir().join(format!(
            "vedette-hub-{tag}-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        TestDir(p)
    }
}

#[cfg(test)]
impl std::ops::Deref for TestDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

#[cfg(test)]
impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names() {
        for good in ["web-01", "db.example.org", "a", "x_y"] {
            assert_eq!(validate_host(good), Ok(()), "{good}");
        }
        for bad in ["", "-x", ".x", "a b", "a/b", "é", &"a".repeat(254)] {
            assert!(validate_host(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hex_and_hash() {
        assert_eq!(hex(&[0, 15, 255]), "000fff");
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
