//! TLS pieces the plugins share through monitoring-plugins' `sslutils.c`:
//! a client that checks no certificate chain (as `np_net_ssl_init` does not)
//! and the certificate lifetime verdict of `np_net_ssl_check_cert`.
//!
//! The `tcp` (`-S`, `-D`) and `http` (`-S`, `-C`) probes both use these.
//!
//! The lifetime strings, from the plugins run against `openssl s_server`
//! (the date is `strftime("%c %z")` in GMT, C locale):
//!
//! ```text
//! OK - Certificate 'CN' will expire on Thu Nov 25 07:58:09 2027 +0000.
//! WARNING - Certificate 'CN' expires in 4 day(s) (Mon Nov 30 07:58:10 2026 +0000).
//! CRITICAL - Certificate 'CN' will expire in 5 hours (DATE).
//! CRITICAL - Certificate 'CN' expired on Sat Feb  1 00:00:00 2020 +0000.
//! ```

use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};

use crate::check::Status;

/// `-D WARN[,CRIT]` (check_tcp) or `-C WARN[,CRIT]` (check_http): how many
/// days a certificate must still be valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CertDays {
    /// WARNING at or below this many days left.
    pub warn: i64,
    /// CRITICAL at or below this many days left.
    pub crit: i64,
}

impl CertDays {
    /// Reads `WARN[,CRIT]` as the plugins do (whole days, CRIT 0 when
    /// absent); `None` for anything they would reject or read differently.
    pub fn parse(value: &str) -> Option<CertDays> {
        let days = |s: &str| -> Option<i64> {
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            // `atoi` into a C int: larger values are the plugin's business.
            s.parse().ok().filter(|&d| d <= i64::from(i32::MAX))
        };
        let (warn, crit) = match value.split_once(',') {
            Some((w, c)) => (days(w)?, days(c)?),
            None => (days(value)?, 0),
        };
        Some(CertDays { warn, crit })
    }
}

/// Trusts whatever chain and name the server shows, like the plugins; the
/// handshake's own signatures are still verified, so the server must hold
/// the key of the certificate it presents.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
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
        let algorithms = &self.0.signature_verification_algorithms;
        verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The one client configuration all checks of the process share (it is
/// immutable, so it is built once and then only cloned).
///
/// # Errors
/// The provider's, when it offers no usable protocol version (an engine
/// build problem, not the target's).
pub fn client_config() -> Result<Arc<ClientConfig>, rustls::Error> {
    static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    if let Some(config) = CONFIG.get() {
        return Ok(Arc::clone(config));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    Ok(Arc::clone(CONFIG.get_or_init(|| Arc::new(config))))
}

/// The lifetime verdict on the server's certificate (DER; `None` when the
/// server sent none) at Unix time `now`, with the plugins' line.
pub fn check_expiry(der: Option<&[u8]>, days: CertDays, now: i64) -> (Status, String) {
    let parsed = der.and_then(|der| x509_parser::parse_x509_certificate(der).ok());
    let Some((_, cert)) = parsed else {
        let text = "CRITICAL - Cannot retrieve server certificate.";
        return (Status::Critical, text.to_string());
    };
    let cn = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .unwrap_or("Unknown CN");
    let not_after = cert.validity().not_after.timestamp();
    // sslutils.c holds the seconds left in a C float and truncates to days.
    let left = (not_after - now) as f32;
    let days_left = (left / 86400.0) as i64;
    let date = c_time(not_after);
    let bad = if days_left > days.crit {
        Status::Warning
    } else {
        Status::Critical
    };
    if days_left > 0 && days_left <= days.warn {
        let text = format!("{bad} - Certificate '{cn}' expires in {days_left} day(s) ({date}).");
        (bad, text)
    } else if days_left == 0 && left > 0.0 {
        let (n, unit) = if left >= 3600.0 {
            (left as i64 / 3600, "hours")
        } else {
            (left as i64 / 60, "minutes")
        };
        let text = format!("{bad} - Certificate '{cn}' will expire in {n} {unit} ({date}).");
        (bad, text)
    } else if left < 0.0 {
        let text = format!("CRITICAL - Certificate '{cn}' expired on {date}.");
        (Status::Critical, text)
    } else if days_left == 0 {
        let text = format!("{bad} - Certificate '{cn}' just expired ({date}).");
        (bad, text)
    } else {
        let text = format!("OK - Certificate '{cn}' will expire on {date}.");
        (Status::Ok, text)
    }
}

/// `strftime("%c %z")` of a Unix time in GMT, C locale:
/// `Sat Feb  1 00:00:00 2020 +0000` (day of month padded with a space).
fn c_time(unix: i64) -> String {
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Days since 1970-01-01 to a civil date, counting in 400-year eras
    // that start on 1 March so the leap day ends each year.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{} {} {day:>2} {:02}:{:02}:{:02} {year} +0000",
        WEEKDAYS[days.rem_euclid(7) as usize],
        MONTHS[(month - 1) as usize],
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_time_matches_strftime() {
        let table: &[(i64, &str)] = &[
            (0, "Thu Jan  1 00:00:00 1970 +0000"),
            (1_580_515_200, "Sat Feb  1 00:00:00 2020 +0000"),
            (951_782_400, "Tue Feb 29 00:00:00 2000 +0000"),
            (1_827_129_489, "Thu Nov 25 07:58:09 2027 +0000"),
        ];
        for &(unix, want) in table {
            assert_eq!(c_time(unix), want, "{unix}");
        }
    }

    #[test]
    fn cert_days_read_like_the_plugins() {
        let table: &[(&str, Option<(i64, i64)>)] = &[
            ("30", Some((30, 0))),
            ("30,7", Some((30, 7))),
            ("0", Some((0, 0))),
            ("", None),
            ("30,", None),
            ("-1", None),
            ("1e2", None),
            ("99999999999", None),
        ];
        for &(value, want) in table {
            let got = CertDays::parse(value).map(|d| (d.warn, d.crit));
            assert_eq!(got, want, "{value}");
        }
    }

    #[test]
    fn missing_or_garbage_certificate_is_critical() {
        let days = CertDays { warn: 30, crit: 0 };
        for der in [None, Some(&b"not a certificate"[..])] {
            let (status, text) = check_expiry(der, days, 0);
            assert_eq!(status, Status::Critical);
            assert_eq!(text, "CRITICAL - Cannot retrieve server certificate.");
        }
    }
}
