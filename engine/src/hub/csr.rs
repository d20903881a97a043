//! Reading an agent's certificate signing request: only its public key is
//! used, and only after the request's self-signature proves the agent holds
//! the matching private key. The subject and extensions it asks for are
//! ignored: the certificate names the host the token was issued for.

use rcgen::{PublicKeyData, SignatureAlgorithm};
use ring::signature::{self, VerificationAlgorithm};
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::prelude::FromDer;

const EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const P256: &str = "1.2.840.10045.3.1.7";
const P384: &str = "1.3.132.0.34";
const ED25519: &str = "1.3.101.112";
const ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
const ECDSA_SHA384: &str = "1.2.840.10045.4.3.3";

/// Why a CSR was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsrError {
    /// Not a PEM block labelled `CERTIFICATE REQUEST`.
    #[error("CSR is not a PEM 'CERTIFICATE REQUEST'")]
    NotPem,
    /// The DER inside does not parse as PKCS#10.
    #[error("CSR is malformed: {0}")]
    Malformed(String),
    /// A key type we do not sign for (ECDSA P-256/P-384 and Ed25519 are).
    #[error("CSR key/signature algorithm not supported (use ECDSA P-256, P-384 or Ed25519)")]
    Unsupported,
    /// The request is not signed by the key it carries.
    #[error("CSR signature does not verify")]
    BadSignature,
}

/// The verified public key of a CSR, ready to be certified by rcgen.
#[derive(Debug)]
pub struct CsrKey {
    raw: Vec<u8>,
    alg: &'static SignatureAlgorithm,
}

impl PublicKeyData for CsrKey {
    fn der_bytes(&self) -> &[u8] {
        &self.raw
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        self.alg
    }
}

/// Parses `csr_pem`, checks its self-signature and returns its key.
pub fn verified_key(csr_pem: &str) -> Result<CsrKey, CsrError> {
    let (_, pem) =
        x509_parser::pem::parse_x509_pem(csr_pem.as_bytes()).map_err(|_| CsrError::NotPem)?;
    if pem.label != "CERTIFICATE REQUEST" {
        return Err(CsrError::NotPem);
    }
    let (_, csr) = X509CertificationRequest::from_der(&pem.contents)
        .map_err(|e| CsrError::Malformed(e.to_string()))?;
    let info = &csr.certification_request_info;
    let spki = &info.subject_pki;
    let key_oid = spki.algorithm.algorithm.to_id_string();
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.as_oid().ok())
        .map(|o| o.to_id_string());
    let sig_oid = csr.signature_algorithm.algorithm.to_id_string();
    let (verify, alg): (&dyn VerificationAlgorithm, &'static SignatureAlgorithm) =
        match (key_oid.as_str(), curve.as_deref(), sig_oid.as_str()) {
            (EC_PUBLIC_KEY, Some(P256), ECDSA_SHA256) => (
                &signature::ECDSA_P256_SHA256_ASN1,
                &rcgen::PKCS_ECDSA_P256_SHA256,
            ),
            (EC_PUBLIC_KEY, Some(P384), ECDSA_SHA384) => (
                &signature::ECDSA_P384_SHA384_ASN1,
                &rcgen::PKCS_ECDSA_P384_SHA384,
            ),
            (ED25519, None, ED25519) => (&signature::ED25519, &rcgen::PKCS_ED25519),
            _ => return Err(CsrError::Unsupported),
        };
    let raw = spki.subject_public_key.data.to_vec();
    signature::UnparsedPublicKey::new(verify, &raw)
        .verify(info.raw, &csr.signature_value.data)
        .map_err(|_| CsrError::BadSignature)?;
    Ok(CsrKey { raw, alg })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csr_for(alg: &'static SignatureAlgorithm) -> String {
        let key = rcgen::KeyPair::generate_for(alg).expect("test step");
        let params =
            rcgen::CertificateParams::new(vec!["evil.example".to_string()]).expect("test step");
        params
            .serialize_request(&key)
            .expect("test step")
            .pem()
            .expect("test step")
    }

    #[test]
    fn supported_keys_verify() {
        for alg in [
            &rcgen::PKCS_ECDSA_P256_SHA256,
            &rcgen::PKCS_ECDSA_P384_SHA384,
            &rcgen::PKCS_ED25519,
        ] {
            let key = verified_key(&csr_for(alg)).expect("test step");
            assert!(std::ptr::eq(key.algorithm(), alg));
        }
    }

    #[test]
    fn bad_input_is_refused() {
        assert_eq!(
            verified_key("hello").expect_err("must fail"),
            CsrError::NotPem
        );
        let cert_pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert_eq!(
            verified_key(cert_pem).expect_err("must fail"),
            CsrError::NotPem
        );
        let junk = "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n";
        assert!(matches!(verified_key(junk), Err(CsrError::Malformed(_))));
    }

    #[test]
    fn tampered_request_fails_signature() {
        let pem = csr_for(&rcgen::PKCS_ECDSA_P256_SHA256);
        let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).expect("test step");
        let mut der = block.contents;
        // Flip a byte inside the subject's "evil.example" text.
        let at = der
            .windows(4)
            .position(|w| w == b"evil")
            .expect("test step");
        der[at] ^= 0x20;
        let tampered = pem_encode(&der);
        assert_eq!(
            verified_key(&tampered).expect_err("must fail"),
            CsrError::BadSignature
        );
    }

    proptest::proptest! {
        /// Whatever an agent sends, the answer is an error, never a panic.
        #[test]
        fn arbitrary_input_never_panics(der in proptest::collection::vec(proptest::num::u8::ANY, 0..600), text in ".{0,200}") {
            let _ = verified_key(&pem_encode(&der));
            let _ = verified_key(&text);
        }

        /// A valid CSR with any one byte changed is refused or (if the byte
        /// was outside the signed part and harmless) still the same key.
        #[test]
        fn corrupted_csr_never_panics(at in 0usize..10_000, flip in 1u8..=255) {
            let pem = csr_for(&rcgen::PKCS_ECDSA_P256_SHA256);
            let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).expect("test step");
            let mut der = block.contents;
            let i = at % der.len();
            der[i] ^= flip;
            let _ = verified_key(&pem_encode(&der));
        }
    }

    fn pem_encode(der: &[u8]) -> String {
        const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut body = String::new();
        for chunk in der.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    body.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
                } else {
                    body.push('=');
                }
            }
        }
        format!("-----BEGIN CERTIFICATE REQUEST-----\n{body}\n-----END CERTIFICATE REQUEST-----\n")
    }
}
