//! Saturation per workload: checks at a 1 s interval, offered more and
//! more until a run no longer holds, then bisected down to the highest
//! offer that held.
//!
//! A run holds when its dispatch lateness p99 stays within
//! [`P99_LIMIT_MS`] and at least 90% of the offered checks come back OK
//! (a peer that falls behind makes checks time out while the engine is
//! still punctual: that rate did not hold either). The probe scenarios'
//! bisection judges the OK rate only, so this one is its own.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::record::{write_json, Env};
use super::workload::Workload;
use super::MatrixArgs;
use crate::Load;

/// Lateness p99 above this (ms) and the rate did not hold (issue 6).
pub const P99_LIMIT_MS: f64 = 100.0;

/// Share of the offered rate that must come back OK.
const OK_SHARE: f64 = 0.9;

/// Runs at most per workload: doubling from the first offer, then
/// bisecting to within [`CLOSE_ENOUGH`].
const MAX_STEPS: usize = 8;

/// Bisection stops once the failed offer is within 15% of the held one.
const CLOSE_ENOUGH: f64 = 1.15;

/// Warm-up of a step: the 1 s interval's first pass, and a second more.
const WARMUP: Duration = Duration::from_secs(3);

/// One step of the search.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Step {
    /// Checks per second offered.
    pub offered: usize,
    /// Results per second.
    pub achieved: f64,
    /// OK results per second.
    pub ok: f64,
    /// Lateness p99, ms.
    pub p99_ms: f64,
    /// CPU as a share of one core.
    pub cpu_share: f64,
    /// Whether it held.
    pub held: bool,
}

/// A workload's saturation search.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SaturationRecord {
    /// The set of runs it belongs to.
    pub label: String,
    /// Workload name.
    pub kind: String,
    /// Every step, in order.
    pub steps: Vec<Step>,
    /// The highest offer that held, if any did.
    pub highest_held: Option<usize>,
    /// Conditions of the run.
    pub env: Env,
}

/// First offer and the highest one tried, checks/s: the dummy workload
/// is the scheduler alone (600K/s held in issue 2), the probes are bounded
/// by their loopback peers (10K-90K/s in issue 3).
fn bounds(kind: Workload) -> (usize, usize) {
    match kind {
        Workload::Dummy => (100_000, 1_600_000),
        _ => (4_000, 256_000),
    }
}

/// Searches `kind`'s highest rate that holds and writes
/// `dir/saturation-kind.json`.
///
/// # Errors
/// When a peer or a run fails.
pub fn run(kind: Workload, args: &MatrixArgs, dir: &Path) -> anyhow::Result<()> {
    let peers = super::peers(kind, args)?;
    let (first, cap) = bounds(kind);
    let mut offer = first;
    let mut steps = Vec::new();
    let (mut held, mut failed): (Option<usize>, Option<usize>) = (None, None);
    for _ in 0..MAX_STEPS {
        let load = Load {
            checks: offer,
            interval: Duration::from_secs(1),
            duration: args.saturation_duration,
            shards: args.shards,
            reload: false,
        };
        let r = super::run_once(&peers, &args.label, &load, WARMUP)?;
        let ok = r.lateness_ms[1] <= P99_LIMIT_MS && r.ok_per_s >= OK_SHARE * offer as f64;
        println!(
            "{}/saturation-{}: offered {offer}/s achieved {:.0}/s ok {:.0}/s p99 {:.3} ms cpu {:.0}%: {}",
            args.label,
            kind.name(),
            r.achieved_per_s,
            r.ok_per_s,
            r.lateness_ms[1],
            r.cpu_share * 100.0,
            if ok { "held" } else { "did not hold" }
        );
        steps.push(Step {
            offered: offer,
            achieved: r.achieved_per_s,
            ok: r.ok_per_s,
            p99_ms: r.lateness_ms[1],
            cpu_share: r.cpu_share,
            held: ok,
        });
        if ok {
            held = held.max(Some(offer));
        } else {
            failed = Some(failed.map_or(offer, |f| f.min(offer)));
        }
        offer = match next_offer(held, failed, cap, first) {
            Some(o) => o,
            None => break,
        };
    }
    let rec = SaturationRecord {
        label: args.label.clone(),
        kind: kind.name().to_string(),
        steps,
        highest_held: held,
        env: Env::now(),
    };
    println!(
        "{}/saturation-{}: highest rate that held: {} (p99 <= {P99_LIMIT_MS} ms, >= 90% OK)",
        args.label,
        kind.name(),
        held.map_or("none".to_string(), |h| format!("{h}/s"))
    );
    write_json(&dir.join(format!("saturation-{}.json", kind.name())), &rec)
}

/// The next offer, or `None` when the search is done: double while every
/// offer held (up to `cap`), halve while none did (down to a hundredth of
/// `first`), bisect between the two until they are close.
fn next_offer(
    held: Option<usize>,
    failed: Option<usize>,
    cap: usize,
    first: usize,
) -> Option<usize> {
    match (held, failed) {
        (Some(h), None) => (h < cap).then(|| (h * 2).min(cap)),
        (Some(h), Some(f)) => (f as f64 > h as f64 * CLOSE_ENOUGH).then(|| (h + f) / 2),
        (None, Some(f)) => (f / 2 >= first / 100).then_some(f / 2),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_offer_doubles_bisects_and_stops() {
        let cases = [
            (Some(4_000), None, Some(8_000)),
            (Some(256_000), None, None),
            (Some(8_000), Some(16_000), Some(12_000)),
            (Some(12_000), Some(13_000), None),
            (None, Some(4_000), Some(2_000)),
            (None, Some(70), None),
            (None, None, None),
        ];
        for (held, failed, want) in cases {
            assert_eq!(
                next_offer(held, failed, 256_000, 4_000),
                want,
                "held {held:?} failed {failed:?}"
            );
        }
    }
}
