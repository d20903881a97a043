//! `GET /v1/events`: state changes as they happen, as server-sent events.
//!
//! Each change is one `event: state` with the JSON object of the event log
//! (`events.jsonl`) as its data. `?host=H` and `?service=S` keep only the
//! changes of that host or service. A subscriber too slow to keep up with
//! [`LIVE_BUFFER`](crate::events::LIVE_BUFFER) changes is sent `event:
//! lagged` with the number it missed, then the stream goes on: it is told,
//! never silently short. A comment every 15 s keeps idle proxies from
//! closing the connection.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::broadcast::Receiver;
use tokio::sync::watch;

use super::{ApiError, AppState};
use crate::events::LiveEvent;

/// Which changes a subscriber wants.
struct Filter {
    host: Option<String>,
    service: Option<String>,
}

impl Filter {
    fn wants(&self, e: &LiveEvent) -> bool {
        self.host.as_deref().is_none_or(|h| *e.host == *h)
            && self
                .service
                .as_deref()
                .is_none_or(|s| e.service.as_deref() == Some(s))
    }
}

/// `GET /v1/events[?host=H&service=S]`.
pub async fn events(
    State(engine): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let mut filter = Filter {
        host: None,
        service: None,
    };
    for (key, value) in params {
        match key.as_str() {
            "host" => filter.host = Some(value),
            "service" => filter.service = Some(value),
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown parameter '{other}' (expected host, service)"
                )))
            }
        }
    }
    let sub = Subscription {
        rx: engine.subscribe(),
        stopping: engine.stopping(),
        filter,
    };
    let stream = futures_util::stream::unfold(sub, next_event);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// One subscriber's stream state.
struct Subscription {
    rx: Receiver<Arc<LiveEvent>>,
    /// Turns true when the daemon shuts down: the stream ends, so the
    /// server's graceful shutdown does not wait on it forever.
    stopping: watch::Receiver<bool>,
    filter: Filter,
}

/// The next SSE event for the subscriber; `None` once the engine stops.
async fn next_event(mut sub: Subscription) -> Option<(Result<Event, Infallible>, Subscription)> {
    loop {
        let received = tokio::select! {
            r = sub.rx.recv() => r,
            _ = sub.stopping.wait_for(|s| *s) => return None,
        };
        let event = match received {
            Ok(e) if sub.filter.wants(&e) => Event::default().event("state").data(&e.json),
            Ok(_) => continue,
            Err(RecvError::Lagged(missed)) => {
                Event::default().event("lagged").data(missed.to_string())
            }
            Err(RecvError::Closed) => return None,
        };
        return Some((Ok(event), sub));
    }
}
