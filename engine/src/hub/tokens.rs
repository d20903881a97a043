//! One-time, expiring enrolment tokens.
//!
//! The token text is shown once (by `vedette agent token`) and never stored:
//! `tokens.json` keeps only its SHA-256, the host it enrols and its expiry,
//! so reading the state directory does not let anyone enrol. Redeeming marks
//! the entry used under the store lock, so two agents racing with one token
//! get one success and one [`TokenError::AlreadyUsed`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::files::{self, FileError, StoreLock, PRIVATE};
use super::{agents_dir, hex, now_unix, random_bytes, sha256_hex, validate_host, HostNameError};

/// The longest a token may live: it is a bearer secret, meant to be used
/// within minutes of being made.
pub const MAX_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// How long used and expired entries are kept (to tell "already used" and
/// "expired" apart from "unknown") before they are pruned.
const KEEP_SPENT_S: u64 = 7 * 24 * 3600;

/// Why a token was not accepted, or could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// No such token was ever issued here (or it was pruned long ago).
    #[error("unknown enrolment token")]
    Unknown,
    /// The token was issued but its time ran out.
    #[error("enrolment token for {host} expired")]
    Expired {
        /// The host it was for.
        host: String,
    },
    /// The token worked once already.
    #[error("enrolment token for {host} was already used")]
    AlreadyUsed {
        /// The host it was for.
        host: String,
    },
    /// The host name cannot be enrolled.
    #[error(transparent)]
    Host(#[from] HostNameError),
    /// A time-to-live of zero would make a token nobody can use.
    #[error("token lifetime must be at least one second")]
    ZeroTtl,
    /// Longer than [`MAX_TTL`].
    #[error("token lifetime must be at most 30 days")]
    TtlTooLong,
    /// The system's random source failed.
    #[error("no random bytes from the operating system")]
    Random,
    /// `tokens.json` could not be read or written.
    #[error(transparent)]
    File(#[from] FileError),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    /// SHA-256 of the token text, hex.
    hash: String,
    host: String,
    /// Unix seconds after which the token no longer works.
    expires_at: u64,
    /// Unix seconds of its one use.
    used_at: Option<u64>,
}

/// A newly made token: its text (shown once, never stored) and expiry.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// 64 hex characters (32 random bytes): safe in URLs, shells and files.
    pub token: String,
    /// Unix seconds after which it no longer works.
    pub expires_at: u64,
}

/// The token file of one state directory.
#[derive(Debug, Clone)]
pub struct TokenStore {
    path: PathBuf,
    lock: PathBuf,
}

impl TokenStore {
    /// The store in `STATE_DIR/agents/tokens.json` (created on first issue).
    pub fn new(state_dir: &Path) -> TokenStore {
        let dir = agents_dir(state_dir);
        TokenStore {
            path: dir.join("tokens.json"),
            lock: dir.join("tokens.lock"),
        }
    }

    /// Makes a token enrolling `host`, valid for `ttl` (1 s to [`MAX_TTL`]).
    pub fn issue(&self, host: &str, ttl: Duration) -> Result<IssuedToken, TokenError> {
        validate_host(host)?;
        if ttl.as_secs() == 0 {
            return Err(TokenError::ZeroTtl);
        }
        if ttl > MAX_TTL {
            return Err(TokenError::TtlTooLong);
        }
        let token = hex(&random_bytes::<32>().map_err(|_| TokenError::Random)?);
        if let Some(dir) = self.path.parent() {
            files::ensure_dir(dir)?;
        }
        let _guard = StoreLock::acquire(&self.lock)?;
        let mut entries = self.load()?;
        let now = now_unix();
        entries.retain(|e| !spent_long_ago(e, now));
        let expires_at = now.saturating_add(ttl.as_secs());
        entries.push(Entry {
            hash: sha256_hex(token.as_bytes()),
            host: host.to_string(),
            expires_at,
            used_at: None,
        });
        files::write_json(&self.path, &entries, PRIVATE)?;
        Ok(IssuedToken { token, expires_at })
    }

    /// Spends `token` (its secret, or the whole `SECRET.CAPIN` text): the
    /// host it enrols, or why not. Works once.
    pub fn redeem(&self, token: &str) -> Result<String, TokenError> {
        let secret = token.trim().split('.').next().unwrap_or_default();
        let hash = sha256_hex(secret.as_bytes());
        if !self.path.exists() {
            return Err(TokenError::Unknown);
        }
        let _guard = StoreLock::acquire(&self.lock)?;
        let mut entries = self.load()?;
        let now = now_unix();
        let entry = entries
            .iter_mut()
            .find(|e| e.hash == hash)
            .ok_or(TokenError::Unknown)?;
        let host = entry.host.clone();
        if entry.used_at.is_some() {
            return Err(TokenError::AlreadyUsed { host });
        }
        if now >= entry.expires_at {
            return Err(TokenError::Expired { host });
        }
        entry.used_at = Some(now);
        files::write_json(&self.path, &entries, PRIVATE)?;
        Ok(host)
    }

    fn load(&self) -> Result<Vec<Entry>, TokenError> {
        Ok(files::read_json(&self.path)?)
    }
}

fn spent_long_ago(e: &Entry, now: u64) -> bool {
    let spent_at = e.used_at.unwrap_or(e.expires_at);
    (e.used_at.is_some() || now >= e.expires_at) && now.saturating_sub(spent_at) > KEEP_SPENT_S
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn once_then_already_used() {
        let dir = crate::hub::TestDir::new("once");
        let store = TokenStore::new(&dir);
        let issued = store
            .issue("web-01", Duration::from_secs(60))
            .expect("test step");
        assert!(issued.expires_at >= now_unix() + 59);
        let t = issued.token;
        assert_eq!(t.len(), 64);
        assert_eq!(store.redeem(&t).expect("test step"), "web-01");
        assert!(matches!(
            store.redeem(&t),
            Err(TokenError::AlreadyUsed { host }) if host == "web-01"
        ));
        let text = std::fs::read_to_string(dir.join("agents/tokens.json")).expect("test step");
        assert!(!text.contains(&t), "the token text itself is never stored");
    }

    #[test]
    fn unknown_expired_and_bad_input() {
        let dir = crate::hub::TestDir::new("bad");
        let store = TokenStore::new(&dir);
        assert!(matches!(store.redeem("nope"), Err(TokenError::Unknown)));
        let t = store
            .issue("db", Duration::from_secs(1))
            .expect("test step")
            .token;
        assert!(matches!(store.redeem("nope"), Err(TokenError::Unknown)));
        std::thread::sleep(Duration::from_millis(2100));
        assert!(matches!(store.redeem(&t), Err(TokenError::Expired { .. })));
        assert!(matches!(
            store.issue("a b", Duration::from_secs(5)),
            Err(TokenError::Host(_))
        ));
        assert!(matches!(
            store.issue("ok", Duration::ZERO),
            Err(TokenError::ZeroTtl)
        ));
        assert!(matches!(
            store.issue("ok", MAX_TTL + Duration::from_secs(1)),
            Err(TokenError::TtlTooLong)
        ));
    }

    #[test]
    fn racing_redeems_succeed_once() {
        let dir = crate::hub::TestDir::new("race");
        let store = TokenStore::new(&dir);
        let t = store
            .issue("web", Duration::from_secs(60))
            .expect("test step")
            .token;
        let wins: usize = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| TokenStore::new(&dir).redeem(&t).is_ok()))
                .collect();
            handles
                .into_iter()
                .map(|h| usize::from(h.join().expect("test step")))
                .sum()
        });
        assert_eq!(wins, 1);
    }

    #[test]
    fn damaged_file_is_named() {
        let dir = crate::hub::TestDir::new("damaged");
        let store = TokenStore::new(&dir);
        store.issue("x", Duration::from_secs(5)).expect("test step");
        std::fs::write(dir.join("agents/tokens.json"), "[{").expect("test step");
        let e = store.redeem("whatever").expect_err("must fail").to_string();
        assert!(e.contains("tokens.json"), "{e}");
    }

    #[test]
    fn pruning_keeps_recent_spent_entries() {
        let e = Entry {
            hash: String::new(),
            host: "h".into(),
            expires_at: 100,
            used_at: None,
        };
        assert!(!spent_long_ago(&e, 50));
        assert!(!spent_long_ago(&e, 100 + KEEP_SPENT_S));
        assert!(spent_long_ago(&e, 101 + KEEP_SPENT_S));
    }
}
