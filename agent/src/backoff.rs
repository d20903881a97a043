//! Reconnect delays: 0.5 s doubling to 30 s, each with +-25% jitter so a
//! fleet of agents cut off by one engine restart does not come back in
//! lock step.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// First delay after a failure.
pub const INITIAL: Duration = Duration::from_millis(500);

/// Longest delay between attempts.
pub const MAX: Duration = Duration::from_secs(30);

/// Exponential backoff with jitter.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff { next: INITIAL }
    }
}

impl Backoff {
    /// The delay before the next attempt; each call doubles the base.
    pub fn next_delay(&mut self) -> Duration {
        let base = self.next;
        self.next = (self.next * 2).min(MAX);
        jitter(base, random_unit())
    }

    /// Back to the first delay, after a connection that worked.
    pub fn reset(&mut self) {
        self.next = INITIAL;
    }
}

/// `base` scaled by a factor in [0.75, 1.25) picked by `unit` in [0, 1).
fn jitter(base: Duration, unit: f64) -> Duration {
    base.mul_f64(0.75 + 0.5 * unit.clamp(0.0, 1.0))
}

/// A random number in [0, 1). The standard library's hasher keys are
/// random per `RandomState`, which is all the randomness jitter needs.
fn random_unit() -> f64 {
    let bits = RandomState::new().build_hasher().finish();
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_to_the_cap_within_jitter() {
        let mut b = Backoff::default();
        let mut base = 0.5;
        for _ in 0..12 {
            let d = b.next_delay().as_secs_f64();
            assert!(
                d >= base * 0.75 - 1e-9 && d <= base * 1.25 + 1e-9,
                "{d} vs {base}"
            );
            base = (base * 2.0_f64).min(30.0);
        }
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(625));
    }

    #[test]
    fn jitter_bounds_and_spread() {
        let s = Duration::from_secs(4);
        assert_eq!(jitter(s, 0.0), Duration::from_secs(3));
        assert_eq!(jitter(s, 0.5), s);
        assert!(jitter(s, 0.999_999) < Duration::from_secs(5));
        let draws: Vec<f64> = (0..64).map(|_| random_unit()).collect();
        assert!(draws.iter().all(|u| (0.0..1.0).contains(u)));
        assert!(draws.windows(2).any(|w| w[0] != w[1]), "not random");
    }
}
