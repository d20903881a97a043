//! The optional NRPE server: the `nrpe/` crate's server, reading the
//! `command[...]` lines of an existing `nrpe.cfg`, so pollers that call
//! `check_nrpe` against this machine keep working while checks move to the
//! agent. The agent's config decides where it listens.

use std::net::SocketAddr;

use vedette_nrpe::server::config::{self, ConfigError};
use vedette_nrpe::server::{Server, ServerError};

use crate::config::NrpeFile;

/// Why the NRPE server cannot start.
#[derive(Debug, thiserror::Error)]
pub enum NrpeError {
    /// The nrpe.cfg is unreadable or invalid.
    #[error("NRPE config: {0}")]
    Config(#[from] ConfigError),
    /// Binding or TLS setup failed.
    #[error("NRPE server: {0}")]
    Server(#[from] ServerError),
}

/// Binds the server and serves it on a task of the current runtime.
/// Returns the address it listens on.
pub async fn start(settings: &NrpeFile) -> Result<SocketAddr, NrpeError> {
    let mut config = config::load(&settings.config)?;
    config.address = Some(settings.listen.ip());
    config.port = settings.listen.port();
    let security = config.security(!settings.ssl);
    let server = Server::bind(config, &security).await?;
    let addr = server.local_addr().unwrap_or(settings.listen);
    tokio::spawn(async move {
        if let Err(e) = server.serve().await {
            tracing::error!(error = %e, "NRPE server stopped");
        }
    });
    tracing::info!(%addr, ssl = settings.ssl, "NRPE server listening");
    Ok(addr)
}
