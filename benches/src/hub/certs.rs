//! Client certificates for the simulated agents, issued by the engine's
//! own CA through the engine library (as enrolment would, minus the
//! network), and the TLS client configuration each agent connects with.
//!
//! One key pair and one CSR serve every agent: the CA names the host in
//! the certificate whatever the CSR asks, and generating 10,000 keys would
//! only measure the load tool.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use vedette::hub::ca::Ca;

/// What every simulated agent shares.
pub struct Identities {
    /// The CA's certificate: the only root the agents trust.
    roots: Arc<rustls::RootCertStore>,
    /// The agents' shared private key, DER (PKCS#8).
    key_der: Vec<u8>,
    /// One certificate per agent, DER, indexed like the hosts.
    certs: Vec<CertificateDer<'static>>,
}

impl Identities {
    /// Opens (creates) the CA in `state_dir` and issues a certificate for
    /// each of `hosts`.
    pub fn issue(state_dir: &Path, hosts: &[String]) -> anyhow::Result<Identities> {
        let t0 = Instant::now();
        let ca = Ca::open(state_dir).context("open the engine CA")?;
        let key = rcgen::KeyPair::generate().context("generate the agents' key")?;
        let csr = rcgen::CertificateParams::new(vec!["bench-agent".to_string()])?
            .serialize_request(&key)?
            .pem()?;
        let mut certs = Vec::with_capacity(hosts.len());
        for host in hosts {
            let pem = ca
                .sign_csr(&csr, host)
                .with_context(|| format!("sign the certificate of {host}"))?;
            certs.push(CertificateDer::from_pem_slice(pem.as_bytes()).context("agent cert PEM")?);
        }
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(ca.cert_pem().as_bytes()).context("CA PEM")?)
            .context("trust the CA")?;
        eprintln!(
            "issued {} agent certificates in {:.1}s",
            certs.len(),
            t0.elapsed().as_secs_f64()
        );
        Ok(Identities {
            roots: Arc::new(roots),
            key_der: key.serialize_der(),
            certs,
        })
    }

    /// The TLS client configuration of agent `i`: its certificate, the
    /// shared key, the CA as the only root.
    pub fn client_config(&self, i: usize) -> anyhow::Result<Arc<rustls::ClientConfig>> {
        let cert = self.certs.get(i).context("no certificate for this agent")?;
        let key = PrivateKeyDer::try_from(self.key_der.clone())
            .map_err(|e| anyhow::anyhow!("agent key: {e}"))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(Arc::clone(&self.roots))
            .with_client_auth_cert(vec![cert.clone()], key)?;
        Ok(Arc::new(config))
    }
}
