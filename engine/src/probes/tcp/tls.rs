//! check_tcp's `-S`: TLS right after connecting, before anything is sent,
//! and `-D`: the certificate lifetime verdict on that connection.
//!
//! Like the plugin (`np_net_ssl_init_with_hostname`), no chain is checked
//! and a server name is sent only when `--sni` gives one. A failed
//! handshake prints the plugin's line; where the plugin then dumps
//! OpenSSL's error queue (thread ids, OpenSSL function names), the second
//! line here is rustls' reason instead.

use std::time::{SystemTime, UNIX_EPOCH};

use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::check::Status;
use crate::probes::tls_common::{self, CertDays};

/// A verdict that ends the check: state and the plugin's text.
pub(super) type Verdict = (Status, String);

/// Runs the TLS handshake on a connected stream.
pub(super) async fn handshake(
    stream: TcpStream,
    sni: Option<&str>,
) -> Result<TlsStream<TcpStream>, Verdict> {
    let failed = |why: String| {
        let text = format!("CRITICAL - Cannot make SSL connection.\n{why}");
        (Status::Critical, text)
    };
    let config = tls_common::client_config().map_err(|e| {
        let text = format!("UNKNOWN - TLS client setup failed: {e}");
        (Status::Unknown, text)
    })?;
    // rustls sends no server name for an IP address, so without --sni the
    // peer's own address stands in for "none".
    let name = match sni {
        Some(sni) => ServerName::try_from(sni.to_string()).map_err(|e| failed(e.to_string()))?,
        None => {
            let peer = stream.peer_addr().map_err(|e| failed(e.to_string()))?;
            ServerName::IpAddress(peer.ip().into())
        }
    };
    TlsConnector::from(config)
        .connect(name, stream)
        .await
        .map_err(|e| failed(e.to_string()))
}

/// The `-D` verdict on the certificate the server presented.
pub(super) fn cert_verdict(tls: &TlsStream<TcpStream>, days: CertDays) -> Verdict {
    let der = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|cert| cert.as_ref());
    // A clock set before 1970 is no reason to fail the check: 0 stands in.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    tls_common::check_expiry(der, days, now)
}
