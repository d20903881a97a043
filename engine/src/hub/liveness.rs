//! The silence watch: an agent host not heard from for `agent_silence`
//! goes DOWN (when its state follows its agent) or has its agent services
//! set UNKNOWN, once, with an output that says since when. The next frame
//! from the agent brings it back (see the session).

use std::sync::Arc;
use std::time::Duration;

use vedette_proto::check::Status;

use super::agents::unix_ms;
use super::listener::HubContext;
use crate::model::SilenceState;

/// Runs until the hub stops.
pub(super) async fn watch(ctx: Arc<HubContext>) {
    let mut assignments = ctx.assignments.clone();
    loop {
        let a = assignments.borrow_and_update().clone();
        let every = (a.silence / 4).clamp(Duration::from_millis(250), Duration::from_secs(1));
        let silence_ms = u64::try_from(a.silence.as_millis()).unwrap_or(u64::MAX);
        let now = unix_ms();
        for (host, assigned) in &a.hosts {
            let slot = ctx.agents.slot(host);
            let seen = slot.last_seen_ms();
            let since = seen.max(ctx.agents.started_ms);
            // A live session is pinged every 15 s, so a connected agent
            // is silent only when its connection is dead.
            if now.saturating_sub(since) <= silence_ms || !slot.mark_silent() {
                continue;
            }
            let when = if seen == 0 {
                "not connected since the engine started".to_string()
            } else {
                format!("last seen {}", super::unix_utc(seen / 1000))
            };
            let secs = now.saturating_sub(since) / 1000;
            tracing::warn!(host = %host, "Agent of {host} silent for {secs}s ({when})");
            if assigned.liveness_host && a.silence_state == SilenceState::Down {
                ctx.agents.verdict(
                    host,
                    None,
                    Status::Critical,
                    format!("DOWN - agent silent for {secs}s ({when})"),
                );
            } else {
                for c in assigned.checks.iter() {
                    ctx.agents.verdict(
                        host,
                        Some(&c.service),
                        Status::Unknown,
                        format!("UNKNOWN - agent silent for {secs}s ({when})"),
                    );
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            r = assignments.changed() => if r.is_err() { return; },
        }
    }
}
