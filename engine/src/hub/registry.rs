//! The registry of agent certificates this CA issued, by host, with their
//! revocation state, in `STATE_DIR/agents/registry.json`.
//!
//! The hub asks [`Registry::is_revoked`] on every connection (and again when
//! it is told of a revocation), so revoking is a file write that the CLI can
//! do while the engine runs.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::files::{self, FileError, StoreLock, PUBLIC};
use super::{agents_dir, now_unix, validate_host, HostNameError};

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
    pub revoked_at: Option<u64>,
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
    /// `registry.json` could not be read or written.
    #[error(transparent)]
    File(#[from] FileError),
}

/// The registry file of one state directory.
#[derive(Debug, Clone)]
pub struct Registry {
    path: PathBuf,
    lock: PathBuf,
}

impl Registry {
    /// The registry in `STATE_DIR/agents/registry.json`.
    pub fn new(state_dir: &Path) -> Registry {
        let dir = agents_dir(state_dir);
        Registry {
            path: dir.join("registry.json"),
            lock: dir.join("registry.lock"),
        }
    }

    /// The registry file (watched by the running hub for revocations).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every certificate issued, oldest first.
    pub fn list(&self) -> Result<Vec<AgentCert>, RegistryError> {
        Ok(files::read_json(&self.path)?)
    }

    /// Adds a newly issued certificate.
    pub fn record(&self, cert: AgentCert) -> Result<(), RegistryError> {
        self.update(|certs| {
            certs.push(cert);
            Ok(())
        })
    }

    /// Revokes every certificate of `host` not yet revoked; returns how many.
    pub fn revoke(&self, host: &str) -> Result<usize, RegistryError> {
        validate_host(host)?;
        let now = now_unix();
        let mut count = 0;
        self.update(|certs| {
            let mut known = false;
            for c in certs.iter_mut().filter(|c| c.host == host) {
                known = true;
                if c.revoked_at.is_none() {
                    c.revoked_at = Some(now);
                    count += 1;
                }
            }
            if known {
                Ok(())
            } else {
                Err(RegistryError::UnknownHost(host.to_string()))
            }
        })?;
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

    fn update(
        &self,
        change: impl FnOnce(&mut Vec<AgentCert>) -> Result<(), RegistryError>,
    ) -> Result<(), RegistryError> {
        if let Some(dir) = self.path.parent() {
            files::ensure_dir(dir)?;
        }
        let _guard = StoreLock::acquire(&self.lock)?;
        let mut certs = self.list()?;
        change(&mut certs)?;
        files::write_json(&self.path, &certs, PUBLIC)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(host: &str, fp: &str) -> AgentCert {
        AgentCert {
            host: host.into(),
            serial: "01".into(),
            fingerprint: fp.into(),
            issued_at: 1,
            revoked_at: None,
        }
    }

    #[test]
    fn revoke_is_persisted_and_answered() {
        let dir = crate::hub::TestDir::new("registry");
        let reg = Registry::new(&dir);
        reg.record(cert("web", "f1")).expect("test step");
        reg.record(cert("db", "f2")).expect("test step");
        assert!(!reg.is_revoked("web").expect("test step"));
        assert_eq!(reg.revoke("web").expect("test step"), 1);
        assert_eq!(reg.revoke("web").expect("test step"), 0);
        let again = Registry::new(&dir);
        assert!(again.is_revoked("web").expect("test step"));
        assert!(again.is_revoked("f1").expect("test step"));
        assert!(!again.is_revoked("f2").expect("test step"));
        assert!(!again.is_revoked("unknown").expect("test step"));
        assert!(matches!(
            again.revoke("nobody"),
            Err(RegistryError::UnknownHost(_))
        ));
        // Enrolled again after the revocation: the host is trusted again,
        // the old certificate stays revoked.
        again.record(cert("web", "f3")).expect("test step");
        assert!(!again.is_revoked("web").expect("test step"));
        assert!(again.is_revoked("f1").expect("test step"));

        std::fs::write(dir.join("agents/registry.json"), "[{\"host\":").expect("test step");
        let e = again.is_revoked("web").expect_err("must fail").to_string();
        assert!(e.contains("registry.json") && e.contains("damaged"), "{e}");
    }
}
