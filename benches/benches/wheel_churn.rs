//! Timer wheel churn at one shard's scale: 60,000 checks pending, spread
//! over 60 s (every check on a one-minute interval).
//!
//! - `insert`: one insert into the loaded wheel, per op.
//! - `cancel`: one cancel of a random pending timer, per op.
//! - `expire_minute`: advance 1 ms at a time through the whole minute,
//!   firing all 60,000; the reported time divided by 60,000 is the cost per
//!   fired entry, including 60,000 mostly-empty `advance` calls and every
//!   cascade.
//!
//! Measured with `cargo bench -p vedette-benches --bench wheel_churn`
//! (release; 2-core shared VM, load average ~4 from concurrent builds, so
//! treat as upper bounds). Criterion's [low mid high] estimates:
//!
//! | bench          | time                          | per entry            |
//! |----------------|-------------------------------|----------------------|
//! | insert         | 11.5 / 12.2 / 13.0 ns         | 12.2 ns              |
//! | cancel         | 20.5 / 21.6 / 22.9 ns         | 21.6 ns              |
//! | expire_minute  | 3.89 / 4.17 / 4.52 ms per 60K | 69.6 ns (65–75 ns)   |
//!
//! Cancel costs more than insert because it touches a random entry and
//! both its list neighbours (cache misses on a 60K slab); insert appends
//! to a slot tail. Expiry per entry includes the 60,000 `advance` calls
//! and every cascade of the minute.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use vedette::scheduler::wheel::{TimerKey, Wheel};

/// Pending timers, as one shard with 60K checks.
const PENDING: u64 = 60_000;
/// Their deadlines spread over this many ms.
const SPREAD_MS: u64 = 60_000;
/// A realistic epoch-ms start, so cascades hit real boundaries.
const START_MS: u64 = 1_700_000_000_123;
/// Timed ops per round in the per-op benches; each round is undone
/// untimed afterwards so the wheel stays at `PENDING`.
const ROUND: u64 = 4_096;

/// Deterministic pseudo-random numbers (an LCG, so runs are comparable
/// and the bench needs no `rand`).
struct Spread(u64);

impl Spread {
    fn next_u64(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    /// A deadline within the minute after `START_MS`.
    fn next_deadline(&mut self) -> u64 {
        START_MS + 1 + self.next_u64() % SPREAD_MS
    }
}

fn loaded() -> (Wheel<u64>, Vec<TimerKey>, Spread) {
    let mut spread = Spread(42);
    let mut wheel = Wheel::with_capacity(START_MS, (PENDING + ROUND) as usize);
    let keys = (0..PENDING)
        .map(|id| wheel.insert(spread.next_deadline(), id))
        .collect();
    (wheel, keys, spread)
}

fn insert(c: &mut Criterion) {
    let (mut wheel, _, mut spread) = loaded();
    let mut keys = Vec::with_capacity(ROUND as usize);
    c.bench_function("wheel_churn/insert", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut done = 0;
            while done < iters {
                let n = ROUND.min(iters - done);
                let deadlines: Vec<u64> = (0..n).map(|_| spread.next_deadline()).collect();
                let started = Instant::now();
                for (id, &deadline) in deadlines.iter().enumerate() {
                    keys.push(wheel.insert(deadline, id as u64));
                }
                total += started.elapsed();
                for key in keys.drain(..) {
                    black_box(wheel.cancel(key));
                }
                done += n;
            }
            total
        })
    });
}

fn cancel(c: &mut Criterion) {
    let (mut wheel, mut keys, mut spread) = loaded();
    let mut round = Vec::with_capacity(ROUND as usize);
    let mut pick = Spread(7);
    c.bench_function("wheel_churn/cancel", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut done = 0;
            while done < iters {
                let n = ROUND.min(iters - done);
                // Cancel random pending timers; replace them afterwards.
                round.clear();
                for _ in 0..n {
                    let at = (pick.next_u64() % keys.len() as u64) as usize;
                    round.push(keys.swap_remove(at));
                }
                let started = Instant::now();
                for &key in &round {
                    black_box(wheel.cancel(key));
                }
                total += started.elapsed();
                for id in 0..n {
                    keys.push(wheel.insert(spread.next_deadline(), id));
                }
                done += n;
            }
            total
        })
    });
}

fn expire_minute(c: &mut Criterion) {
    let mut group = c.benchmark_group("wheel_churn");
    group.throughput(Throughput::Elements(PENDING));
    group.sample_size(20);
    let mut due = Vec::with_capacity(PENDING as usize);
    group.bench_function("expire_minute", |b| {
        b.iter_batched(
            || loaded().0,
            |mut wheel| {
                for now in START_MS + 1..=START_MS + SPREAD_MS {
                    due.clear();
                    wheel.advance(now, &mut due);
                    black_box(&due);
                }
                debug_assert!(wheel.is_empty());
                wheel
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, insert, cancel, expire_minute);
criterion_main!(benches);
