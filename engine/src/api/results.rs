//! `POST /v1/results`: a passive check result, answered 200 only once it is
//! applied to the check's state.

use axum::body::Bytes;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::json_body;
use super::{ApiError, AppState};
use crate::check::{CheckResult, Status};
use crate::scheduler::plan::CheckKey;

/// The request body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PassiveResult {
    host: String,
    service: Option<String>,
    exit_status: i64,
    #[serde(default)]
    output: String,
}

/// Parses and validates a `POST /v1/results` body into the check it is
/// for and the result to apply. Public so the fuzz target drives exactly
/// what the endpoint runs.
pub fn parse_passive(body: &[u8]) -> Result<(CheckKey, CheckResult), ApiError> {
    let r: PassiveResult = json_body(body)?;
    if !(0..=3).contains(&r.exit_status) {
        return Err(ApiError::bad_request(format!(
            "exit_status {} is not a state: expected 0 (OK), 1 (WARNING), 2 (CRITICAL) or 3 (UNKNOWN)",
            r.exit_status
        )));
    }
    let status = Status::from_exit_code(i32::try_from(r.exit_status).unwrap_or(3));
    let result = crate::plugin_output::parse(status, &r.output);
    let key = CheckKey {
        host: r.host.as_str().into(),
        service: r.service.as_deref().map(Into::into),
    };
    Ok((key, result))
}

/// `POST /v1/results`.
pub async fn submit(State(engine): State<AppState>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let (key, result) = parse_passive(&body)?;
    let shard = engine.shard_for(&key.host);
    let now_ms = engine.clock.now_us() / 1000;
    let mut events = Vec::new();
    {
        let mut core = shard.core.write();
        core.passive(&key, result, now_ms)
            .map_err(|e| ApiError::not_found(e.to_string()))?;
        core.take_events(&mut events);
    }
    engine.publish(events);
    Ok(Json(json!({ "applied": true })))
}
