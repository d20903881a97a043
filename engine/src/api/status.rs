//! `GET /v1/status`: the engine's own figures.

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use super::AppState;
use crate::engine::Engine;
use crate::scheduler::stats::empty_histogram;

/// Engine-wide figures gathered from every shard.
pub struct Figures {
    /// Checks configured.
    pub checks: usize,
    /// Results applied per second over the last minute.
    pub checks_per_second: f64,
    /// Dispatch lateness over the last minute, µs.
    pub lateness: hdrhistogram::Histogram<u64>,
    /// Services by state OK, WARNING, CRITICAL, UNKNOWN.
    pub services: [u64; 4],
    /// Hosts UP, DOWN.
    pub hosts: [u64; 2],
    /// Checks with no result yet.
    pub pending: u64,
    /// Cumulative results by probe and state.
    pub executed: Vec<(&'static str, [u64; 4])>,
}

/// Reads the figures (write-locks each shard briefly to roll its windows).
pub fn figures(engine: &Engine) -> Figures {
    let now_ms = engine.clock.now_us() / 1000;
    let mut f = Figures {
        checks: 0,
        checks_per_second: 0.0,
        lateness: empty_histogram(),
        services: [0; 4],
        hosts: [0; 2],
        pending: 0,
        executed: Vec::new(),
    };
    for shard in &engine.shards {
        let mut core = shard.core.write();
        let (n, span) = core.stats.last_minute(now_ms, &mut f.lateness);
        f.checks_per_second += n as f64 / span;
        for (probe, counts) in &core.stats.executed {
            match f.executed.iter_mut().find(|(p, _)| p == probe) {
                Some((_, c)) => c.iter_mut().zip(counts).for_each(|(a, b)| *a += b),
                None => f.executed.push((probe, *counts)),
            }
        }
        drop(core);
        let core = shard.core.read();
        f.checks += core.len();
        for slot in core.slots() {
            if !slot.state.checked {
                f.pending += 1;
            }
            if slot.def.key.service.is_some() {
                f.services[slot.state.status as usize] += 1;
            } else if slot.state.status == crate::check::Status::Ok {
                f.hosts[0] += 1;
            } else {
                f.hosts[1] += 1;
            }
        }
    }
    f
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// `GET /v1/status`.
pub async fn status(State(engine): State<AppState>) -> Json<Value> {
    let f = figures(&engine);
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
        "hosts": { "UP": f.hosts[0], "DOWN": f.hosts[1] },
        "pending": f.pending,
    }))
}
