//! The hub's TLS: its certificate chain (hub certificate, then the CA, so
//! an enrolling agent can check the CA against its token's pin) and client
//! certificates that are optional at the handshake: without one only
//! enrolment is allowed, with one it must chain to the agent CA.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use x509_parser::prelude::FromDer;

use super::ca::Ca;
use super::server::ServerIdentity;

/// Why the hub's TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// A PEM file in the agents directory did not parse.
    #[error("agent hub {what} is not valid PEM: {reason}")]
    Pem {
        /// Which file.
        what: &'static str,
        /// The parser's message.
        reason: String,
    },
    /// rustls refused the configuration.
    #[error("agent hub TLS: {0}")]
    Rustls(#[from] rustls::Error),
    /// The client verifier could not be built.
    #[error("agent hub client verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
}

/// The hub's server configuration.
pub fn server_config(ca: &Ca, id: &ServerIdentity) -> Result<Arc<ServerConfig>, TlsSetupError> {
    let pem = |what| {
        move |e: rustls::pki_types::pem::Error| TlsSetupError::Pem {
            what,
            reason: e.to_string(),
        }
    };
    let hub = CertificateDer::from_pem_slice(id.cert_pem.as_bytes()).map_err(pem("certificate"))?;
    let ca_der =
        CertificateDer::from_pem_slice(ca.cert_pem().as_bytes()).map_err(pem("CA certificate"))?;
    let key = PrivateKeyDer::from_pem_slice(id.key_pem.as_bytes()).map_err(pem("key"))?;
    let mut roots = RootCertStore::empty();
    roots.add(ca_der.clone())?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()?;
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![hub, ca_der], key)?;
    Ok(Arc::new(config))
}

/// Who a verified client certificate names: its CN (the host it was
/// issued for) and its SHA-256 fingerprint (how the registry knows it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerIdentity {
    /// The host.
    pub host: String,
    /// Hex SHA-256 of the certificate DER.
    pub fingerprint: String,
}

/// The identity in a client certificate the handshake already verified;
/// `None` when it has no usable CN.
pub fn peer_identity(cert: &CertificateDer<'_>) -> Option<PeerIdentity> {
    let (_, parsed) = x509_parser::certificate::X509Certificate::from_der(cert.as_ref()).ok()?;
    let host = parsed
        .subject()
        .iter_common_name()
        .next()?
        .as_str()
        .ok()?
        .to_string();
    super::validate_host(&host).ok()?;
    Some(PeerIdentity {
        host,
        fingerprint: super::sha256_hex(cert.as_ref()),
    })
}
