//! `GET /v1/hosts`, `/v1/hosts/{name}`, `/v1/services`.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::Json;
use serde_json::{json, Value};

use super::{ApiError, AppState};
use crate::check::Status;
use crate::clock::Clock;
use crate::events::state_name;
use crate::scheduler::core::for_each_chunked;
use crate::scheduler::core::Slot;
use crate::scheduler::plan::CheckKey;

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// The fields hosts and services share.
fn common(slot: &Slot, clock: &Clock, is_host: bool) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    let st = &slot.state;
    m.insert("state".into(), json!(state_name(st.status, is_host)));
    m.insert("state_type".into(), json!(st.state_type.as_str()));
    m.insert("attempt".into(), json!(st.attempt));
    m.insert("max_attempts".into(), json!(slot.def.policy.max_attempts));
    m.insert("checked".into(), json!(st.checked));
    let configured = match &slot.def.probe {
        Some(p) => p.name(),
        None if slot.def.agent => "agent",
        None => "passive",
    };
    match &slot.last {
        Some(l) => {
            m.insert("output".into(), json!(&*l.result.output));
            m.insert("perfdata".into(), json!(&*l.result.perfdata));
            m.insert("long_output".into(), json!(&*l.result.long_output));
            m.insert("probe".into(), json!(l.probe));
            let at = l.retained_at.unwrap_or_else(|| clock.unix_ms(l.at_ms));
            m.insert("last_check".into(), json!(at));
            m.insert("latency_ms".into(), json!(ms(l.latency_us)));
            m.insert("execution_ms".into(), json!(ms(l.execution_us)));
        }
        None => {
            m.insert("output".into(), json!(""));
            m.insert("perfdata".into(), json!(""));
            m.insert("long_output".into(), json!(""));
            m.insert("probe".into(), json!(configured));
            m.insert("last_check".into(), Value::Null);
            m.insert("latency_ms".into(), Value::Null);
            m.insert("execution_ms".into(), Value::Null);
        }
    }
    m.insert(
        "next_check".into(),
        slot.next_due_ms
            .map_or(Value::Null, |d| json!(clock.unix_ms(d))),
    );
    m
}

/// A host as JSON.
pub fn host_json(slot: &Slot, clock: &Clock) -> Value {
    let mut m = common(slot, clock, true);
    m.insert("name".into(), json!(&*slot.def.key.host));
    m.insert("address".into(), json!(&*slot.def.address));
    Value::Object(m)
}

/// A service as JSON.
pub fn service_json(slot: &Slot, clock: &Clock) -> Value {
    let mut m = common(slot, clock, false);
    m.insert("host".into(), json!(&*slot.def.key.host));
    m.insert(
        "name".into(),
        json!(slot.def.key.service.as_deref().unwrap_or("")),
    );
    Value::Object(m)
}

/// Rows read per read-lock hold: a listing of a million checks must not
/// stall a shard for the whole walk.
const CHUNK: usize = 4096;

/// `GET /v1/hosts`: every host, sorted by name.
pub async fn hosts(State(engine): State<AppState>) -> Json<Value> {
    let mut rows: Vec<(String, Value)> = Vec::new();
    for shard in &engine.shards {
        for_each_chunked(
            &shard.core,
            CHUNK,
            |slot| {
                if slot.def.key.service.is_none() {
                    rows.push((
                        slot.def.key.host.to_string(),
                        host_json(slot, &engine.clock),
                    ));
                }
            },
            || {},
        );
    }
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    Json(Value::Array(rows.into_iter().map(|(_, v)| v).collect()))
}

/// `GET /v1/hosts/{name}`.
pub async fn host(
    State(engine): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let key = CheckKey {
        host: name.as_str().into(),
        service: None,
    };
    let core = engine.shard_for(&name).core.read();
    core.get(&key)
        .map(|slot| Json(host_json(slot, &engine.clock)))
        .ok_or_else(|| ApiError::not_found(format!("no such host: {name}")))
}

/// Filters of `GET /v1/services`.
struct Filter {
    host: Option<String>,
    state: Option<Status>,
    limit: Option<usize>,
    offset: usize,
}

fn filter(q: &HashMap<String, String>) -> Result<Filter, ApiError> {
    let mut f = Filter {
        host: None,
        state: None,
        limit: None,
        offset: 0,
    };
    for (k, v) in q {
        match k.as_str() {
            "host" => f.host = Some(v.clone()),
            "state" => {
                f.state = Some(Status::parse(v).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "state '{v}': expected OK, WARNING, CRITICAL or UNKNOWN"
                    ))
                })?)
            }
            "limit" => {
                f.limit = Some(v.parse().map_err(|_| {
                    ApiError::bad_request(format!("limit '{v}': expected a non-negative integer"))
                })?)
            }
            "offset" => {
                f.offset = v.parse().map_err(|_| {
                    ApiError::bad_request(format!("offset '{v}': expected a non-negative integer"))
                })?
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter '{other}' (known: host, state, limit, offset)"
                )))
            }
        }
    }
    Ok(f)
}

/// `GET /v1/services[?host=H&state=S&limit=N&offset=M]`: sorted by host,
/// then service name.
pub async fn services(
    State(engine): State<AppState>,
    query: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::bad_request(format!("bad query string: {e}")))?;
    let f = filter(&q)?;
    let wanted = |slot: &Slot| {
        slot.def.key.service.is_some()
            && f.host.as_deref().is_none_or(|h| &*slot.def.key.host == h)
            && f.state.is_none_or(|s| slot.state.status == s)
    };
    let shards: Vec<_> = match &f.host {
        Some(h) => vec![engine.shard_for(h)],
        None => engine.shards.iter().collect(),
    };
    let mut rows: Vec<(Arc<str>, Arc<str>, Value)> = Vec::new();
    for shard in shards {
        for_each_chunked(
            &shard.core,
            CHUNK,
            |slot| {
                if wanted(slot) {
                    let svc = slot
                        .def
                        .key
                        .service
                        .clone()
                        .unwrap_or_else(|| Arc::from(""));
                    rows.push((
                        Arc::clone(&slot.def.key.host),
                        svc,
                        service_json(slot, &engine.clock),
                    ));
                }
            },
            || {},
        );
    }
    rows.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    let rows = rows.into_iter().map(|(_, _, v)| v).skip(f.offset);
    let out: Vec<Value> = match f.limit {
        Some(n) => rows.take(n).collect(),
        None => rows.collect(),
    };
    Ok(Json(Value::Array(out)))
}
