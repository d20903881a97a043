//! One level of the wheel: 64 slots, each a list of entries, plus a bitmap
//! of which slots are occupied.
//!
//! Ground rules:
//! - A level only moves entry indices in and out of its slots and keeps
//!   `occupied` in step with them; it never fires or re-positions entries.
//!   The wheel decides which level and slot an entry belongs in
//!   ([`position`]) and when a slot is due ([`Level::next_occupied`]).
//! - Slot `s` of level `n` holds entries whose deadline lies in
//!   `[start, start + 64^n)`, where `start` is the first time after the
//!   wheel's `elapsed` at which slot `s` begins. Below the top level that is
//!   always inside the 64^(n+1) ms block containing `elapsed`. The top
//!   level is a ring: slots at or before `elapsed`'s slot mean the next
//!   turn, and a slot may also hold deadlines of later turns (beyond the
//!   wheel's range), which the wheel re-cascades each time round.

use super::slab::{Home, List, Slab};
use super::{NUM_LEVELS, TOP_LEVEL};

/// Slots per level; a power of two so slot maths is shifts and masks, and
/// exactly the width of the `u64` occupancy bitmap.
const LEVEL_MULT: usize = 64;

/// log2(`LEVEL_MULT`): the number of deadline bits each level consumes.
const LEVEL_BITS: u32 = 6;

/// Width in ms of one slot of `level`: 64^level.
pub(super) const fn slot_range(level: usize) -> u64 {
    1 << (LEVEL_BITS as usize * level)
}

/// Width in ms of a whole turn of `level`: 64^(level + 1).
pub(super) const fn level_range(level: usize) -> u64 {
    slot_range(level + 1)
}

/// One turn of the top level, 64^6 ms = 2^36 ms (~795 days): the longest
/// delay the wheel represents without re-cascading.
const WHEEL_RANGE: u64 = level_range(TOP_LEVEL);

/// Level and slot for an entry due at `when`, given the wheel's `elapsed`.
///
/// The level is the highest 6-bit digit in which `when` and `elapsed`
/// differ (as in tokio's `level_for`): below it they agree, so the entry
/// is in the current turn of that level. `when` must be after `elapsed`;
/// the caller handles overdue deadlines.
///
/// When they differ above the wheel's range, the entry goes to the top
/// level, which is a ring, in the slot `when` names. That slot's next turn
/// after `elapsed` starts no later than `when` (every turn of the ring
/// does, for a deadline more than a turn away), and at that start the
/// entry is re-cascaded: a far deadline is clamped, never lost. Using the
/// deadline's own slot, rather than some "last" slot, keeps equal
/// deadlines in one FIFO list, so they still fire in insertion order.
pub(super) fn position(elapsed: u64, when: u64) -> (usize, usize) {
    debug_assert!(
        when > elapsed,
        "position: when={when} is not after elapsed={elapsed}"
    );
    let masked = (elapsed ^ when) | (slot_range(1) - 1);
    let level = if masked < WHEEL_RANGE {
        let significant = (u64::BITS - 1 - masked.leading_zeros()) as usize;
        significant / LEVEL_BITS as usize
    } else {
        TOP_LEVEL
    };
    (level, slot_for(when, level))
}

/// The slot of `level` that time `at` falls in.
pub(super) fn slot_for(at: u64, level: usize) -> usize {
    ((at >> (LEVEL_BITS as usize * level)) % LEVEL_MULT as u64) as usize
}

/// One level of the wheel.
#[derive(Debug)]
pub(super) struct Level {
    level: usize,
    /// Bit `s` is set iff `slots[s]` is non-empty.
    occupied: u64,
    slots: [List; LEVEL_MULT],
}

impl Level {
    pub(super) fn new(level: usize) -> Self {
        debug_assert!(level < NUM_LEVELS, "level {level} >= {NUM_LEVELS}");
        Level {
            level,
            occupied: 0,
            slots: [List::EMPTY; LEVEL_MULT],
        }
    }

    /// The first occupied slot after `elapsed`'s slot, going round the
    /// level once (so `elapsed`'s own slot last), and the time it starts (strictly after `elapsed`).
    pub(super) fn next_occupied(&self, elapsed: u64) -> Option<(usize, u64)> {
        if self.occupied == 0 {
            return None;
        }
        // Search from the slot after `elapsed`'s: rotate so it is bit 0, and
        // the trailing zeros are the distance to the next occupied slot.
        // `elapsed`'s own slot thus comes last, which matters at the top
        // level: there it means the *next* turn (clamped far deadlines),
        // after every other slot of the ring. Below the top level that
        // slot is never occupied (its start is not after `elapsed`).
        let first = (slot_for(elapsed, self.level) + 1) % LEVEL_MULT;
        let distance = self.occupied.rotate_right(first as u32).trailing_zeros() as usize;
        let slot = (first + distance) % LEVEL_MULT;
        let level_start = elapsed & !(level_range(self.level) - 1);
        let mut start = level_start + slot as u64 * slot_range(self.level);
        if start <= elapsed {
            // A slot at or before `elapsed`'s slot: only the top level wraps
            // (far or boundary-crossing deadlines); below it, entries are
            // always in the current turn and were cascaded when their slot
            // started.
            debug_assert_eq!(
                self.level, TOP_LEVEL,
                "level {} slot {slot} starts at {start} <= elapsed {elapsed}, occupied={:#x}",
                self.level, self.occupied
            );
            start = start.saturating_add(level_range(self.level));
        }
        Some((slot, start))
    }

    /// Appends the unlinked entry `index` to `slot`.
    pub(super) fn push<T>(&mut self, slab: &mut Slab<T>, slot: usize, index: u32) {
        let home = Home::Slot {
            level: self.level as u8,
            slot: slot as u8,
        };
        self.slots[slot].push_back(slab, index, home);
        self.occupied |= 1 << slot;
    }

    /// Unlinks `index`, which must be in `slot`.
    pub(super) fn remove<T>(&mut self, slab: &mut Slab<T>, slot: usize, index: u32) {
        debug_assert!(
            self.occupied & (1 << slot) != 0,
            "remove {index} from empty slot {slot} of level {}, occupied={:#x}",
            self.level,
            self.occupied
        );
        self.slots[slot].unlink(slab, index);
        if self.slots[slot].is_empty() {
            self.occupied &= !(1 << slot);
        }
    }

    /// Detaches every entry of `slot` for the wheel to fire or cascade.
    pub(super) fn take_slot(&mut self, slot: usize) -> List {
        self.occupied &= !(1 << slot);
        self.slots[slot].take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u64 = 86_400_000;

    #[test]
    fn level_table() {
        // (level, slot width, level range) as documented on NUM_LEVELS.
        let table = [
            (0, 1, 64),
            (1, 64, 4_096),
            (2, 4_096, 262_144),
            (3, 262_144, 16_777_216),
            (4, 16_777_216, 1_073_741_824),
            (5, 1_073_741_824, 68_719_476_736),
        ];
        for (level, slot, range) in table {
            assert_eq!(slot_range(level), slot, "slot_range({level})");
            assert_eq!(level_range(level), range, "level_range({level})");
        }
        assert_eq!(WHEEL_RANGE, 1 << 36);
    }

    #[test]
    fn slot_for_table() {
        let cases = [
            // (at, level, slot)
            (0, 0, 0),
            (63, 0, 63),
            (64, 0, 0),
            (64, 1, 1),
            (4_095, 1, 63),
            (4_096, 1, 0),
            (4_096, 2, 1),
            (slot_range(5) * 3 + 17, 5, 3),
            (WHEEL_RANGE + slot_range(5) * 2, 5, 2),
            (u64::MAX, 0, 63),
            (u64::MAX, 5, 63),
        ];
        for (at, level, slot) in cases {
            assert_eq!(slot_for(at, level), slot, "slot_for({at}, {level})");
        }
    }

    #[test]
    fn position_table() {
        let top = slot_range(5);
        let cases = [
            // (elapsed, when, level, slot)
            (0, 1, 0, 1),
            (0, 63, 0, 63),
            (0, 64, 1, 1),
            (10, 63, 0, 63),
            // Crossing a 64 ms boundary by 1 ms is level 1: level 0 only
            // holds the current 64 ms turn.
            (63, 64, 1, 1),
            (100, 4_095, 1, 63),
            (100, 4_096, 2, 1),
            (0, 60_000, 2, 14),
            (0, DAY, 4, 5),
            (0, 30 * DAY, 5, 2),
            (0, WHEEL_RANGE - 1, 5, 63),
            // Crossing the wheel's range near its end: the ring's slot 0,
            // next turn.
            (WHEEL_RANGE - 1, WHEEL_RANGE, 5, 0),
            (WHEEL_RANGE - 1, WHEEL_RANGE + top - 1, 5, 0),
            // A turn of the ring or more away: the deadline's own slot,
            // re-cascaded every turn; elapsed's own slot means next turn.
            (top * 5 + 3, top * 5 + WHEEL_RANGE, 5, 5),
            (top * 5 + 3, top * 4 + WHEEL_RANGE, 5, 4),
            (0, WHEEL_RANGE, 5, 0),
            (0, u64::MAX, 5, 63),
            (7 * top, 9 * WHEEL_RANGE + 7 * top, 5, 7),
            // Last turn of u64 time: no wrap, no overflow.
            (u64::MAX - 1, u64::MAX, 0, 63),
            (u64::MAX - WHEEL_RANGE + 1, u64::MAX, 5, 63),
        ];
        for (elapsed, when, level, slot) in cases {
            assert_eq!(
                position(elapsed, when),
                (level, slot),
                "position(elapsed={elapsed}, when={when})"
            );
        }
    }

    #[test]
    fn next_occupied_finds_start_and_wraps_only_at_top() {
        let mut slab = Slab::with_capacity(4);
        let mut level1 = Level::new(1);
        assert_eq!(level1.next_occupied(0), None);
        let (a, _) = slab.alloc(200, ());
        level1.push(&mut slab, 3, a);
        assert_eq!(level1.next_occupied(100), Some((3, 192)));
        assert_eq!(level1.next_occupied(4_096 + 100), Some((3, 4_096 + 192)));

        let top = slot_range(TOP_LEVEL);
        let mut level5 = Level::new(TOP_LEVEL);
        let (b, _) = slab.alloc(WHEEL_RANGE + 5, ());
        level5.push(&mut slab, 2, b);
        // Slot 2 is behind elapsed's slot 7: the next turn.
        assert_eq!(
            level5.next_occupied(7 * top + 1),
            Some((2, WHEEL_RANGE + 2 * top))
        );
        // Elapsed's own slot wraps a whole turn.
        assert_eq!(
            level5.next_occupied(2 * top + 1),
            Some((2, WHEEL_RANGE + 2 * top))
        );
        // ...but comes after every other slot of the ring.
        let (c, _) = slab.alloc(WHEEL_RANGE + 3 * top, ());
        level5.push(&mut slab, 3, c);
        assert_eq!(level5.next_occupied(2 * top + 1), Some((3, 3 * top)));
        level5.remove(&mut slab, 3, c);
        level5.remove(&mut slab, 2, b);
        assert_eq!(level5.next_occupied(0), None);
        assert!(level1.take_slot(3).pop_front(&mut slab).is_some());
        assert_eq!(level1.next_occupied(0), None);
    }
}
