//! `GET /v1/agents` and `GET /v1/agents/{host}`: each agent host's
//! connection, what the hub has applied for it, and what it was assigned.

use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

use super::{ApiError, AppState};
use crate::hub::agents::AgentSlot;

/// `GET /v1/agents`: every agent host, sorted by name (empty when the agent
/// endpoint is not running).
pub async fn agents(State(engine): State<AppState>) -> Json<Value> {
    let Some(agents) = engine.agents() else {
        return Json(Value::Array(Vec::new()));
    };
    let assignments = engine.assignments().borrow().clone();
    let rows = agents
        .all()
        .iter()
        .map(|slot| agent_json(slot, checks_of(&assignments, &slot.host)))
        .collect();
    Json(Value::Array(rows))
}

/// `GET /v1/agents/{host}`.
pub async fn agent(
    State(engine): State<AppState>,
    Path(host): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let agents = engine
        .agents()
        .ok_or_else(|| ApiError::not_found("the agent endpoint is not running"))?;
    let slot = agents
        .get(&host)
        .ok_or_else(|| ApiError::not_found(format!("no such agent host: {host}")))?;
    let assignments = engine.assignments().borrow().clone();
    Ok(Json(agent_json(&slot, checks_of(&assignments, &host))))
}

fn checks_of(a: &crate::hub::assign::Assignments, host: &str) -> usize {
    a.hosts.get(host).map_or(0, |h| h.checks.len())
}

fn agent_json(slot: &AgentSlot, checks: usize) -> Value {
    let c = slot.counters();
    let seen = slot.last_seen_ms();
    json!({
        "host": &*slot.host,
        "connected": slot.connected(),
        "last_seen": (seen > 0).then(|| seen as f64 / 1000.0),
        "applied_seq": c.applied_seq,
        "applied": c.applied,
        "duplicates": c.duplicates,
        "spool_dropped": slot.spool_dropped(),
        "checks": checks,
        "agent_version": slot.agent_version(),
        "revoked": slot.is_revoked(),
    })
}
