//! PLACEHOLDER replaced by the hierarchical wheel at merge.
#![allow(missing_docs)]
use std::collections::BTreeMap;
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerKey(u64, u64);
pub struct Wheel<T> {
    now: u64,
    seq: u64,
    map: BTreeMap<(u64, u64), T>,
}
impl<T> Wheel<T> {
    pub fn new(now_ms: u64) -> Self {
        Wheel {
            now: now_ms,
            seq: 0,
            map: BTreeMap::new(),
        }
    }
    pub fn with_capacity(now_ms: u64, _n: usize) -> Self {
        Self::new(now_ms)
    }
    pub fn insert(&mut self, deadline_ms: u64, value: T) -> TimerKey {
        self.seq += 1;
        self.map.insert((deadline_ms, self.seq), value);
        TimerKey(deadline_ms, self.seq)
    }
    pub fn cancel(&mut self, key: TimerKey) -> Option<T> {
        self.map.remove(&(key.0, key.1))
    }
    pub fn advance(&mut self, now_ms: u64, out: &mut Vec<(u64, T)>) {
        self.now = now_ms;
        while let Some(e) = self.map.first_entry() {
            if e.key().0 > now_ms {
                break;
            }
            let ((d, _), v) = e.remove_entry();
            out.push((d, v));
        }
    }
    pub fn next_expiration(&self) -> Option<u64> {
        self.map.keys().next().map(|k| k.0)
    }
    pub fn now(&self) -> u64 {
        self.now
    }
    pub fn len(&self) -> usize {
        self.map.len()
    }
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}
