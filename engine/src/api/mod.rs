//! The HTTP API (DESIGN.md): JSON status and operator actions, Prometheus
//! metrics. Every bad request gets a 4xx with `{"error": "..."}`.
//!
//! Handlers read shard tables under their read locks one shard at a time;
//! nothing here holds a lock across an await.

mod actions;
mod agents;
pub mod client;
mod error;
mod events;
pub mod listener;
mod metrics;
mod objects;
pub mod results;
mod status;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;

pub use error::ApiError;

use crate::engine::Engine;

/// What every handler gets.
pub type AppState = Arc<Engine>;

/// The API's routes.
pub fn router(engine: Arc<Engine>) -> Router {
    Router::new()
        .route("/v1/status", get(status::status))
        .route("/v1/hosts", get(objects::hosts))
        .route("/v1/hosts/{name}", get(objects::host))
        .route("/v1/services", get(objects::services))
        .route("/v1/results", post(results::submit))
        .route("/v1/actions/{action}", post(actions::action))
        .route("/v1/events", get(events::events))
        .route("/v1/agents", get(agents::agents))
        .route("/v1/agents/{host}", get(agents::agent))
        .route("/metrics", get(metrics::metrics))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .with_state(engine)
}

/// Why the API could not start.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    /// Binding failed (address in use, not permitted, ...).
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A non-loopback address needs TLS and a token, which this build
    /// cannot serve yet.
    #[error("refusing to serve the API on non-loopback address {0}: that requires TLS and a token, which are not implemented yet; use a 127.0.0.1 or [::1] address")]
    NotLoopback(SocketAddr),
}

/// Binds the API listener.
pub async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, ListenError> {
    if !addr.ip().is_loopback() {
        return Err(ListenError::NotLoopback(addr));
    }
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ListenError::Bind { addr, source })
}
