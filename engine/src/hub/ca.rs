//! The engine's own certificate authority for agents.
//!
//! At first use it makes an ECDSA P-256 key and a self-signed CA certificate
//! in `STATE_DIR/agents/ca.{key,crt}` (key 0600) and reuses them on every
//! later run; a damaged or mismatched file is an error naming it, never a
//! silent new CA (that would orphan every enrolled agent). Creation holds a
//! lock so the CLI and the engine starting together make one CA, not two.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SerialNumber,
};
use time::{Duration, OffsetDateTime};

use super::csr::{self, CsrError};
use super::files::{self, FileError, StoreLock, PRIVATE, PUBLIC};
use super::registry::{AgentCert, Registry, RegistryError};
use super::{agents_dir, hex, now_unix, random_bytes, sha256_hex, validate_host, HostNameError};

/// The CA's subject; fixed, because an issuer is rebuilt from it on load.
const CA_NAME: &str = "Vedette agent CA";
/// Long: replacing the CA means enrolling every agent again.
const CA_VALIDITY_DAYS: i64 = 3650;
/// An agent certificate lasts a year; revocation covers the meantime.
pub const AGENT_VALIDITY_DAYS: i64 = 365;
/// Certificates start a little in the past so that a peer whose clock is
/// slightly behind still accepts them.
const BACKDATE_MINUTES: i64 = 5;

/// Why the CA could not be opened or could not sign.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    /// A CA file exists but cannot be used; the path says which.
    #[error("{}: damaged: {reason}", path.display())]
    Damaged {
        /// The file concerned.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The agent's CSR was refused.
    #[error(transparent)]
    Csr(#[from] CsrError),
    /// The host name cannot go into a certificate.
    #[error(transparent)]
    Host(#[from] HostNameError),
    /// rcgen failed to build or sign a certificate.
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    /// The system's random source failed.
    #[error("no random bytes from the operating system")]
    Random,
    /// A file could not be read or written.
    #[error(transparent)]
    File(#[from] FileError),
    /// The registry of issued certificates could not be updated.
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

/// The CA of one state directory, loaded and ready to sign.
#[derive(Debug)]
pub struct Ca {
    dir: PathBuf,
    key: KeyPair,
    cert_pem: String,
    registry: Registry,
}

impl Ca {
    /// Loads the CA from `STATE_DIR/agents/`, creating it on first use.
    pub fn open(state_dir: &Path) -> Result<Ca, CaError> {
        let dir = agents_dir(state_dir);
        files::ensure_dir(&dir)?;
        let key_path = dir.join("ca.key");
        let crt_path = dir.join("ca.crt");
        let _guard = StoreLock::acquire(&dir.join("ca.lock"))?;
        let (key, cert_pem) = match (
            files::read_optional(&key_path)?,
            files::read_optional(&crt_path)?,
        ) {
            (Some(key_pem), Some(cert_pem)) => {
                let key = load_key(&key_path, &key_pem)?;
                check_cert_key(&crt_path, &cert_pem, &key, true)?;
                (key, cert_pem)
            }
            (None, None) => {
                let key = KeyPair::generate()?;
                let mut params = ca_params();
                params.not_before = backdated_now();
                params.not_after = params.not_before + Duration::days(CA_VALIDITY_DAYS);
                params.serial_number = Some(random_serial()?);
                let cert_pem = params.self_signed(&key)?.pem();
                files::write_atomic(&key_path, key.serialize_pem().as_bytes(), PRIVATE)?;
                files::write_atomic(&crt_path, cert_pem.as_bytes(), PUBLIC)?;
                tracing::info!(dir = %dir.display(), "Created the agent CA");
                (key, cert_pem)
            }
            (None, Some(_)) => return Err(missing_pair(&key_path, "ca.crt")),
            (Some(_), None) => return Err(missing_pair(&crt_path, "ca.key")),
        };
        Ok(Ca {
            dir,
            key,
            cert_pem,
            registry: Registry::new(state_dir),
        })
    }

    /// The CA certificate, PEM: what agents and the hub trust.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// SHA-256 of the CA certificate's DER, hex: what an operator compares
    /// (or an agent pins) before trusting the hub on first contact.
    pub fn fingerprint(&self) -> String {
        x509_parser::pem::parse_x509_pem(self.cert_pem.as_bytes())
            .map(|(_, block)| sha256_hex(&block.contents))
            .unwrap_or_default()
    }

    /// The directory holding the CA's files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Signs an agent's CSR for `host` (the host its token was issued for):
    /// subject CN and DNS SAN are `host`, whatever the CSR asks; client-auth
    /// only; valid [`AGENT_VALIDITY_DAYS`]. The certificate is recorded in
    /// the registry before it is returned.
    pub fn sign_csr(&self, csr_pem: &str, host: &str) -> Result<String, CaError> {
        validate_host(host)?;
        let public_key = csr::verified_key(csr_pem)?;
        let mut params = CertificateParams::new(vec![host.to_string()])?;
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, host);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;
        params.not_before = backdated_now();
        params.not_after = params.not_before + Duration::days(AGENT_VALIDITY_DAYS);
        let serial = random_serial()?;
        params.serial_number = Some(serial.clone());
        let cert = params.signed_by(&public_key, &self.issuer())?;
        self.registry.record(AgentCert {
            host: host.to_string(),
            serial: hex(serial.as_ref()),
            fingerprint: sha256_hex(cert.der()),
            issued_at: now_unix(),
            revoked_at: None,
        })?;
        tracing::info!(host, "Issued an agent certificate");
        Ok(cert.pem())
    }

    /// The issuer that signs with this CA's key under its fixed subject.
    pub(super) fn issuer(&self) -> Issuer<'static, &KeyPair> {
        Issuer::new(ca_params(), &self.key)
    }
}

/// The CA's fixed parameters; validity and serial are set at creation.
fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, CA_NAME);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params
}

/// Now, minus [`BACKDATE_MINUTES`].
pub(super) fn backdated_now() -> OffsetDateTime {
    OffsetDateTime::now_utc() - Duration::minutes(BACKDATE_MINUTES)
}

/// A random positive 128-bit serial (RFC 5280 wants unpredictable ones).
pub(super) fn random_serial() -> Result<SerialNumber, CaError> {
    let mut bytes = random_bytes::<16>().map_err(|_| CaError::Random)?;
    bytes[0] &= 0x7f;
    Ok(SerialNumber::from_slice(&bytes))
}

/// Parses a PEM private key, naming `path` when it does not.
pub(super) fn load_key(path: &Path, pem: &str) -> Result<KeyPair, CaError> {
    KeyPair::from_pem(pem).map_err(|e| CaError::Damaged {
        path: path.to_path_buf(),
        reason: format!("not a usable private key ({e})"),
    })
}

/// Checks that `pem` is a certificate for `key` (and a CA one if `want_ca`).
pub(super) fn check_cert_key(
    path: &Path,
    pem: &str,
    key: &KeyPair,
    want_ca: bool,
) -> Result<(), CaError> {
    let damaged = |reason: &str| CaError::Damaged {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes())
        .map_err(|_| damaged("not a PEM certificate"))?;
    let cert = block
        .parse_x509()
        .map_err(|_| damaged("not a parsable X.509 certificate"))?;
    if cert.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
        return Err(damaged("does not match its private key"));
    }
    if want_ca && !cert.is_ca() {
        return Err(damaged("not a CA certificate"));
    }
    Ok(())
}

fn missing_pair(missing: &Path, present: &str) -> CaError {
    CaError::Damaged {
        path: missing.to_path_buf(),
        reason: format!(
            "missing while {present} exists (restore it, or remove both to make a new CA)"
        ),
    }
}

#[cfg(test)]
mod tests;
