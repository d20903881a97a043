//! `POST /v1/actions/{action}`: operator actions.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::json_body;
use super::{ApiError, AppState};
use crate::scheduler::plan::CheckKey;

/// Body of `check-now`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Target {
    host: String,
    service: Option<String>,
}

/// Dispatches on the action name.
pub async fn action(
    State(engine): State<AppState>,
    Path(action): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    match action.as_str() {
        "reload" => {
            let e = engine.clone();
            let outcome = tokio::task::spawn_blocking(move || e.reload())
                .await
                .map_err(|e| ApiError {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    message: format!("reload task failed: {e}"),
                    details: Vec::new(),
                })?;
            match outcome {
                Ok(s) => Ok(Json(
                    json!({ "reloaded": true, "summary": s.summary, "checks": s.checks }),
                )),
                Err(errors) => Err(ApiError {
                    status: StatusCode::UNPROCESSABLE_ENTITY,
                    message: "config rejected; the running config is unchanged".into(),
                    details: errors.0.iter().map(ToString::to_string).collect(),
                }),
            }
        }
        "check-now" => {
            let t: Target = json_body(&body)?;
            let key = CheckKey {
                host: t.host.as_str().into(),
                service: t.service.as_deref().map(Into::into),
            };
            let shard = engine.shard_for(&t.host);
            let now_ms = engine.clock.now_us() / 1000;
            shard
                .core
                .write()
                .check_now(&key, now_ms)
                .map_err(|e| ApiError::not_found(e.to_string()))?;
            shard.notify.notify_one();
            Ok(Json(json!({ "scheduled": true })))
        }
        other => Err(ApiError::not_found(format!(
            "unknown action '{other}' (available: reload, check-now)"
        ))),
    }
}
