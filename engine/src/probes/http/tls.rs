//! TLS for the `http` probe: a rustls client that, like `check_http`, does
//! not verify the server's certificate (handshake signatures are still
//! checked), and the `-C` certificate expiry check on the peer certificate.
//!
//! The expiry strings are monitoring-plugins 2.3's `np_net_ssl_check_cert`
//! (`sslutils.c`), which prints the date with `%c %z` in GMT:
//!
//! ```text
//! OK - Certificate 'CN' will expire on Mon Nov 30 05:09:42 2026 +0000.
//! WARNING - Certificate 'CN' expires in 4 day(s) (Mon Nov 30 05:09:42 2026 +0000).
//! CRITICAL - Certificate 'CN' will expire in 5 hours (DATE).
//! CRITICAL - Certificate 'CN' expired on DATE.
//! ```

use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};

use crate::check::Status;

use super::CertDays;

/// Accepts any certificate chain and name, as check_http does; the
/// signatures of the handshake itself are verified with the provider's
/// algorithms, so the peer still proves it holds the certificate's key.
#[derive(Debug)]
struct NoVerify(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
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
            &self.0.signature_verification_algorithms,
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
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The client configuration every check shares: immutable once built, so
/// one per process (read without a lock after the first call).
pub fn client_config() -> Result<Arc<ClientConfig>, rustls::Error> {
    static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    if let Some(config) = CONFIG.get() {
        return Ok(config.clone());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
        .with_no_client_auth();
    Ok(CONFIG.get_or_init(|| Arc::new(config)).clone())
}

/// The `-C` verdict on the peer's certificate (DER) at Unix time `now`.
pub fn check_expiry(der: &[u8], days: CertDays, now: i64) -> (Status, String) {
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
        return (
            Status::Critical,
            "CRITICAL - Cannot retrieve server certificate.".to_string(),
        );
    };
    let cn = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .unwrap_or("Unknown CN")
        .to_string();
    let not_after = cert.validity().not_after.timestamp();
    // The plugin keeps the difference in a C `float` and truncates days.
    let time_left = (not_after - now) as f32;
    let days_left = (time_left / 86400.0) as i64;
    let stamp = c_time(not_after);
    let worse = if days_left > days.crit {
        Status::Warning
    } else {
        Status::Critical
    };
    if days_left > 0 && days_left <= days.warn {
        let text = format!("{worse} - Certificate '{cn}' expires in {days_left} day(s) ({stamp}).");
        (worse, text)
    } else if days_left == 0 && time_left > 0.0 {
        let (n, unit) = if time_left >= 3600.0 {
            (time_left as i64 / 3600, "hours")
        } else {
            (time_left as i64 / 60, "minutes")
        };
        let text = format!("{worse} - Certificate '{cn}' will expire in {n} {unit} ({stamp}).");
        (worse, text)
    } else if time_left < 0.0 {
        let text = format!("CRITICAL - Certificate '{cn}' expired on {stamp}.");
        (Status::Critical, text)
    } else if days_left == 0 {
        let text = format!("{worse} - Certificate '{cn}' just expired ({stamp}).");
        (worse, text)
    } else {
        let text = format!("OK - Certificate '{cn}' will expire on {stamp}.");
        (Status::Ok, text)
    }
}

/// `strftime("%c %z")` in GMT and the C locale:
/// `Mon Nov  3 05:09:42 2026 +0000` (the day is space-padded).
fn c_time(unix: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = unix.div_euclid(86400);
    let secs = unix.rem_euclid(86400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{} {} {:>2} {:02}:{:02}:{:02} {} +0000",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(month - 1) as usize],
        day,
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        year
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_time_prints_like_strftime() {
        assert_eq!(c_time(0), "Thu Jan  1 00:00:00 1970 +0000");
        assert_eq!(c_time(1_796_015_382), "Mon Nov 30 05:09:42 2026 +0000");
        assert_eq!(c_time(951_782_400), "Tue Feb 29 00:00:00 2000 +0000");
    }

    #[test]
    fn garbage_certificate_is_critical() {
        let (status, text) = check_expiry(b"not a cert", CertDays { warn: 30, crit: 0 }, 0);
        assert_eq!(status, Status::Critical);
        assert_eq!(text, "CRITICAL - Cannot retrieve server certificate.");
    }
}
