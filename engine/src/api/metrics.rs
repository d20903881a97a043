//! `GET /metrics`: Prometheus text exposition of the engine's own figures.

use std::fmt::Write;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::AppState;
use crate::check::Status;

/// `GET /metrics`.
pub async fn metrics(State(engine): State<AppState>) -> impl IntoResponse {
    let f = engine.figures();
    let mut out = String::with_capacity(2048);
    let statuses = [
        Status::Ok,
        Status::Warning,
        Status::Critical,
        Status::Unknown,
    ];
    // Writing to a String cannot fail.
    let _ = writeln!(
        out,
        "# HELP vedette_checks_total Check results applied, by probe and result state."
    );
    let _ = writeln!(out, "# TYPE vedette_checks_total counter");
    for (probe, counts) in &f.executed {
        for (s, n) in statuses.iter().zip(counts) {
            let _ = writeln!(
                out,
                "vedette_checks_total{{probe=\"{probe}\",state=\"{s}\"}} {n}"
            );
        }
    }
    let _ = writeln!(out, "# HELP vedette_checks_configured Checks configured.");
    let _ = writeln!(out, "# TYPE vedette_checks_configured gauge");
    let _ = writeln!(out, "vedette_checks_configured {}", f.checks);
    let _ = writeln!(
        out,
        "# HELP vedette_checks_per_second Results applied per second over the last minute."
    );
    let _ = writeln!(out, "# TYPE vedette_checks_per_second gauge");
    let _ = writeln!(out, "vedette_checks_per_second {}", f.checks_per_second);
    let _ = writeln!(
        out,
        "# HELP vedette_dispatch_lateness_seconds Due time to probe start, last minute."
    );
    let _ = writeln!(out, "# TYPE vedette_dispatch_lateness_seconds summary");
    for q in [0.5, 0.9, 0.99, 0.999, 1.0] {
        let v = f.lateness.value_at_quantile(q) as f64 / 1e6;
        let _ = writeln!(
            out,
            "vedette_dispatch_lateness_seconds{{quantile=\"{q}\"}} {v}"
        );
    }
    let _ = writeln!(
        out,
        "vedette_dispatch_lateness_seconds_count {}",
        f.lateness.len()
    );
    let _ = writeln!(out, "# HELP vedette_services Services by current state.");
    let _ = writeln!(out, "# TYPE vedette_services gauge");
    for (s, n) in statuses.iter().zip(&f.services) {
        let _ = writeln!(out, "vedette_services{{state=\"{s}\"}} {n}");
    }
    let _ = writeln!(out, "# HELP vedette_hosts Hosts by current state.");
    let _ = writeln!(out, "# TYPE vedette_hosts gauge");
    let _ = writeln!(out, "vedette_hosts{{state=\"UP\"}} {}", f.hosts[0]);
    let _ = writeln!(out, "vedette_hosts{{state=\"DOWN\"}} {}", f.hosts[1]);
    let _ = writeln!(out, "vedette_hosts{{state=\"UNREACHABLE\"}} {}", f.hosts[2]);
    let _ = writeln!(
        out,
        "# HELP vedette_uptime_seconds Seconds since the engine started."
    );
    let _ = writeln!(out, "# TYPE vedette_uptime_seconds gauge");
    let _ = writeln!(out, "vedette_uptime_seconds {}", engine.clock.uptime_s());
    descriptor_metrics(&mut out);
    if let Some(agents) = engine.agents() {
        agent_metrics(&mut out, &agents.all());
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}

/// The checks' share of file descriptors
/// ([`crate::probes::descriptors`]).
fn descriptor_metrics(out: &mut String) {
    let d = crate::probes::descriptors::Descriptors::shared();
    let _ = writeln!(
        out,
        "# HELP vedette_check_descriptors Descriptors checks may hold at once (budget) and hold now (in_use)."
    );
    let _ = writeln!(out, "# TYPE vedette_check_descriptors gauge");
    let _ = writeln!(
        out,
        "vedette_check_descriptors{{kind=\"budget\"}} {}",
        d.budget()
    );
    let _ = writeln!(
        out,
        "vedette_check_descriptors{{kind=\"in_use\"}} {}",
        d.in_use()
    );
    let _ = writeln!(
        out,
        "# HELP vedette_check_descriptors_refused_total Checks failed UNKNOWN for want of descriptors (Too many open files)."
    );
    let _ = writeln!(
        out,
        "# TYPE vedette_check_descriptors_refused_total counter"
    );
    let _ = writeln!(
        out,
        "vedette_check_descriptors_refused_total {}",
        d.refused()
    );
}

/// The agent hub's figures (its results are in `vedette_checks_total`
/// with `probe="agent"`).
fn agent_metrics(out: &mut String, slots: &[std::sync::Arc<crate::hub::agents::AgentSlot>]) {
    let connected = slots.iter().filter(|s| s.connected()).count();
    let (mut duplicates, mut dropped) = (0u64, 0u64);
    for s in slots {
        duplicates += s.counters().duplicates;
        dropped += s.spool_dropped();
    }
    let _ = writeln!(out, "# HELP vedette_agents Agent hosts by connection.");
    let _ = writeln!(out, "# TYPE vedette_agents gauge");
    let _ = writeln!(out, "vedette_agents{{state=\"connected\"}} {connected}");
    let _ = writeln!(
        out,
        "vedette_agents{{state=\"disconnected\"}} {}",
        slots.len() - connected
    );
    let _ = writeln!(
        out,
        "# HELP vedette_agent_duplicates_total Agent results refused as already applied (replays)."
    );
    let _ = writeln!(out, "# TYPE vedette_agent_duplicates_total counter");
    let _ = writeln!(out, "vedette_agent_duplicates_total {duplicates}");
    let _ = writeln!(
        out,
        "# HELP vedette_agent_spool_dropped Results agents dropped from a full spool, as they report."
    );
    let _ = writeln!(out, "# TYPE vedette_agent_spool_dropped gauge");
    let _ = writeln!(out, "vedette_agent_spool_dropped {dropped}");
}
