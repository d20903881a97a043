//! An enrolment connection (no client certificate): one `Enrol` message with
//! a one-time token and a CSR, answered with a certificate for the token's
//! host, or refused.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use vedette_proto::wire::{self, AgentMessage, EngineMessage, ErrorCode, PROTOCOL_VERSION};

use super::listener::HubContext;
use super::session::{Incoming, Wire, HELLO_TIMEOUT};
use super::{csr, tokens::TokenError};

/// Runs an enrolment connection to its end.
pub(super) async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    ctx: Arc<HubContext>,
    mut wire: Wire<S>,
    remote: SocketAddr,
) {
    let first = match tokio::time::timeout(HELLO_TIMEOUT, wire.next()).await {
        Ok(Incoming::Text(t)) => t,
        Ok(Incoming::Refused | Incoming::Closed) | Err(_) => {
            tracing::warn!(%remote, "Agent enrolment refused from {remote}: no enrol message");
            wire.close().await;
            return;
        }
    };
    let (code, message) = match wire::decode_agent(&first) {
        Ok(AgentMessage::Enrol {
            version,
            token,
            csr_pem,
        }) => {
            if version != PROTOCOL_VERSION {
                (
                    ErrorCode::Version,
                    format!("protocol version {version} is not spoken here (this engine speaks {PROTOCOL_VERSION})"),
                )
            } else {
                let ctx2 = Arc::clone(&ctx);
                match tokio::task::spawn_blocking(move || enrol(&ctx2, &token, &csr_pem)).await {
                    Ok(Ok((host, cert_pem))) => {
                        tracing::info!(%remote, host, "Agent {host} enrolled from {remote}");
                        let msg = EngineMessage::Enrolled {
                            host,
                            cert_pem,
                            ca_pem: ctx.ca.cert_pem().to_string(),
                        };
                        wire.send(&msg).await;
                        wire.close().await;
                        return;
                    }
                    Ok(Err(refusal)) => refusal,
                    Err(e) => (ErrorCode::Internal, format!("enrolment failed: {e}")),
                }
            }
        }
        Ok(AgentMessage::Hello { .. }) => (
            ErrorCode::OutOfOrder,
            "no client certificate: enrol first (an enrol message with a token from `vedette agent token`), then connect with the certificate".to_string(),
        ),
        Ok(_) => (
            ErrorCode::OutOfOrder,
            "expected enrol on a connection without a client certificate".to_string(),
        ),
        Err(e) => (e.code(), e.to_string()),
    };
    tracing::warn!(%remote, "Agent enrolment refused from {remote}: {message}");
    wire.refuse(code, message).await;
    wire.close().await;
}

/// Checks the CSR, spends the token, signs: the host and its certificate.
/// The CSR is checked before the token is spent, so a broken request does
/// not burn a token.
fn enrol(
    ctx: &HubContext,
    token: &str,
    csr_pem: &str,
) -> Result<(String, String), (ErrorCode, String)> {
    csr::verified_key(csr_pem)
        .map_err(|e| (ErrorCode::Malformed, format!("certificate request: {e}")))?;
    let host = ctx.tokens.redeem(token).map_err(|e| match e {
        TokenError::File(_) | TokenError::Random => (ErrorCode::Internal, e.to_string()),
        _ => (ErrorCode::EnrolmentRefused, e.to_string()),
    })?;
    let cert = ctx.ca.sign_csr(csr_pem, &host).map_err(|e| {
        (
            ErrorCode::Internal,
            format!("cannot sign the certificate: {e}"),
        )
    })?;
    Ok((host, cert))
}
