//! State-change events: produced by shards in batches, consumed by one sink
//! thread that logs each change (tracing, stderr), appends it to the
//! JSON-lines event log in the state directory, and offers the same line
//! to live subscribers (`GET /v1/events`) on a broadcast channel.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::clock::Clock;
use crate::state::Transition;

/// One state change of one check.
#[derive(Debug, Clone)]
pub struct Event {
    /// Engine time of the change, ms.
    pub at_ms: u64,
    /// Host name.
    pub host: Arc<str>,
    /// Service name, `None` for the host check.
    pub service: Option<Arc<str>>,
    /// What changed.
    pub transition: Transition,
    /// The result's output line.
    pub output: Arc<str>,
}

/// State names for hosts (`UP`/`DOWN`/`UNREACHABLE`) and services
/// (`OK`/...).
pub fn state_name(status: crate::check::Status, is_host: bool) -> &'static str {
    use crate::check::Status;
    match (is_host, status) {
        (true, Status::Ok) => "UP",
        (true, Status::Unknown) => "UNREACHABLE",
        (true, _) => "DOWN",
        (false, s) => s.as_str(),
    }
}

/// One state change as live subscribers get it: the event log's JSON line
/// and what they may filter on.
#[derive(Debug, Clone)]
pub struct LiveEvent {
    /// Host name.
    pub host: Arc<str>,
    /// Service name, `None` for the host check.
    pub service: Option<Arc<str>>,
    /// The JSON object, as in `events.jsonl`.
    pub json: String,
}

/// Live events buffered per subscriber before a slow one starts missing
/// them (and is told how many it missed).
pub const LIVE_BUFFER: usize = 4096;

/// Starts the sink thread. It ends when every sender is dropped.
pub fn spawn_sink(
    rx: crossbeam_channel::Receiver<Event>,
    state_dir: &Path,
    clock: Clock,
    live: tokio::sync::broadcast::Sender<Arc<LiveEvent>>,
) -> std::io::Result<JoinHandle<()>> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(state_dir.join("events.jsonl"))?;
    std::thread::Builder::new()
        .name("vedette-events".into())
        .spawn(move || run(rx, file, clock, live))
}

fn run(
    rx: crossbeam_channel::Receiver<Event>,
    file: File,
    clock: Clock,
    live: tokio::sync::broadcast::Sender<Arc<LiveEvent>>,
) {
    let mut out = BufWriter::new(file);
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        while let Some(e) = next {
            let json = write_event(&mut out, &e, &clock);
            // No subscriber: the send fails, which costs nothing.
            if live.receiver_count() > 0 {
                let _ = live.send(Arc::new(LiveEvent {
                    host: Arc::clone(&e.host),
                    service: e.service.clone(),
                    json,
                }));
            }
            next = rx.try_recv().ok();
        }
        if let Err(e) = out.flush() {
            tracing::error!(error = %e, "Cannot write the event log");
        }
    }
}

/// Logs and writes one event; returns its JSON line (without newline).
fn write_event(out: &mut impl Write, e: &Event, clock: &Clock) -> String {
    let is_host = e.service.is_none();
    let t = &e.transition;
    let from = state_name(t.from, is_host);
    let to = state_name(t.to, is_host);
    tracing::info!(
        host = %e.host,
        service = e.service.as_deref().unwrap_or(""),
        from,
        to,
        state_type = t.state_type.as_str(),
        attempt = t.attempt,
        output = %e.output,
        "State changed"
    );
    let line = serde_json::json!({
        "time": clock.unix_ms(e.at_ms),
        "host": &*e.host,
        "service": e.service.as_deref(),
        "from": from,
        "to": to,
        "state_type": t.state_type.as_str(),
        "attempt": t.attempt,
        "hard_change": t.hard_change,
        "output": &*e.output,
    });
    let line = line.to_string();
    if let Err(err) = writeln!(out, "{line}") {
        tracing::error!(error = %err, "Cannot write the event log");
    }
    line
}
