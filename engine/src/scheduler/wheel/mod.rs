//! Hierarchical timer wheel: which of a shard's checks are due.
//!
//! Ground rules:
//! - One [`Wheel`] per scheduler shard, owned and driven by that shard's
//!   thread alone; there is no locking and no interior mutability.
//! - The wheel has no clock. Time is milliseconds passed in by the caller:
//!   [`Wheel::new`] takes the starting time, [`Wheel::advance`] moves it
//!   forward and hands back what became due. The shard loop is:
//!   sleep until `min(next_expiration(), own cap)`, read the clock,
//!   `advance(now, &mut due)`, run `due`, re-`insert` the next run of each.
//!   Tests drive it with made-up times; nothing here sleeps.
//! - Values are opaque (`T`, a `CheckId` in the shard). The wheel never
//!   looks at them and never drops them silently: every inserted value
//!   comes back exactly once, from `advance` or from `cancel`.
//!
//! Layout (as tokio's `runtime/time/wheel`): [`NUM_LEVELS`] levels of 64
//! slots; a slot of level `n` spans 64^n ms. An entry sits at the level of
//! the highest 6-bit digit in which its deadline differs from the wheel's
//! time, so level 0 holds the next few milliseconds at 1 ms resolution and
//! each level above holds a coarser, longer span. As time passes, a higher
//! level's slot is *cascaded* when it starts: its entries are re-positioned
//! into lower levels (or fired, when due at that instant). Each level keeps
//! a 64-bit occupancy bitmap, so finding the next occupied slot is a
//! rotate and a `trailing_zeros`, and [`Wheel::next_expiration`] is O(levels).
//!
//! Entries live in a slab with intrusive `u32`-linked lists per slot
//! (`slab.rs`), so insert and cancel are O(1) and allocation-free once the
//! slab has grown. Deadlines at or before the wheel's time go to a separate
//! overdue list that the next `advance` fires first.
//!
//! Ordering: `advance` returns entries by deadline, ties in insertion order.
//! Level-0 slots hold a single deadline each and every list is FIFO; an
//! entry inserted later with the same deadline never sits at a lower level
//! than an earlier one (the level is fixed by the deadline's digits above
//! the current time), so cascading keeps insertion order. Only the overdue
//! list, whose deadlines are arbitrary past times, is sorted (stably).

mod level;
mod slab;

use self::level::{position, Level};
use self::slab::{Home, List, Slab};

/// Number of levels. Six levels of 64 slots cover 64^6 ms = 2^36 ms, about
/// 795 days: the longest check interval anyone configures (days) fits with
/// room to spare, and each further level would cost one more bitmap probe
/// per `next_expiration` for nothing. A deadline beyond the range is kept
/// in the top level, which is a ring, and re-cascaded each time round
/// until it is in range: clamped, never lost.
///
/// | Level | Slot width        | Level range        |
/// |-------|-------------------|--------------------|
/// | 0     | 1 ms              | 64 ms              |
/// | 1     | 64 ms             | ~ 4 s              |
/// | 2     | ~ 4 s             | ~ 4 min            |
/// | 3     | ~ 4 min           | ~ 4.7 h            |
/// | 4     | ~ 4.7 h           | ~ 12.4 days        |
/// | 5     | ~ 12.4 days       | ~ 2.2 years        |
///
/// Exactly: level `n` slots are 64^n ms wide, the level spans 64^(n+1) ms.
const NUM_LEVELS: usize = 6;

/// The top level: a ring rather than a single turn.
const TOP_LEVEL: usize = NUM_LEVELS - 1;

/// Handle to one inserted timer, for [`Wheel::cancel`].
///
/// It names a slab index plus the generation of that index, so a key kept
/// after its timer fired or was cancelled is stale and can never cancel a
/// later timer that reuses the index (short of the same index being reused
/// 2^32 times in between).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerKey {
    index: u32,
    generation: u32,
}

/// A hierarchical timer wheel with 1 ms resolution holding values of type `T`.
///
/// See the [module docs](self) for how the shard drives it.
#[derive(Debug)]
pub struct Wheel<T> {
    /// The wheel's time: every entry in `levels` is due strictly after it.
    elapsed: u64,
    levels: [Level; NUM_LEVELS],
    /// Entries inserted with a deadline at or before `elapsed`.
    overdue: List,
    /// A lower bound on the overdue list's deadlines while it is non-empty
    /// (a cancel does not raise it, hence only a bound).
    overdue_min: u64,
    slab: Slab<T>,
}

impl<T> Wheel<T> {
    /// An empty wheel whose time is `now_ms`.
    pub fn new(now_ms: u64) -> Self {
        Self::with_capacity(now_ms, 0)
    }

    /// An empty wheel whose time is `now_ms`, with room for `n` pending
    /// timers before the slab has to grow (size it to the shard's checks).
    pub fn with_capacity(now_ms: u64, n: usize) -> Self {
        Wheel {
            elapsed: now_ms,
            levels: std::array::from_fn(Level::new),
            overdue: List::EMPTY,
            overdue_min: u64::MAX,
            slab: Slab::with_capacity(n),
        }
    }

    /// The wheel's time: the `now_ms` of the last [`advance`](Self::advance),
    /// or of construction.
    pub fn now(&self) -> u64 {
        self.elapsed
    }

    /// Number of pending timers.
    pub fn len(&self) -> usize {
        self.slab.len()
    }

    /// Whether no timer is pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Schedules `value` for `deadline_ms`, in O(1).
    ///
    /// # Arguments
    ///
    /// - `deadline_ms`: any time. One at or before [`now`](Self::now) fires
    ///   on the next `advance`; one further out than the wheel's range
    ///   (~795 days) is parked in the top level and fires on time.
    /// - `value`: returned by `advance` when due, or by `cancel`.
    ///
    /// # Panics
    ///
    /// If `u32::MAX` timers are pending at once.
    pub fn insert(&mut self, deadline_ms: u64, value: T) -> TimerKey {
        let (index, generation) = self.slab.alloc(deadline_ms, value);
        self.link(index, deadline_ms);
        TimerKey { index, generation }
    }

    /// Removes the timer `key` and returns its value, in O(1). `None` when
    /// it already fired, was cancelled, or the key is otherwise stale.
    pub fn cancel(&mut self, key: TimerKey) -> Option<T> {
        match self.slab.home_of(key.index, key.generation)? {
            Home::Slot { level, slot } => {
                self.levels[usize::from(level)].remove(&mut self.slab, usize::from(slot), key.index)
            }
            Home::Overdue => self.overdue.unlink(&mut self.slab, key.index),
            Home::Unlinked => {
                // Live entries are always linked outside `&mut self` calls.
                debug_assert!(false, "live entry {} is unlinked", key.index);
            }
        }
        self.slab.release(key.index).map(|(_, value)| value)
    }

    /// Moves the wheel's time to `now_ms` and appends every timer due at or
    /// before it to `out` as `(deadline, value)`, ordered by deadline, ties
    /// in insertion order.
    ///
    /// Cost is O(fired + cascaded + occupied slots passed); `out` is only
    /// appended to, so the caller can reuse one buffer without reallocating.
    /// Time never goes backwards: a `now_ms` before [`now`](Self::now)
    /// (a clock step) is treated as `now()`.
    pub fn advance(&mut self, now_ms: u64, out: &mut Vec<(u64, T)>) {
        let now = now_ms.max(self.elapsed);
        let first = out.len();

        // Overdue entries are due before anything in the levels (those are
        // all due after `elapsed`), but among themselves in any order.
        let mut overdue = self.overdue.take();
        self.overdue_min = u64::MAX;
        if !overdue.is_empty() {
            while let Some(index) = overdue.pop_front(&mut self.slab) {
                out.extend(self.slab.release(index));
            }
            // Stable, so ties stay in insertion order.
            out[first..].sort_by_key(|&(deadline, _)| deadline);
        }

        while let Some((level, slot, start)) = self.next_slot() {
            if start > now {
                break;
            }
            // Process the slot at the instant it starts: entries due then
            // fire, the rest move to lower levels relative to `start` (or
            // round the ring again if still beyond the wheel's range).
            self.elapsed = start;
            let mut entries = self.levels[level].take_slot(slot);
            while let Some(index) = entries.pop_front(&mut self.slab) {
                let deadline = self.slab.deadline(index);
                debug_assert!(
                    deadline >= start,
                    "entry {index} due {deadline} missed: slot {slot} of level {level} starts {start}"
                );
                if deadline <= start {
                    out.extend(self.slab.release(index));
                } else {
                    debug_assert!(
                        level > 0,
                        "level 0 slot {slot} at {start} holds deadline {deadline}"
                    );
                    self.link(index, deadline);
                }
            }
        }
        self.elapsed = now;

        debug_assert!(
            out[first..].windows(2).all(|w| w[0].0 <= w[1].0),
            "advance to {now} fired out of order: {:?}",
            out[first..].iter().map(|&(d, _)| d).collect::<Vec<_>>()
        );
    }

    /// A time at or before the earliest pending deadline, `None` when empty.
    ///
    /// It is exact when that deadline is in level 0 (the next 64 ms) and
    /// otherwise the start of the higher-level slot holding it, where
    /// `advance` must cascade; so the caller may wake early, never late.
    /// After `advance(t)` it is always after `t`, except for timers
    /// inserted since with a deadline at or before `t` (then it returns
    /// their deadline: call `advance` again without sleeping).
    pub fn next_expiration(&self) -> Option<u64> {
        if !self.overdue.is_empty() {
            return Some(self.overdue_min);
        }
        self.next_slot().map(|(_, _, start)| start)
    }

    /// The next slot to process as `(level, slot, start)`.
    ///
    /// The lowest occupied level always wins: a level's slots lie in the
    /// current turn of the level above, which ends before any slot of that
    /// level above can start. So the search is the first non-empty level.
    fn next_slot(&self) -> Option<(usize, usize, u64)> {
        self.levels.iter().enumerate().find_map(|(level, l)| {
            l.next_occupied(self.elapsed)
                .map(|(slot, start)| (level, slot, start))
        })
    }

    /// Links the unlinked entry `index` where `deadline` belongs now.
    fn link(&mut self, index: u32, deadline: u64) {
        if deadline <= self.elapsed {
            self.overdue_min = self.overdue_min.min(deadline);
            self.overdue.push_back(&mut self.slab, index, Home::Overdue);
        } else {
            let (level, slot) = position(self.elapsed, deadline);
            self.levels[level].push(&mut self.slab, slot, index);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashMap};

    use proptest::prelude::*;

    use super::*;

    const DAY: u64 = 86_400_000;
    /// One turn of the top level: deadlines beyond it are clamped.
    const RANGE: u64 = 1 << 36;

    fn advance(wheel: &mut Wheel<u32>, now: u64) -> Vec<(u64, u32)> {
        let mut out = Vec::new();
        wheel.advance(now, &mut out);
        out
    }

    #[test]
    fn fires_by_deadline_then_insertion_order() {
        let mut wheel = Wheel::new(1_000);
        // Same deadline reached through different levels and a cascade.
        let deadlines = [1_050, 5_000, 1_050, 70_000, 5_000, 1_001, 70_000];
        for (value, &deadline) in deadlines.iter().enumerate() {
            wheel.insert(deadline, value as u32);
        }
        assert_eq!(wheel.len(), 7);
        assert_eq!(advance(&mut wheel, 1_000), vec![]);
        assert_eq!(
            advance(&mut wheel, 1_050),
            vec![(1_001, 5), (1_050, 0), (1_050, 2)]
        );
        // Inserted later, same deadline as pending ones: fires after them.
        wheel.insert(5_000, 7);
        assert_eq!(
            advance(&mut wheel, 100_000),
            vec![(5_000, 1), (5_000, 4), (5_000, 7), (70_000, 3), (70_000, 6)]
        );
        assert!(wheel.is_empty());
        assert_eq!(wheel.next_expiration(), None);
        assert_eq!(wheel.now(), 100_000);
    }

    #[test]
    fn past_deadlines_fire_on_next_advance_sorted() {
        let mut wheel = Wheel::new(10_000);
        wheel.insert(10_000, 0);
        wheel.insert(3, 1);
        wheel.insert(10_001, 2);
        wheel.insert(3, 3);
        wheel.insert(9_000, 4);
        assert_eq!(wheel.next_expiration(), Some(3));
        assert_eq!(
            advance(&mut wheel, 10_000),
            vec![(3, 1), (3, 3), (9_000, 4), (10_000, 0)]
        );
        assert_eq!(wheel.next_expiration(), Some(10_001));
        // A clock step backwards does not move the wheel's time back.
        assert_eq!(advance(&mut wheel, 5), vec![]);
        assert_eq!(wheel.now(), 10_000);
        assert_eq!(advance(&mut wheel, 10_001), vec![(10_001, 2)]);
    }

    #[test]
    fn cancel_is_exact_and_stale_keys_do_nothing() {
        let mut wheel = Wheel::new(0);
        let a = wheel.insert(100, 0);
        let b = wheel.insert(100, 1);
        let past = wheel.insert(0, 2);
        assert_eq!(wheel.cancel(a), Some(0));
        assert_eq!(wheel.cancel(a), None);
        assert_eq!(wheel.cancel(past), Some(2));
        // `c` reuses a freed index; `a`'s key must not reach it.
        let c = wheel.insert(200, 3);
        assert_eq!(wheel.cancel(a), None);
        assert_eq!(advance(&mut wheel, 150), vec![(100, 1)]);
        assert_eq!(wheel.cancel(b), None);
        assert_eq!(wheel.cancel(c), Some(3));
        assert!(wheel.is_empty());
    }

    #[test]
    fn next_expiration_is_exact_in_level_zero_and_a_slot_start_above() {
        let mut wheel = Wheel::new(0);
        wheel.insert(60_000, 0);
        // Level 2, slot 14 starts at 14 * 4096.
        assert_eq!(wheel.next_expiration(), Some(57_344));
        assert_eq!(advance(&mut wheel, 57_344), vec![]);
        // Cascaded to level 1 (slot start 59_968), then level 0 (exact).
        assert_eq!(wheel.next_expiration(), Some(59_968));
        assert_eq!(advance(&mut wheel, 59_968), vec![]);
        assert_eq!(wheel.next_expiration(), Some(60_000));
        wheel.insert(59_999, 1);
        assert_eq!(wheel.next_expiration(), Some(59_999));
    }

    #[test]
    fn far_deadlines_are_clamped_and_fire_on_time() {
        let start = 1_700_000_000_000;
        let mut wheel = Wheel::new(start);
        let far = start + 3 * 365 * DAY + 12_345;
        wheel.insert(far, 0);
        wheel.insert(u64::MAX, 1);
        let mut now = start;
        while now < far {
            let next = wheel.next_expiration().unwrap_or(u64::MAX);
            assert!(next > now && next <= far, "next={next} now={now} far={far}");
            now = next.min(far - 1);
            assert_eq!(advance(&mut wheel, now), vec![]);
            if now == far - 1 {
                break;
            }
        }
        assert_eq!(advance(&mut wheel, far), vec![(far, 0)]);
        // From the last turn of u64 time the maximum is in range.
        let mut end = Wheel::new(u64::MAX - RANGE);
        end.insert(u64::MAX, 2);
        assert_eq!(advance(&mut end, u64::MAX), vec![(u64::MAX, 2)]);
    }

    #[test]
    fn far_equal_deadlines_keep_insertion_order() {
        // Regression: a far entry once went to a catch-all top-level slot,
        // then cascaded into its real slot behind a newer entry with the
        // same deadline.
        let top = 1 << 30;
        let last_turn = u64::MAX - RANGE + 1;
        let mut wheel = Wheel::new(last_turn - RANGE + 23 * top + 100);
        wheel.insert(u64::MAX, 0);
        assert_eq!(advance(&mut wheel, last_turn + 5 * top), vec![]);
        wheel.insert(u64::MAX, 1);
        assert_eq!(
            advance(&mut wheel, u64::MAX),
            vec![(u64::MAX, 0), (u64::MAX, 1)]
        );
    }

    #[derive(Clone, Debug)]
    enum Action {
        Insert { delay: i64 },
        Cancel { which: usize },
        Reschedule { which: usize, delay: i64 },
        Advance { by: u64 },
    }

    fn delay() -> impl Strategy<Value = i64> {
        prop_oneof![
            4 => 0i64..64,
            4 => 0i64..5_000,
            3 => 0i64..600_000,
            2 => 0i64..(5 * DAY as i64),
            1 => -5_000i64..0,
            1 => (RANGE as i64)..(1i64 << 39),
        ]
    }

    fn advance_by() -> impl Strategy<Value = u64> {
        prop_oneof![
            4 => 0u64..4,
            4 => 0u64..200,
            3 => 0u64..70_000,
            2 => 0u64..(3 * DAY),
            1 => 0u64..(RANGE * 3),
        ]
    }

    fn action() -> impl Strategy<Value = Action> {
        prop_oneof![
            5 => delay().prop_map(|delay| Action::Insert { delay }),
            2 => any::<usize>().prop_map(|which| Action::Cancel { which }),
            2 => (any::<usize>(), delay())
                .prop_map(|(which, delay)| Action::Reschedule { which, delay }),
            3 => advance_by().prop_map(|by| Action::Advance { by }),
        ]
    }

    fn start() -> impl Strategy<Value = u64> {
        prop_oneof![
            Just(0u64),
            0u64..(1 << 40),
            // Just before a turn of the top level and of every level below.
            (RANGE - 3_000)..RANGE,
            1_700_000_000_000u64..1_800_000_000_000,
            // Near the end of u64 time: deadlines saturate at u64::MAX.
            Just(u64::MAX - RANGE * 2),
        ]
    }

    /// Reference model: pending timers ordered by (deadline, insertion id).
    struct Model {
        now: u64,
        pending: BTreeSet<(u64, u32)>,
        deadline_of: HashMap<u32, u64>,
    }

    impl Model {
        fn cancel(&mut self, id: u32) -> Option<u32> {
            let deadline = self.deadline_of.remove(&id)?;
            self.pending.remove(&(deadline, id));
            Some(id)
        }
    }

    fn insert(
        wheel: &mut Wheel<u32>,
        model: &mut Model,
        keys: &mut Vec<(TimerKey, u32)>,
        delay: i64,
    ) {
        let id = keys.len() as u32;
        let deadline = model.now.saturating_add_signed(delay);
        keys.push((wheel.insert(deadline, id), id));
        model.pending.insert((deadline, id));
        model.deadline_of.insert(id, deadline);
    }

    /// Runs `actions` on a wheel and the model, checking after each step.
    fn model_check(start: u64, actions: &[Action]) -> Result<(), TestCaseError> {
        let mut wheel = Wheel::new(start);
        let mut model = Model {
            now: start,
            pending: BTreeSet::new(),
            deadline_of: HashMap::new(),
        };
        // Every key ever issued, fired and cancelled ones included.
        let mut keys: Vec<(TimerKey, u32)> = Vec::new();
        let mut out = Vec::new();
        for action in actions {
            match *action {
                Action::Insert { delay } => insert(&mut wheel, &mut model, &mut keys, delay),
                Action::Cancel { which } | Action::Reschedule { which, .. } => {
                    if let Some(&(key, id)) = keys.get(which % keys.len().max(1)) {
                        prop_assert_eq!(wheel.cancel(key), model.cancel(id), "cancel {}", id);
                        prop_assert_eq!(wheel.cancel(key), None, "second cancel {}", id);
                    }
                    if let Action::Reschedule { delay, .. } = *action {
                        insert(&mut wheel, &mut model, &mut keys, delay);
                    }
                }
                Action::Advance { by } => {
                    model.now = model.now.saturating_add(by);
                    out.clear();
                    wheel.advance(model.now, &mut out);
                    let due: Vec<(u64, u32)> = model
                        .pending
                        .range(..=(model.now, u32::MAX))
                        .copied()
                        .collect();
                    for &(_, id) in &due {
                        model.cancel(id);
                    }
                    prop_assert_eq!(&out, &due, "advance to {}", model.now);
                    if let Some(next) = wheel.next_expiration() {
                        prop_assert!(
                            next > model.now,
                            "next {} after advance to {}",
                            next,
                            model.now
                        );
                    }
                }
            }
            prop_assert_eq!(wheel.now(), model.now);
            prop_assert_eq!(wheel.len(), model.pending.len());
            prop_assert_eq!(wheel.is_empty(), model.pending.is_empty());
            match (wheel.next_expiration(), model.pending.first()) {
                (None, None) => {}
                (Some(next), Some(&(earliest, _))) => prop_assert!(
                    next <= earliest,
                    "next_expiration {} later than earliest {}",
                    next,
                    earliest
                ),
                (next, earliest) => {
                    prop_assert!(false, "next_expiration {:?}, earliest {:?}", next, earliest)
                }
            }
        }
        // Nothing lost: draining to the last deadline fires everything left.
        let last = model.pending.last().map_or(model.now, |&(d, _)| d);
        out.clear();
        wheel.advance(last, &mut out);
        let rest: Vec<(u64, u32)> = model.pending.iter().copied().collect();
        prop_assert_eq!(out, rest, "drain to {}", last);
        prop_assert!(wheel.is_empty());
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn wheel_matches_model(
            start in start(),
            actions in prop::collection::vec(action(), 1..300),
        ) {
            model_check(start, &actions)?;
        }
    }
}
