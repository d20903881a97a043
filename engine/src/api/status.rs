//! `GET /v1/status`: the engine's own figures.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use super::AppState;

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// `GET /v1/status`.
pub async fn status(State(engine): State<AppState>) -> Json<Value> {
    let f = engine.figures();
    let h = &f.lateness;
    Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_s": engine.clock.uptime_s(),
        "shards": engine.shards.len(),
        "checks_configured": f.checks,
        "checks_per_second": f.checks_per_second,
        "lateness_ms": {
            "p50": ms(h.value_at_quantile(0.5)),
            "p99": ms(h.value_at_quantile(0.99)),
            "p999": ms(h.value_at_quantile(0.999)),
            "max": ms(h.max()),
        },
        "services": {
            "OK": f.services[0], "WARNING": f.services[1],
            "CRITICAL": f.services[2], "UNKNOWN": f.services[3],
        },
        "hosts": { "UP": f.hosts[0], "DOWN": f.hosts[1], "UNREACHABLE": f.hosts[2] },
        "pending": f.pending,
    }))
}
