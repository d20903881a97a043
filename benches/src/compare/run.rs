//! What one run of one engine measured, and whether it kept up.

/// How much the median check latency may rise from the window's first
/// third to its last before the engine counts as falling behind: an
/// engine that keeps up has a flat latency; one that does not adds the
/// backlog to every check.
const LATENCY_GROWTH_S: f64 = 0.5;

/// The share of the offered rate an engine must achieve to keep up.
const KEEP_UP: f64 = 0.95;

/// One engine at one offered rate, over the measured window.
#[derive(Debug, Clone)]
pub struct Run {
    /// Checks per second offered (services / interval).
    pub offered: f64,
    /// Results per second, of any state.
    pub done: f64,
    /// OK results per second: a timed-out check is not throughput.
    pub ok: f64,
    /// CPU seconds of the engine and the plugins it ran, per second.
    pub cpu_share: f64,
    /// Resident memory of the engine's processes at the window's end.
    pub rss_bytes: u64,
    /// Median check latency (due time to start) in the window's first
    /// and last thirds, seconds.
    pub latency_s: [f64; 2],
    /// The output of one check left in a problem state, when the engine
    /// tells: a run whose checks fail says why.
    pub example: Option<String>,
}

impl Run {
    /// CPU seconds per 1,000 results.
    pub fn cpu_per_1000(&self) -> f64 {
        self.cpu_share / self.done.max(1e-9) * 1000.0
    }

    /// Checks per CPU-second: the figure issue 6's 50× target compares.
    pub fn checks_per_cpu_s(&self) -> f64 {
        self.done / self.cpu_share.max(1e-9)
    }

    /// Whether the engine kept up: OK rate within 5% of the offer and a
    /// latency that did not grow over the window.
    pub fn held(&self) -> bool {
        self.ok >= KEEP_UP * self.offered && !self.latency_grew()
    }

    fn latency_grew(&self) -> bool {
        self.latency_s[1] - self.latency_s[0] > LATENCY_GROWTH_S
    }

    /// One line: offer, rates, CPU, memory, latency, verdict (and an
    /// example problem).
    pub fn line(&self) -> String {
        let example = self
            .example
            .as_ref()
            .map_or(String::new(), |e| format!("; e.g. {e}"));
        let per_check = if self.done > 0.0 {
            format!("{:.4} cpu-s/1000 checks", self.cpu_per_1000())
        } else {
            "no results".to_string()
        };
        format!(
            "offered={:.0}/s achieved={:.0}/s ok={:.0}/s cpu={:.1}% of a core, \
             {per_check}, rss={:.1} MiB, latency p50 {:.3}s -> {:.3}s: {}{example}",
            self.offered,
            self.done,
            self.ok,
            self.cpu_share * 100.0,
            self.rss_bytes as f64 / (1024.0 * 1024.0),
            self.latency_s[0],
            self.latency_s[1],
            if self.held() {
                "held"
            } else if self.ok < KEEP_UP * self.offered {
                "fell behind (rate)"
            } else {
                "fell behind (latency grows)"
            }
        )
    }
}

/// The median of `v` (sorted in place); 0 when empty.
pub fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(offered: f64, ok: f64, latency_s: [f64; 2]) -> Run {
        Run {
            offered,
            done: ok,
            ok,
            cpu_share: 0.5,
            rss_bytes: 0,
            latency_s,
            example: None,
        }
    }

    #[test]
    fn held_needs_the_rate_and_a_flat_latency() {
        for (offered, ok, lat, want) in [
            (100.0, 100.0, [0.01, 0.02], true),
            (100.0, 95.0, [0.01, 0.02], true),
            (100.0, 94.0, [0.01, 0.02], false),
            (100.0, 100.0, [0.01, 0.6], false),
            (100.0, 100.0, [3.0, 3.2], true),
        ] {
            assert_eq!(run(offered, ok, lat).held(), want, "{offered} {ok} {lat:?}");
        }
    }

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 3.0);
        assert_eq!(median(&mut []), 0.0);
    }
}
