//! The engine's clock: monotonic microseconds since start for scheduling,
//! converted to Unix seconds only at the edges (API, event log).

use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Monotonic time base shared by all shards.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start: Instant,
    start_unix: f64,
}

impl Clock {
    /// A clock starting now.
    pub fn new() -> Clock {
        let start_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        Clock {
            start: Instant::now(),
            start_unix,
        }
    }

    /// Microseconds since the clock started.
    pub fn now_us(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// Unix time (seconds) of an engine-time in milliseconds.
    pub fn unix_ms(&self, ms: u64) -> f64 {
        self.start_unix + ms as f64 / 1000.0
    }

    /// The engine-time in milliseconds of a Unix time (seconds); a time
    /// before the clock started is its start, the earliest it can tell.
    pub fn ms_of_unix(&self, unix_s: f64) -> u64 {
        let ms = (unix_s - self.start_unix) * 1000.0;
        if ms.is_finite() && ms > 0.0 {
            ms as u64
        } else {
            0
        }
    }

    /// The `Instant` of an engine-time in milliseconds.
    pub fn instant_ms(&self, ms: u64) -> Instant {
        self.start + std::time::Duration::from_millis(ms)
    }

    /// Seconds since the clock started.
    pub fn uptime_s(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

#[cfg(test)]
mod tests {
    use super::Clock;

    #[test]
    fn unix_times_map_to_engine_milliseconds() {
        let c = Clock::new();
        assert_eq!(c.ms_of_unix(c.start_unix + 2.5), 2500);
        assert_eq!(c.ms_of_unix(c.start_unix - 60.0), 0, "before the start");
        assert_eq!(c.ms_of_unix(f64::NAN), 0);
        let back = c.unix_ms(c.ms_of_unix(c.start_unix + 10.0));
        assert!((back - (c.start_unix + 10.0)).abs() < 0.002);
    }
}
