//! The two TLS client configurations the agent uses.
//!
//! - Enrolment ([`enrolment_config`]): the agent has no CA yet and must not
//!   trust the WebPKI with its token. It accepts the engine only if the
//!   chain the engine shows contains a certificate whose DER hashes
//!   (SHA-256) to the pin in the token, and the engine's own certificate
//!   verifies against that certificate as the only root (signature,
//!   validity, server name).
//! - Session ([`session_config`]): the CA received at enrolment is the only
//!   root, and the agent shows its certificate (mutual TLS).

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::identity::Identity;

/// Why a TLS configuration cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file of the identity does not hold what it should.
    #[error("{what}: {message}")]
    Pem {
        /// Which part (`agent.crt`, `agent.key`, `ca.crt`).
        what: &'static str,
        /// What is wrong.
        message: String,
    },
    /// rustls refused the configuration (e.g. key does not match).
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Lower-case hex SHA-256 of a certificate's DER, as in the token.
pub fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// The configuration for an enrolment connection: no client certificate,
/// the engine checked against the CA pinned by `ca_pin`.
pub fn enrolment_config(ca_pin: &str) -> Result<ClientConfig, TlsError> {
    let provider = provider();
    let verifier = PinnedCa {
        pin: ca_pin.to_ascii_lowercase(),
        provider: provider.clone(),
    };
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth())
}

/// The configuration for a session: the received CA as the only root and
/// the agent's certificate and key.
pub fn session_config(id: &Identity) -> Result<ClientConfig, TlsError> {
    let pem_err = |what| {
        move |e: rustls::pki_types::pem::Error| TlsError::Pem {
            what,
            message: e.to_string(),
        }
    };
    let mut roots = RootCertStore::empty();
    for ca in CertificateDer::pem_slice_iter(id.ca_pem.as_bytes()) {
        roots.add(ca.map_err(pem_err("ca.crt"))?)?;
    }
    if roots.is_empty() {
        return Err(TlsError::Pem {
            what: "ca.crt",
            message: "no certificate in it".into(),
        });
    }
    let chain = CertificateDer::pem_slice_iter(id.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem_err("agent.crt"))?;
    if chain.is_empty() {
        return Err(TlsError::Pem {
            what: "agent.crt",
            message: "no certificate in it".into(),
        });
    }
    let key = PrivateKeyDer::from_pem_slice(id.key_pem.as_bytes()).map_err(pem_err("agent.key"))?;
    Ok(ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)?)
}

/// Trusts the engine only through the CA the token pins.
#[derive(Debug)]
struct PinnedCa {
    pin: String,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedCa {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let ca = intermediates
            .iter()
            .find(|c| fingerprint(c) == self.pin)
            .ok_or_else(|| {
                rustls::Error::General(
                    "no certificate in the engine's chain matches the CA pin of the token".into(),
                )
            })?;
        let mut roots = RootCertStore::empty();
        roots.add(ca.clone().into_owned())?;
        let webpki =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), self.provider.clone())
                .build()
                .map_err(|e| rustls::Error::General(format!("pinned CA: {e}")))?;
        webpki.verify_server_cert(end_entity, &[], server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

    struct Ca {
        der: CertificateDer<'static>,
        pem: String,
        issuer: Issuer<'static, KeyPair>,
    }

    fn ca() -> Ca {
        let key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let cert = params.self_signed(&key).expect("ca");
        Ca {
            der: cert.der().clone(),
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    fn leaf(ca: &Ca, name: &str) -> CertificateDer<'static> {
        let key = KeyPair::generate().expect("key");
        let params = CertificateParams::new(vec![name.to_string()]).expect("params");
        params
            .signed_by(&key, &ca.issuer)
            .expect("leaf")
            .der()
            .clone()
    }

    fn verify(pin: &str, chain: &[CertificateDer<'static>], name: &str) -> Result<(), String> {
        let v = PinnedCa {
            pin: pin.into(),
            provider: provider(),
        };
        let name = ServerName::try_from(name.to_string()).expect("name");
        v.verify_server_cert(&chain[0], &chain[1..], &name, &[], UnixTime::now())
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn pins_the_ca_and_verifies_the_leaf_against_it() {
        let good = ca();
        let pin = fingerprint(&good.der);
        assert_eq!(pin.len(), 64);
        let hub = leaf(&good, "localhost");
        assert_eq!(
            verify(&pin, &[hub.clone(), good.der.clone()], "localhost"),
            Ok(())
        );

        // The pin is missing from the chain.
        let err = verify(&pin, std::slice::from_ref(&hub), "localhost").expect_err("no CA shown");
        assert!(err.contains("CA pin"), "{err}");
        // The right CA is shown but the leaf comes from another one.
        let other = ca();
        let forged = leaf(&other, "localhost");
        let err = verify(&pin, &[forged, good.der.clone()], "localhost").expect_err("forged");
        assert!(
            err.contains("UnknownIssuer") || err.contains("BadSignature"),
            "{err}"
        );
        // Another CA shown with its own leaf: the pin does not match.
        let err = verify(
            &pin,
            &[leaf(&other, "localhost"), other.der.clone()],
            "localhost",
        )
        .expect_err("wrong CA");
        assert!(err.contains("CA pin"), "{err}");
        // The name still counts.
        let err = verify(&pin, &[hub, good.der.clone()], "engine.example").expect_err("name");
        assert!(err.contains("not valid for name"), "{err}");
    }

    #[test]
    fn session_config_needs_matching_pem() {
        let good = ca();
        let key = KeyPair::generate().expect("key");
        let params = CertificateParams::new(vec!["web1".to_string()]).expect("params");
        let cert = params.signed_by(&key, &good.issuer).expect("leaf");
        let id = Identity {
            key_pem: key.serialize_pem(),
            cert_pem: cert.pem(),
            ca_pem: good.pem.clone(),
        };
        session_config(&id).expect("valid identity");
        let bad = Identity {
            ca_pem: "nothing".into(),
            ..id.clone()
        };
        let err = session_config(&bad).expect_err("no CA");
        assert!(err.to_string().contains("ca.crt"), "{err}");
        let bad = Identity {
            key_pem: "nothing".into(),
            ..id
        };
        let err = session_config(&bad).expect_err("no key");
        assert!(err.to_string().contains("agent.key"), "{err}");
    }
}
