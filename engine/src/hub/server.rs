//! The hub's TLS server certificate, signed by the agent CA so that agents
//! need to trust only the CA they got at enrolment.
//!
//! Kept in `STATE_DIR/agents/hub.{key,crt}` and reused while it covers the
//! names asked for; made again (same CA) when a name is missing.

use std::net::IpAddr;

use rcgen::{CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, KeyPair};
use time::{Duration, OffsetDateTime};
use x509_parser::extensions::GeneralName;

use super::ca::{self, Ca, CaError};
use super::files::{self, StoreLock, PRIVATE, PUBLIC};

/// Short enough that a leaked hub key does not stay useful for long, long
/// enough to be no chore: it is renewed automatically anyway.
const SERVER_VALIDITY_DAYS: i64 = 397;

/// A hub certificate this close to expiry is replaced at the next start.
const RENEW_BEFORE_DAYS: i64 = 30;

/// Names every hub certificate carries, so loopback tests and local agents
/// work without configuration.
const LOOPBACK_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// The hub's certificate and key, PEM, for its TLS acceptor.
#[derive(Debug, Clone)]
pub struct ServerIdentity {
    /// The server certificate (signed by the CA).
    pub cert_pem: String,
    /// Its private key.
    pub key_pem: String,
}

/// Loads the hub's certificate, or makes one covering the loopback names
/// plus `names` (DNS names or IP addresses agents use to reach the hub).
pub fn server_identity(ca: &Ca, names: &[String]) -> Result<ServerIdentity, CaError> {
    let key_path = ca.dir().join("hub.key");
    let crt_path = ca.dir().join("hub.crt");
    let mut wanted: Vec<String> = LOOPBACK_NAMES.iter().map(|s| s.to_string()).collect();
    wanted.extend(names.iter().cloned());
    wanted.dedup();
    let _guard = StoreLock::acquire(&ca.dir().join("hub.lock"))?;
    if let (Some(key_pem), Some(cert_pem)) = (
        files::read_optional(&key_path)?,
        files::read_optional(&crt_path)?,
    ) {
        let key = ca::load_key(&key_path, &key_pem)?;
        ca::check_cert_key(&crt_path, &cert_pem, &key, false)?;
        if still_good(&cert_pem, &wanted) {
            return Ok(ServerIdentity { cert_pem, key_pem });
        }
        tracing::info!(
            ?wanted,
            "Hub certificate lacks a name or expires soon; issuing a new one"
        );
    }
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(wanted)?;
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, "Vedette agent hub");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params.not_before = ca::backdated_now();
    params.not_after = params.not_before + Duration::days(SERVER_VALIDITY_DAYS);
    params.serial_number = Some(ca::random_serial()?);
    let cert_pem = params.signed_by(&key, &ca.issuer())?.pem();
    let key_pem = key.serialize_pem();
    files::write_atomic(&key_path, key_pem.as_bytes(), PRIVATE)?;
    files::write_atomic(&crt_path, cert_pem.as_bytes(), PUBLIC)?;
    Ok(ServerIdentity { cert_pem, key_pem })
}

/// Whether the certificate's SANs include every one of `names` and it is
/// valid for at least [`RENEW_BEFORE_DAYS`] more.
fn still_good(cert_pem: &str, names: &[String]) -> bool {
    let Ok((_, block)) = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes()) else {
        return false;
    };
    let Ok(cert) = block.parse_x509() else {
        return false;
    };
    let renew_at = OffsetDateTime::now_utc() + Duration::days(RENEW_BEFORE_DAYS);
    if cert.validity().not_after.timestamp() < renew_at.unix_timestamp() {
        return false;
    }
    let Ok(Some(san)) = cert.subject_alternative_name() else {
        return false;
    };
    let have: Vec<String> = san
        .value
        .general_names
        .iter()
        .filter_map(|g| match g {
            GeneralName::DNSName(d) => Some(d.to_string()),
            GeneralName::IPAddress(b) => ip_text(b),
            _ => None,
        })
        .collect();
    names.iter().all(|n| {
        let n = n
            .parse::<IpAddr>()
            .map(|ip| ip.to_string())
            .unwrap_or(n.clone());
        have.contains(&n)
    })
}

fn ip_text(bytes: &[u8]) -> Option<String> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes)
            .ok()
            .map(|b| IpAddr::from(b).to_string()),
        16 => <[u8; 16]>::try_from(bytes)
            .ok()
            .map(|b| IpAddr::from(b).to_string()),
        _ => None,
    }
}
