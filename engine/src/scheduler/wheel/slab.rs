//! Entry storage for the wheel: a slab plus intrusive lists threaded through it.
//!
//! Ground rules:
//! - Every pending timer lives in exactly one [`Entry`] of the [`Slab`] (a
//!   `Vec` of entries plus a free list), addressed by a `u32` index. Freed
//!   entries are reused, so once the slab has grown to the shard's peak
//!   timer count, inserting allocates nothing.
//! - A live entry is linked into exactly one [`List`]: a wheel slot or the
//!   overdue list. Links are `u32` indices, not pointers, so the whole
//!   structure is safe code and half the size of pointer links on 64-bit.
//!   The entry also records its [`Home`], which is what makes cancel O(1):
//!   the wheel knows which list head to patch without searching.
//! - Only the wheel (`super`) touches this module. `Level` moves indices
//!   between slots; the wheel allocates and releases. Nothing here knows
//!   about time beyond storing each entry's deadline.
//! - Each entry carries a generation that changes when it is released, so a
//!   [`super::TimerKey`] kept after its timer fired or was cancelled never
//!   reaches whatever reuses the index later.

/// The "no entry" link. Also why the slab holds at most `u32::MAX` entries.
pub(super) const NIL: u32 = u32::MAX;

/// Which list a live entry is linked into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Home {
    /// Free, or allocated but not linked yet (between alloc and push, or
    /// between pop and re-push while cascading).
    Unlinked,
    /// The wheel's overdue list: inserted with a deadline at or before the
    /// wheel's time, fires on the next advance.
    Overdue,
    /// A wheel slot.
    Slot {
        /// Wheel level, `0..NUM_LEVELS`.
        level: u8,
        /// Slot within the level, `0..64`.
        slot: u8,
    },
}

/// One timer. `value` is `Some` exactly while the entry is live.
#[derive(Debug)]
struct Entry<T> {
    deadline: u64,
    prev: u32,
    /// Next in the entry's list while live; next free entry while free.
    next: u32,
    generation: u32,
    home: Home,
    value: Option<T>,
}

/// A `Vec` of entries plus a free list threaded through the free entries.
#[derive(Debug)]
pub(super) struct Slab<T> {
    entries: Vec<Entry<T>>,
    free_head: u32,
    len: usize,
}

impl<T> Slab<T> {
    pub(super) fn with_capacity(capacity: usize) -> Self {
        Slab {
            entries: Vec::with_capacity(capacity),
            free_head: NIL,
            len: 0,
        }
    }

    /// Number of live entries.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Stores a new unlinked entry, returning its index and generation.
    ///
    /// # Panics
    ///
    /// If `u32::MAX` entries are live at once (~128 GiB of entries; like
    /// `Vec`'s capacity overflow, not reachable in practice).
    pub(super) fn alloc(&mut self, deadline: u64, value: T) -> (u32, u32) {
        self.len += 1;
        if self.free_head != NIL {
            let index = self.free_head;
            let entry = &mut self.entries[index as usize];
            debug_assert!(
                entry.value.is_none() && entry.home == Home::Unlinked,
                "free list entry {index} is live: home={:?}",
                entry.home
            );
            self.free_head = entry.next;
            entry.deadline = deadline;
            entry.prev = NIL;
            entry.next = NIL;
            entry.value = Some(value);
            return (index, entry.generation);
        }
        let index = u32::try_from(self.entries.len()).ok().filter(|&i| i != NIL);
        let Some(index) = index else {
            panic!("timer wheel slab is full: {} entries", self.entries.len());
        };
        self.entries.push(Entry {
            deadline,
            prev: NIL,
            next: NIL,
            generation: 0,
            home: Home::Unlinked,
            value: Some(value),
        });
        (index, 0)
    }

    /// Where the live entry `index` of `generation` is linked; `None` when
    /// the index was never issued, or the entry is free or reused since.
    pub(super) fn home_of(&self, index: u32, generation: u32) -> Option<Home> {
        let entry = self.entries.get(index as usize)?;
        (entry.generation == generation && entry.value.is_some()).then_some(entry.home)
    }

    pub(super) fn deadline(&self, index: u32) -> u64 {
        self.entries[index as usize].deadline
    }

    /// Frees the unlinked entry `index`, returning its deadline and value.
    /// Bumps the generation so outstanding keys for it go stale.
    pub(super) fn release(&mut self, index: u32) -> Option<(u64, T)> {
        let entry = &mut self.entries[index as usize];
        debug_assert_eq!(entry.home, Home::Unlinked, "releasing linked entry {index}");
        let value = entry.value.take()?;
        entry.generation = entry.generation.wrapping_add(1);
        entry.next = self.free_head;
        entry.prev = NIL;
        self.free_head = index;
        self.len -= 1;
        Some((entry.deadline, value))
    }
}

/// An intrusive FIFO list of slab entries: a wheel slot or the overdue list.
///
/// FIFO matters: entries with equal deadlines fire in insertion order
/// because every list appends at the tail and is drained from the head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct List {
    head: u32,
    tail: u32,
}

impl List {
    pub(super) const EMPTY: List = List {
        head: NIL,
        tail: NIL,
    };

    pub(super) fn is_empty(&self) -> bool {
        self.head == NIL
    }

    /// Links the unlinked entry `index` at the tail, recording `home`.
    pub(super) fn push_back<T>(&mut self, slab: &mut Slab<T>, index: u32, home: Home) {
        let entry = &mut slab.entries[index as usize];
        debug_assert_eq!(entry.home, Home::Unlinked, "entry {index} already linked");
        entry.home = home;
        entry.prev = self.tail;
        entry.next = NIL;
        if self.tail == NIL {
            self.head = index;
        } else {
            slab.entries[self.tail as usize].next = index;
        }
        self.tail = index;
    }

    /// Unlinks `index`, which must be linked into this list.
    pub(super) fn unlink<T>(&mut self, slab: &mut Slab<T>, index: u32) {
        let entry = &mut slab.entries[index as usize];
        let (prev, next) = (entry.prev, entry.next);
        entry.prev = NIL;
        entry.next = NIL;
        entry.home = Home::Unlinked;
        if prev == NIL {
            debug_assert_eq!(
                self.head, index,
                "entry {index} has no prev but is not head"
            );
            self.head = next;
        } else {
            slab.entries[prev as usize].next = next;
        }
        if next == NIL {
            debug_assert_eq!(
                self.tail, index,
                "entry {index} has no next but is not tail"
            );
            self.tail = prev;
        } else {
            slab.entries[next as usize].prev = prev;
        }
    }

    /// Unlinks and returns the head.
    pub(super) fn pop_front<T>(&mut self, slab: &mut Slab<T>) -> Option<u32> {
        let head = self.head;
        if head == NIL {
            return None;
        }
        self.unlink(slab, head);
        Some(head)
    }

    /// Detaches the whole list in O(1), leaving this one empty. The entries
    /// keep their old `Home` until popped from the returned list.
    pub(super) fn take(&mut self) -> List {
        std::mem::replace(self, List::EMPTY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(list: &mut List, slab: &mut Slab<u32>) -> Vec<u32> {
        let mut out = Vec::new();
        while let Some(index) = list.pop_front(slab) {
            out.extend(slab.release(index).map(|(_, v)| v));
        }
        out
    }

    #[test]
    fn list_is_fifo_and_unlinks_anywhere() {
        let mut slab = Slab::with_capacity(0);
        let mut list = List::EMPTY;
        let ids: Vec<u32> = (0..5)
            .map(|v| {
                let (index, _) = slab.alloc(0, v);
                list.push_back(&mut slab, index, Home::Overdue);
                index
            })
            .collect();
        // Middle, head and tail.
        for &index in &[ids[2], ids[0], ids[4]] {
            list.unlink(&mut slab, index);
            slab.release(index);
        }
        assert_eq!(drain(&mut list, &mut slab), vec![1, 3]);
        assert!(list.is_empty());
        assert_eq!(slab.len(), 0);
    }

    #[test]
    fn released_entries_are_reused_with_a_new_generation() {
        let mut slab = Slab::with_capacity(0);
        let (index, generation) = slab.alloc(7, 1u32);
        assert_eq!(slab.home_of(index, generation), Some(Home::Unlinked));
        assert_eq!(slab.release(index), Some((7, 1)));
        assert_eq!(slab.home_of(index, generation), None);
        let (again, next_generation) = slab.alloc(9, 2);
        assert_eq!(again, index);
        assert_ne!(next_generation, generation);
        assert_eq!(slab.home_of(index, generation), None);
        assert_eq!(slab.deadline(again), 9);
        assert_eq!(slab.home_of(NIL - 1, 0), None);
    }
}
