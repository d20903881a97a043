//! OpenSSL contexts for both ends. NRPE daemons default to anonymous
//! Diffie-Hellman, which rustls deliberately cannot do and OpenSSL 3 only
//! allows at security level 0; anonymous suites exist only up to TLS 1.2.

use std::path::PathBuf;

use openssl::dh::Dh;
use std::sync::OnceLock;

use openssl::ssl::{
    SslAcceptor, SslContext, SslContextBuilder, SslFiletype, SslMethod, SslVerifyMode, SslVersion,
};

/// Cipher list of anonymous mode: every suite, anonymous ones included, at
/// the security level that still permits them (what nrpe itself sets).
const ANON_CIPHERS: &str = "ALL:!MD5:@STRENGTH:@SECLEVEL=0";
/// Cipher list when certificates are in use: no anonymous suites.
const CERT_CIPHERS: &str = "ALL:!aNULL:!eNULL:!MD5:@STRENGTH";

/// How a connection is secured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Security {
    /// Plain TCP (`-n` on both sides).
    Plain,
    /// TLS with anonymous Diffie-Hellman: encrypted, nobody authenticated.
    /// The default of NRPE daemons and check_nrpe.
    #[default]
    Anonymous,
    /// TLS with certificates.
    Certificates(CertFiles),
}

/// PEM files for certificate mode.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertFiles {
    /// Our certificate (the server's; optional for a client).
    pub cert: Option<PathBuf>,
    /// Its private key.
    pub key: Option<PathBuf>,
    /// CA certificates to verify the peer with; none: the peer is not verified.
    pub ca: Option<PathBuf>,
    /// Server only: refuse clients without a certificate the CA signed.
    pub require_peer_cert: bool,
}

/// A TLS setup that OpenSSL refused (bad file, bad key, bad cipher list).
#[derive(Debug, thiserror::Error)]
#[error("TLS setup: {what}: {source}")]
pub struct TlsSetupError {
    what: String,
    #[source]
    source: openssl::error::ErrorStack,
}

fn ctx<T>(what: &str, r: Result<T, openssl::error::ErrorStack>) -> Result<T, TlsSetupError> {
    r.map_err(|source| TlsSetupError {
        what: what.to_string(),
        source,
    })
}

/// A client context for `security` (not for [`Security::Plain`]). The
/// anonymous one is built once per process and shared: it has no files,
/// and building a context is most of a loopback query's CPU time.
///
/// # Errors
/// A file OpenSSL cannot load, or a cipher list it refuses.
pub fn connector(security: &Security) -> Result<SslContext, TlsSetupError> {
    static ANONYMOUS: OnceLock<SslContext> = OnceLock::new();
    if let Security::Plain | Security::Anonymous = security {
        if let Some(c) = ANONYMOUS.get() {
            return Ok(c.clone());
        }
        let c = build_connector(security)?;
        return Ok(ANONYMOUS.get_or_init(|| c).clone());
    }
    build_connector(security)
}

/// A fresh client context. Not `SslConnector::builder`: that loads the
/// system's CA store, which anonymous mode has no use for and certificate
/// mode replaces with the CA file given.
fn build_connector(security: &Security) -> Result<SslContext, TlsSetupError> {
    let mut b = ctx(
        "new context",
        SslContextBuilder::new(SslMethod::tls_client()),
    )?;
    match security {
        Security::Plain | Security::Anonymous => {
            // TLS 1.3 stays offered (as check_nrpe does): a daemon with a
            // certificate picks it, an anonymous one picks TLS 1.2 ADH.
            ctx("cipher list", b.set_cipher_list(ANON_CIPHERS))?;
            b.set_verify(SslVerifyMode::NONE);
        }
        Security::Certificates(files) => {
            ctx("cipher list", b.set_cipher_list(CERT_CIPHERS))?;
            load_own(&mut b, files)?;
            match &files.ca {
                Some(ca) => {
                    ctx("CA file", b.set_ca_file(ca))?;
                    b.set_verify(SslVerifyMode::PEER);
                }
                None => b.set_verify(SslVerifyMode::NONE),
            }
        }
    }
    Ok(b.build())
}

/// A server context for `security` (not for [`Security::Plain`]).
///
/// # Errors
/// A file OpenSSL cannot load, or a cipher list it refuses.
pub fn acceptor(security: &Security) -> Result<SslAcceptor, TlsSetupError> {
    let mut b = ctx(
        "new context",
        SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()),
    )?;
    let dh = ctx("DH group", Dh::get_2048_256())?;
    ctx("DH group", b.set_tmp_dh(&dh))?;
    match security {
        Security::Plain | Security::Anonymous => {
            ctx("cipher list", b.set_cipher_list(ANON_CIPHERS))?;
            ctx(
                "protocol",
                b.set_max_proto_version(Some(SslVersion::TLS1_2)),
            )?;
            b.set_verify(SslVerifyMode::NONE);
        }
        Security::Certificates(files) => {
            ctx("cipher list", b.set_cipher_list(CERT_CIPHERS))?;
            load_own(&mut b, files)?;
            let mut mode = SslVerifyMode::NONE;
            if let Some(ca) = &files.ca {
                ctx("CA file", b.set_ca_file(ca))?;
                mode = SslVerifyMode::PEER;
                if files.require_peer_cert {
                    mode |= SslVerifyMode::FAIL_IF_NO_PEER_CERT;
                }
            }
            b.set_verify(mode);
        }
    }
    Ok(b.build())
}

fn load_own(b: &mut SslContextBuilder, files: &CertFiles) -> Result<(), TlsSetupError> {
    if let Some(cert) = &files.cert {
        ctx(
            &format!("certificate {}", cert.display()),
            b.set_certificate_chain_file(cert),
        )?;
    }
    if let Some(key) = &files.key {
        ctx(
            &format!("private key {}", key.display()),
            b.set_private_key_file(key, SslFiletype::PEM),
        )?;
    }
    Ok(())
}
