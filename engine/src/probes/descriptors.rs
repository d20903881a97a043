//! The checks' share of the process's file descriptors.
//!
//! Every socket and pipe a check opens counts against one limit,
//! `RLIMIT_NOFILE`, which the rest of the engine shares: the API's
//! listener and its connections, the event log, retention, the agents.
//! Left alone, checks against a slow target (each holding its connection
//! for up to its timeout) take every descriptor there is; from then on
//! `accept(2)` fails with EMFILE, so the API and `/metrics` stop answering
//! (axum retries once a second and loses the race to the next check
//! every time), and nothing says why.
//!
//! Ground rules: a check takes its descriptors here before it opens any
//! and holds them until it is done ([`Descriptors::take`]). The budget is
//! the limit less a reserve ([`reserve`]) that only the rest of the engine
//! uses. A check that finds the budget spent does not wait and opens
//! nothing: it ends at once UNKNOWN with "Too many open files" (the
//! failure is the engine's, not the target's), is rescheduled like any
//! other result, and runs normally again as soon as descriptors free up.
//! The condition is logged at most every [`LOG_EVERY`], with the number
//! of checks it failed, and once more when it is over.
//!
//! The budget is one per process (descriptors are), sized from the soft
//! limit when first used: raise the limit
//! ([`crate::limits::raise_open_files`]) before starting the engine.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crate::check::{CheckResult, Status};

/// How often the exhaustion is logged while it lasts, and how long no
/// check must have been refused before it is logged as over.
pub const LOG_EVERY: Duration = Duration::from_secs(10);

/// The reserve for everything but checks, by limit:
///
/// | limit | reserve | why |
/// | --- | --- | --- |
/// | < 128 | half | a toy limit; both sides get some |
/// | 128 – 512 | 64 | runtimes, listeners, logs, a few API clients |
/// | 512 – 8,192 | an eighth | grows with what such a limit serves |
/// | ≥ 8,192 | 1,024 | plenty for the API and agents; the rest is checks' |
pub fn reserve(limit: u64) -> u64 {
    (limit / 8).clamp(64, 1024).min(limit / 2)
}

/// A limit this large (`RLIM_INFINITY`) means the kernel's own cap
/// applies, which is lower: a budget beyond it changes nothing.
const LIMIT_CAP: u64 = 1 << 24;

/// The process's budget of descriptors for checks.
#[derive(Debug)]
pub struct Descriptors {
    /// Descriptors checks hold now. A counter, not a semaphore: every
    /// check of every shard takes and returns here, and a semaphore's
    /// release locks its waiter list; nothing ever waits for these.
    in_use: AtomicU32,
    budget: u32,
    limit: u64,
    refused: AtomicU64,
    /// The output of a refused check, made once: refusals come by the
    /// thousand per second when it matters.
    refusal: Arc<str>,
    log: Exhaustion,
}

/// Descriptors a running check holds; they go back when it is dropped.
#[derive(Debug)]
pub struct Held<'a> {
    from: &'a Descriptors,
    n: u32,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if self.n > 0 {
            self.from.in_use.fetch_sub(self.n, Ordering::Relaxed);
        }
    }
}

impl Descriptors {
    /// A budget for a process whose open-files limit is `limit`.
    pub fn new(limit: u64) -> Descriptors {
        let limit = limit.min(LIMIT_CAP);
        let budget = u32::try_from(limit - reserve(limit)).unwrap_or(u32::MAX);
        Descriptors {
            in_use: AtomicU32::new(0),
            budget,
            limit,
            refused: AtomicU64::new(0),
            refusal: Arc::from(format!(
                "UNKNOWN - Too many open files: the {budget} descriptors for checks \
                 (open files limit {limit}) are all in use"
            )),
            log: Exhaustion::new(),
        }
    }

    /// The process's budget, sized from the open-files limit at first
    /// use (1,024 if it cannot be read).
    pub fn shared() -> Arc<Descriptors> {
        static SHARED: OnceLock<Arc<Descriptors>> = OnceLock::new();
        Arc::clone(SHARED.get_or_init(|| {
            let limit = crate::limits::open_files().unwrap_or(1024);
            Arc::new(Descriptors::new(limit))
        }))
    }

    /// Descriptors checks may hold at once.
    pub fn budget(&self) -> u32 {
        self.budget
    }

    /// Descriptors checks hold now.
    pub fn in_use(&self) -> u32 {
        self.in_use.load(Ordering::Relaxed)
    }

    /// Checks failed for want of descriptors since the start.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Takes `n` descriptors for a check about to open them, or gives the
    /// check's result when there are not that many left: UNKNOWN, "Too
    /// many open files". Never waits.
    pub fn take(&self, n: u32) -> Result<Held<'_>, CheckResult> {
        if n == 0 {
            return Ok(Held { from: self, n: 0 });
        }
        let taken = self
            .in_use
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                used.checked_add(n).filter(|&after| after <= self.budget)
            });
        match taken {
            Ok(_) => {
                self.log.taken(self.budget);
                Ok(Held { from: self, n })
            }
            Err(_) => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                self.log.refused(self.budget, self.limit);
                Err(CheckResult::new(Status::Unknown, Arc::clone(&self.refusal)))
            }
        }
    }
}

/// Rate-limited logging of the budget running out: a warning when it
/// starts, one every [`LOG_EVERY`] while it lasts (with the checks failed
/// since the last), and a line when no check was refused for that long.
#[derive(Debug)]
struct Exhaustion {
    started: Instant,
    /// When the last warning was logged (ms since `started`), or
    /// [`NEVER`].
    warned_ms: AtomicU64,
    last_refusal_ms: AtomicU64,
    /// Checks refused since the last warning.
    unreported: AtomicU64,
    /// Refused since the last "over" line.
    exhausted: AtomicBool,
}

const NEVER: u64 = u64::MAX;

impl Exhaustion {
    fn new() -> Exhaustion {
        Exhaustion {
            started: Instant::now(),
            warned_ms: AtomicU64::new(NEVER),
            last_refusal_ms: AtomicU64::new(0),
            unreported: AtomicU64::new(0),
            exhausted: AtomicBool::new(false),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(NEVER - 1)
    }

    fn refused(&self, budget: u32, limit: u64) {
        let now = self.now_ms();
        self.last_refusal_ms.store(now, Ordering::Relaxed);
        self.unreported.fetch_add(1, Ordering::Relaxed);
        self.exhausted.store(true, Ordering::Relaxed);
        let warned = self.warned_ms.load(Ordering::Relaxed);
        let due = warned == NEVER || now.saturating_sub(warned) >= millis(LOG_EVERY);
        // One thread wins the right to log; the others only count.
        if due
            && self
                .warned_ms
                .compare_exchange(warned, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let failed = self.unreported.swap(0, Ordering::Relaxed);
            tracing::warn!(
                failed,
                budget,
                open_files_limit = limit,
                "Out of descriptors: checks fail UNKNOWN (Too many open files) until some close; \
                 a slow or unreachable target holding connections, or a low open files limit"
            );
        }
    }

    fn taken(&self, budget: u32) {
        if !self.exhausted.load(Ordering::Relaxed) {
            return;
        }
        let quiet = self
            .now_ms()
            .saturating_sub(self.last_refusal_ms.load(Ordering::Relaxed));
        if quiet >= millis(LOG_EVERY) && self.exhausted.swap(false, Ordering::Relaxed) {
            let failed = self.unreported.swap(0, Ordering::Relaxed);
            self.warned_ms.store(NEVER, Ordering::Relaxed);
            tracing::info!(failed, budget, "Descriptors for checks available again");
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(NEVER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reserve_follows_its_table() {
        let table = [
            (16, 8),
            (100, 50),
            (256, 64),
            (512, 64),
            (1024, 128),
            (8192, 1024),
            (20_000, 1024),
            (1 << 20, 1024),
        ];
        for (limit, want) in table {
            assert_eq!(reserve(limit), want, "limit {limit}");
        }
        assert_eq!(Descriptors::new(u64::MAX).budget(), (1 << 24) - 1024);
    }

    #[test]
    fn a_spent_budget_fails_checks_until_one_gives_back() {
        let d = Descriptors::new(128);
        assert_eq!(d.budget(), 64);
        let all = d.take(64).expect("the whole budget");
        assert_eq!(d.in_use(), 64);
        let refused = d.take(1).expect_err("nothing left");
        assert_eq!(refused.status, Status::Unknown);
        assert!(
            refused.output.contains("Too many open files"),
            "{}",
            refused.output
        );
        assert!(d.take(0).is_ok(), "a check that opens nothing always runs");
        drop(all);
        assert_eq!(d.in_use(), 0);
        let one = d.take(1).expect("given back");
        assert_eq!(d.in_use(), 1);
        drop(one);
    }

    #[test]
    fn exhaustion_is_counted_between_log_lines() {
        let e = Exhaustion::new();
        for _ in 0..5 {
            e.refused(1, 2);
        }
        // The first refusal logged at once; four wait for the next line.
        assert_eq!(e.unreported.load(Ordering::Relaxed), 4);
        assert!(e.exhausted.load(Ordering::Relaxed));
        e.taken(1);
        assert!(
            e.exhausted.load(Ordering::Relaxed),
            "not over while refusals are recent"
        );
        let later = Exhaustion {
            started: Instant::now().checked_sub(LOG_EVERY).expect("up for 10 s"),
            ..Exhaustion::new()
        };
        later.exhausted.store(true, Ordering::Relaxed);
        later.taken(1);
        assert!(
            !later.exhausted.load(Ordering::Relaxed),
            "over after a quiet spell"
        );
    }
}
