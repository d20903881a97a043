//! State retention: every check's state and last result survive a restart,
//! as with Nagios' `retain_state_information`.
//!
//! The file is `STATE_DIR/retention.jsonl`, one JSON object per check that
//! has a result, written at shutdown and every `retention_interval` (to a
//! temporary file, then renamed, so a crash mid-write leaves the previous
//! file whole). At start the states are put back on the checks whose host
//! and service still exist; a check keeps its splayed place in the
//! schedule, so a restart is no check storm.
//!
//! Writing copies the states out of each shard in chunks under its read
//! lock ([`CHUNK`] checks at a time) and serialises them with no lock
//! held, so a shard waits at most one chunk's copy, never the file I/O.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::check::{CheckResult, Status};
use crate::scheduler::core::{for_each_chunked, LastResult, Slot};
use crate::scheduler::plan::CheckKey;
use crate::scheduler::shard::ShardHandle;
use crate::state::{CheckState, StateType};

/// The file's name in the state directory.
pub const FILE: &str = "retention.jsonl";

/// Checks copied per read-lock hold while saving.
const CHUNK: usize = 4096;

/// What is kept of one check.
#[derive(Debug, Clone)]
pub struct Retained {
    /// Its state.
    pub state: CheckState,
    /// Its last result, with [`LastResult::retained_at`] set.
    pub last: LastResult,
}

/// One line of the file.
#[derive(Serialize, Deserialize)]
struct Line<'a> {
    host: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    service: Option<Cow<'a, str>>,
    /// 0 OK/UP, 1 WARNING, 2 CRITICAL/DOWN, 3 UNKNOWN.
    state: u8,
    hard: bool,
    attempt: u32,
    /// Unix seconds.
    last_check: f64,
    probe: Cow<'a, str>,
    output: Cow<'a, str>,
    #[serde(default)]
    long_output: Cow<'a, str>,
    #[serde(default)]
    perfdata: Cow<'a, str>,
}

/// Writes every check's state of `shards` to `path`; returns how many.
///
/// # Errors
/// The I/O error of creating, writing, syncing or renaming the file.
pub fn save(
    shards: &[ShardHandle],
    unix_of: impl Fn(&LastResult) -> f64,
    path: &Path,
) -> io::Result<usize> {
    let tmp = path.with_extension("jsonl.tmp");
    let mut out = BufWriter::new(File::create(&tmp)?);
    // Filled by the copy under the lock, drained by the write without it.
    let batch: RefCell<Vec<(CheckKey, CheckState, LastResult)>> =
        RefCell::new(Vec::with_capacity(CHUNK));
    let mut written = 0;
    let mut failed = None;
    for shard in shards {
        let copy = |slot: &Slot| {
            if let Some(last) = &slot.last {
                batch
                    .borrow_mut()
                    .push((slot.def.key.clone(), slot.state, last.clone()));
            }
        };
        let write = || {
            for (key, state, last) in batch.borrow_mut().drain(..) {
                if failed.is_some() {
                    continue;
                }
                match write_line(&mut out, &key, &state, &last, unix_of(&last)) {
                    Ok(()) => written += 1,
                    Err(e) => failed = Some(e),
                }
            }
        };
        for_each_chunked(&shard.core, CHUNK, copy, write);
    }
    if let Some(e) = failed {
        return Err(e);
    }
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(written)
}

fn write_line(
    out: &mut impl Write,
    key: &CheckKey,
    state: &CheckState,
    last: &LastResult,
    last_check: f64,
) -> io::Result<()> {
    let line = Line {
        host: Cow::Borrowed(&key.host),
        service: key.service.as_deref().map(Cow::Borrowed),
        state: state.status as u8,
        hard: state.state_type == StateType::Hard,
        attempt: state.attempt,
        last_check,
        probe: Cow::Borrowed(last.probe),
        output: Cow::Borrowed(&last.result.output),
        long_output: Cow::Borrowed(&last.result.long_output),
        perfdata: Cow::Borrowed(&last.result.perfdata),
    };
    serde_json::to_writer(&mut *out, &line)?;
    out.write_all(b"\n")
}

/// What [`load`] found.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The retained checks, by key.
    pub checks: HashMap<CheckKey, Retained>,
    /// One message per line that could not be read (`LINE: why`).
    pub bad_lines: Vec<String>,
}

/// Reads the file at `path`; a missing file is an empty result, an
/// unreadable line is skipped and named in [`Loaded::bad_lines`].
///
/// # Errors
/// The I/O error of opening or reading the file (not its absence).
pub fn load(path: &Path) -> io::Result<Loaded> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Loaded::default()),
        Err(e) => return Err(e),
    };
    let mut loaded = Loaded::default();
    for (n, line) in BufReader::new(file).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        match parse_line(&line) {
            Ok((key, retained)) => {
                loaded.checks.insert(key, retained);
            }
            Err(why) => loaded.bad_lines.push(format!("{}: {why}", n + 1)),
        }
    }
    Ok(loaded)
}

fn parse_line(text: &str) -> Result<(CheckKey, Retained), String> {
    let line: Line<'_> = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let status = match line.state {
        0 => Status::Ok,
        1 => Status::Warning,
        2 => Status::Critical,
        3 => Status::Unknown,
        s => return Err(format!("state {s} is not 0..3")),
    };
    if line.attempt == 0 {
        return Err("attempt 0".into());
    }
    if !line.last_check.is_finite() {
        return Err("last_check is not a number".into());
    }
    let key = CheckKey {
        host: Arc::from(&*line.host),
        service: line.service.as_deref().map(Arc::from),
    };
    let state = CheckState {
        status,
        state_type: if line.hard {
            StateType::Hard
        } else {
            StateType::Soft
        },
        attempt: line.attempt,
        checked: true,
    };
    let last = LastResult {
        result: CheckResult {
            status,
            output: Arc::from(&*line.output),
            long_output: Arc::from(&*line.long_output),
            perfdata: Arc::from(&*line.perfdata),
        },
        at_ms: 0,
        retained_at: Some(line.last_check),
        latency_us: 0,
        execution_us: 0,
        probe: probe_name(&line.probe),
    };
    Ok((key, Retained { state, last }))
}

/// The probe names the engine reports, as the `'static` strings the check
/// table holds; anything else (a probe that no longer exists) is
/// `retained`.
fn probe_name(name: &str) -> &'static str {
    const KNOWN: &[&str] = &[
        "dummy", "tcp", "dns", "icmp", "http", "snmp", "nrpe", "exec", "passive",
    ];
    KNOWN
        .iter()
        .find(|&&k| k == name)
        .copied()
        .unwrap_or("retained")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_back_and_bad_ones_are_named() {
        let dir = std::env::temp_dir().join(format!("vedette-retention-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join(FILE);
        let good = r#"{"host":"h","service":"s","state":2,"hard":false,"attempt":2,"last_check":1700000000.5,"probe":"tcp","output":"down","perfdata":"t=1"}"#;
        let host = r#"{"host":"h","state":0,"hard":true,"attempt":1,"last_check":1.0,"probe":"gone","output":"up"}"#;
        let text = format!(
            "{good}\n\n{{nope\n{host}\n{}\n",
            good.replace("\"state\":2", "\"state\":7")
        );
        std::fs::write(&path, text).expect("write");
        let loaded = load(&path).expect("load");
        assert_eq!(loaded.checks.len(), 2);
        assert_eq!(loaded.bad_lines.len(), 2, "{:?}", loaded.bad_lines);
        assert!(loaded.bad_lines[0].starts_with("3: "));
        assert!(loaded.bad_lines[1].starts_with("5: state 7 is not 0..3"));
        let key = CheckKey {
            host: Arc::from("h"),
            service: Some(Arc::from("s")),
        };
        let r = &loaded.checks[&key];
        assert_eq!(
            (r.state.status, r.state.state_type, r.state.attempt),
            (Status::Critical, StateType::Soft, 2)
        );
        assert_eq!(
            (&*r.last.result.output, &*r.last.result.perfdata),
            ("down", "t=1")
        );
        assert_eq!(
            (r.last.retained_at, r.last.probe),
            (Some(1_700_000_000.5), "tcp")
        );
        let host_key = CheckKey {
            host: Arc::from("h"),
            service: None,
        };
        assert_eq!(loaded.checks[&host_key].last.probe, "retained");
        assert!(load(&dir.join("missing"))
            .expect("missing is empty")
            .checks
            .is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
