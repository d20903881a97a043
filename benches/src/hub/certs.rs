//! Client certificates for the simulated agents, issued by the engine's
//! own CA through the engine library (as enrolment would, minus the
//! network), and the TLS client configuration each agent connects with.
//!
//! One key pair and one CSR serve every agent: the CA names the host in
//! the certificate whatever the CSR asks, and generating 10,000 keys would
//! only measure the load tool.
//!
//! Signing records each certificate in the CA's registry, a JSON file that
//! is read, rewritten and synced whole every time: 10,000 certificates in
//! one state directory take minutes (measured: 193 s), quadratic in the
//! count. So the certificates are signed in parallel by copies of the CA
//! ([`SIGNER_CHUNK`] each) in scratch state directories; the engine's
//! registry does not list them, which the hub takes as "not revoked".

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use vedette::hub::ca::Ca;

/// Certificates each CA copy signs: its registry stays small.
const SIGNER_CHUNK: usize = 100;

/// Signing threads (mostly waiting for fsync).
const SIGNERS: usize = 8;

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
        let chunks: Vec<&[String]> = hosts.chunks(SIGNER_CHUNK).collect();
        let next = std::sync::atomic::AtomicUsize::new(0);
        let signed: Vec<anyhow::Result<Vec<(usize, String)>>> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..SIGNERS)
                .map(|w| {
                    let (chunks, next, csr, ca) = (&chunks, &next, &csr, &ca);
                    s.spawn(move || -> anyhow::Result<Vec<(usize, String)>> {
                        let dir = signer_dir(state_dir, w);
                        let result = sign_chunks(ca, &dir, chunks, next, csr);
                        let _ = std::fs::remove_dir_all(&dir);
                        result
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|h| {
                    h.join()
                        .map_err(|_| anyhow::anyhow!("a signing thread panicked"))?
                })
                .collect()
        });
        let mut pems = vec![String::new(); hosts.len()];
        for part in signed {
            for (chunk, pem) in part? {
                if let Some(slot) = pems.get_mut(chunk) {
                    *slot = pem;
                }
            }
        }
        let certs = pems
            .iter()
            .map(|pem| CertificateDer::from_pem_slice(pem.as_bytes()).context("agent cert PEM"))
            .collect::<anyhow::Result<Vec<_>>>()?;
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

/// Scratch state directory of signing thread `w`, beside the engine's.
fn signer_dir(state_dir: &Path, w: usize) -> PathBuf {
    let name = format!("signer-{w}");
    state_dir.parent().unwrap_or(state_dir).join(name)
}

/// Takes chunks of hosts off `next` until none is left and signs each
/// host's certificate with a copy of `ca` in `dir`: `(host index, PEM)`.
fn sign_chunks(
    ca: &Ca,
    dir: &Path,
    chunks: &[&[String]],
    next: &std::sync::atomic::AtomicUsize,
    csr: &str,
) -> anyhow::Result<Vec<(usize, String)>> {
    let mut out = Vec::new();
    loop {
        let c = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let Some(chunk) = chunks.get(c) else {
            return Ok(out);
        };
        // A fresh registry per chunk: copy the CA's key and certificate.
        let _ = std::fs::remove_dir_all(dir);
        let agents = vedette::hub::agents_dir(dir);
        std::fs::create_dir_all(&agents)?;
        for f in ["ca.key", "ca.crt"] {
            std::fs::copy(ca.dir().join(f), agents.join(f))
                .with_context(|| format!("copy the CA's {f}"))?;
        }
        let copy = Ca::open(dir).context("open the CA copy")?;
        for (k, host) in chunk.iter().enumerate() {
            let pem = copy
                .sign_csr(csr, host)
                .with_context(|| format!("sign the certificate of {host}"))?;
            out.push((c * SIGNER_CHUNK + k, pem));
        }
    }
}
