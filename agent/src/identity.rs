//! Who the agent is to the engine: its own key (made here, never sent), the
//! certificate the engine's CA issued for it, and that CA, as three files
//! in the state directory:
//!
//! - `agent.key`: PEM private key, mode 0600;
//! - `ca.crt`: the engine's CA, the only root the session trusts;
//! - `agent.crt`: the certificate; written last, so its presence means
//!   the other two are complete.
//!
//! Every file is written to a temporary name, synced and renamed, so a
//! crash leaves either the old file or the new one.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair};

use crate::atomic::write_atomic;

const KEY_FILE: &str = "agent.key";
const CERT_FILE: &str = "agent.crt";
const CA_FILE: &str = "ca.crt";

/// The agent's key, certificate and CA, as PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct Identity {
    /// PEM private key.
    pub key_pem: String,
    /// PEM certificate issued by the engine's CA.
    pub cert_pem: String,
    /// PEM certificate of the engine's CA.
    pub ca_pem: String,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key stays out of logs.
        f.debug_struct("Identity").finish_non_exhaustive()
    }
}

/// A key made for enrolment and the request to certify it.
pub struct Request {
    /// PEM private key, to be stored once the certificate arrives.
    pub key_pem: String,
    /// PEM PKCS#10 request.
    pub csr_pem: String,
}

/// Why the identity cannot be read, made or stored.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// A file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The certificate exists but the key or CA next to it does not.
    #[error("{0} exists but {1} is missing: delete the certificate to enrol again")]
    Incomplete(PathBuf, PathBuf),
    /// Making the key or the request failed.
    #[error("cannot make the key or certificate request: {0}")]
    Generate(#[from] rcgen::Error),
}

fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> IdentityError + '_ {
    move |source| IdentityError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Identity {
    /// Reads the identity from `state_dir`; `None` when the agent has not
    /// enrolled yet (no certificate).
    pub fn load(state_dir: &Path) -> Result<Option<Identity>, IdentityError> {
        let cert_path = state_dir.join(CERT_FILE);
        let Some(cert_pem) = read_optional(&cert_path)? else {
            return Ok(None);
        };
        let need = |name: &str| {
            let path = state_dir.join(name);
            read_optional(&path)?.ok_or_else(|| IdentityError::Incomplete(cert_path.clone(), path))
        };
        let key_pem = need(KEY_FILE)?;
        let ca_pem = need(CA_FILE)?;
        Ok(Some(Identity {
            key_pem,
            cert_pem,
            ca_pem,
        }))
    }

    /// Writes the identity into `state_dir` (created 0700 if missing).
    pub fn store(&self, state_dir: &Path) -> Result<(), IdentityError> {
        prepare_dir(state_dir)?;
        for (name, text, mode) in [
            (KEY_FILE, &self.key_pem, 0o600),
            (CA_FILE, &self.ca_pem, 0o644),
            (CERT_FILE, &self.cert_pem, 0o644),
        ] {
            let path = state_dir.join(name);
            write_atomic(&path, text.as_bytes(), mode).map_err(io_at(&path))?;
        }
        Ok(())
    }
}

/// Creates the state directory if needed, readable by its owner only: it
/// holds the private key.
pub fn prepare_dir(state_dir: &Path) -> Result<(), IdentityError> {
    fs::create_dir_all(state_dir).map_err(io_at(state_dir))?;
    fs::set_permissions(state_dir, fs::Permissions::from_mode(0o700)).map_err(io_at(state_dir))
}

impl Request {
    /// Makes an ECDSA P-256 key and a request for it naming `name` (the
    /// engine ignores the name and certifies the token's host).
    pub fn generate(name: &str) -> Result<Request, IdentityError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, name);
        params.distinguished_name = dn;
        let csr_pem = params.serialize_request(&key)?.pem()?;
        Ok(Request {
            key_pem: key.serialize_pem(),
            csr_pem,
        })
    }
}

fn read_optional(path: &Path) -> Result<Option<String>, IdentityError> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_at(path)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("vedette-agent-id-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn stores_and_loads_with_modes() {
        let dir = scratch("store");
        assert!(Identity::load(&dir).expect("no dir is fine").is_none());
        let req = Request::generate("web1").expect("key");
        assert!(req
            .csr_pem
            .starts_with("-----BEGIN CERTIFICATE REQUEST-----"));
        let id = Identity {
            key_pem: req.key_pem,
            cert_pem: "CERT".into(),
            ca_pem: "CA".into(),
        };
        id.store(&dir).expect("store");
        assert_eq!(Identity::load(&dir).expect("load"), Some(id.clone()));
        let mode = |name: &str| {
            fs::metadata(dir.join(name))
                .expect("exists")
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode(KEY_FILE), 0o600);
        assert_eq!(mode(CERT_FILE), 0o644);
        assert!(!dir.join("agent.key.tmp").exists());
        assert!(!format!("{id:?}").contains("PRIVATE"));

        fs::remove_file(dir.join(KEY_FILE)).expect("rm");
        let err = Identity::load(&dir).expect_err("incomplete");
        assert!(err.to_string().contains("agent.key is missing"), "{err}");
        fs::remove_dir_all(&dir).expect("cleanup");
    }
}
