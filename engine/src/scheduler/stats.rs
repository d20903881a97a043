//! Per-shard figures: dispatch lateness (hdrhistogram) and checks executed,
//! over a sliding last minute, plus cumulative counts by probe and state.
//!
//! The minute is six 10-second windows; the oldest is cleared as time
//! moves on, so reading "the last minute" is a merge of six histograms.

use hdrhistogram::Histogram;

use crate::check::Status;

/// Width of one window.
const WINDOW_MS: u64 = 10_000;
/// Windows kept: 6 x 10 s = the last minute.
const WINDOWS: usize = 6;
/// Highest lateness recorded exactly: one hour, in microseconds.
const MAX_LATENESS_US: u64 = 3_600_000_000;

struct Window {
    lateness: Histogram<u64>,
    checks: u64,
}

/// A shard's statistics.
pub struct Stats {
    windows: Vec<Window>,
    /// Index of the window `window_start` belongs to.
    current: usize,
    window_start: u64,
    /// Cumulative results by probe name and status.
    pub executed: Vec<(&'static str, [u64; 4])>,
}

fn histogram() -> Histogram<u64> {
    // Constant bounds that hdrhistogram accepts (low >= 1, high >= 2 * low,
    // 2 significant figures); no input reaches this.
    Histogram::new_with_bounds(1, MAX_LATENESS_US, 2).expect("constant histogram bounds are valid")
}

impl Stats {
    /// Empty statistics starting at engine time `now_ms`.
    pub fn new(now_ms: u64) -> Stats {
        Stats {
            windows: (0..WINDOWS)
                .map(|_| Window {
                    lateness: histogram(),
                    checks: 0,
                })
                .collect(),
            current: 0,
            window_start: now_ms - now_ms % WINDOW_MS,
            executed: Vec::new(),
        }
    }

    fn rotate(&mut self, now_ms: u64) {
        while now_ms >= self.window_start + WINDOW_MS {
            self.window_start += WINDOW_MS;
            self.current = (self.current + 1) % WINDOWS;
            let w = &mut self.windows[self.current];
            w.lateness.reset();
            w.checks = 0;
            if now_ms >= self.window_start + WINDOW_MS * WINDOWS as u64 {
                // Idle for over a minute: every window is stale.
                self.window_start = now_ms - now_ms % WINDOW_MS;
                for w in &mut self.windows {
                    w.lateness.reset();
                    w.checks = 0;
                }
            }
        }
    }

    /// Forgets the sliding windows (not the cumulative counts), so a
    /// measurement can start from a clean minute, e.g. after warm-up.
    pub fn reset_windows(&mut self, now_ms: u64) {
        for w in &mut self.windows {
            w.lateness.reset();
            w.checks = 0;
        }
        self.window_start = now_ms - now_ms % WINDOW_MS;
    }

    /// Records the lateness of one dispatch.
    pub fn dispatched(&mut self, now_ms: u64, lateness_us: u64) {
        self.rotate(now_ms);
        self.windows[self.current]
            .lateness
            .saturating_record(lateness_us.max(1));
    }

    /// Records one applied result.
    pub fn completed(&mut self, now_ms: u64, probe: &'static str, status: Status) {
        self.rotate(now_ms);
        self.windows[self.current].checks += 1;
        let i = match self.executed.iter().position(|(p, _)| *p == probe) {
            Some(i) => i,
            None => {
                self.executed.push((probe, [0; 4]));
                self.executed.len() - 1
            }
        };
        self.executed[i].1[status as usize] += 1;
    }

    /// Lateness over the last minute merged into `into`, and the checks
    /// completed in it with the span (seconds) they were counted over.
    pub fn last_minute(&mut self, now_ms: u64, into: &mut Histogram<u64>) -> (u64, f64) {
        self.rotate(now_ms);
        let mut checks = 0;
        for w in &self.windows {
            // Same bounds everywhere; an add error only drops this window.
            let _ = into.add(&w.lateness);
            checks += w.checks;
        }
        let span_ms = (WINDOWS as u64 - 1) * WINDOW_MS + (now_ms - self.window_start);
        (checks, (span_ms as f64 / 1000.0).max(1.0))
    }
}

/// An empty histogram with the bounds shards use, for merging into.
pub fn empty_histogram() -> Histogram<u64> {
    histogram()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_minute_forgets_old_windows() {
        let mut s = Stats::new(0);
        s.dispatched(0, 5_000);
        s.completed(0, "dummy", Status::Ok);
        let mut h = empty_histogram();
        assert_eq!(s.last_minute(1_000, &mut h).0, 1);
        assert_eq!(h.len(), 1);
        let mut h = empty_histogram();
        assert_eq!(
            s.last_minute(61_000, &mut h).0,
            0,
            "a minute later it is gone"
        );
        assert_eq!(h.len(), 0);
        assert_eq!(
            s.executed,
            vec![("dummy", [1, 0, 0, 0])],
            "cumulative counts stay"
        );
    }

    #[test]
    fn lateness_beyond_the_bound_is_saturated_not_lost() {
        let mut s = Stats::new(0);
        s.dispatched(0, u64::MAX);
        let mut h = empty_histogram();
        s.last_minute(0, &mut h);
        assert_eq!(h.len(), 1);
    }
}
