//! A shard's check table and timer wheel: everything a shard knows, with no
//! I/O and no clock of its own (time is passed in), so it is tested in
//! virtual time.
//!
//! Ground rules: the shard thread owns the [`ShardCore`] behind a
//! `RwLock` that it takes once per loop turn for a whole batch of due
//! checks and completed results; the API takes the read lock to list
//! states, and the write lock only for rare operator actions (passive
//! result, check now, reload). Checks are addressed by dense `u32` ids;
//! a slot freed by a reload bumps its generation so a late result of the
//! removed check is dropped, never applied to its successor.

use std::collections::HashMap;
use std::sync::Arc;

use super::plan::{stable_hash, CheckDef, CheckKey, ShardPlan};
use super::stats::Stats;
use super::wheel::{TimerKey, Wheel};
use crate::check::CheckResult;
use crate::events::Event;
use crate::probes::Probe;
use crate::state::{self, CheckState, Policy};

/// The last result applied to a check.
#[derive(Debug, Clone)]
pub struct LastResult {
    /// The result.
    pub result: CheckResult,
    /// Engine time it was applied, ms.
    pub at_ms: u64,
    /// Unix time of a result restored from before a restart (`at_ms`
    /// means nothing then); `None` for results of this run.
    pub retained_at: Option<f64>,
    /// Dispatch lateness (due to probe start), µs.
    pub latency_us: u64,
    /// Probe run time, µs.
    pub execution_us: u64,
    /// Which probe produced it (`passive` for passive results).
    pub probe: &'static str,
}

/// One check in the table.
#[derive(Debug)]
pub struct Slot {
    /// The compiled check.
    pub def: CheckDef,
    /// Its state.
    pub state: CheckState,
    /// Its last result.
    pub last: Option<LastResult>,
    /// When it is next due (engine ms), if scheduled.
    pub next_due_ms: Option<u64>,
    timer: Option<TimerKey>,
    generation: u32,
    running: bool,
    live: bool,
    epoch: u64,
}

/// A check the shard driver must run: the probe had no immediate result.
#[derive(Debug)]
pub struct Dispatch {
    /// Check id.
    pub id: u32,
    /// Generation of the slot when dispatched.
    pub generation: u32,
    /// What to run.
    pub probe: Arc<Probe>,
    /// When it was due (engine ms).
    pub due_ms: u64,
}

/// When a result was produced and applied, and what it took.
#[derive(Debug, Clone, Copy)]
struct RunTimes {
    /// When it is applied (for the rate statistics).
    now_ms: u64,
    /// When the check ran: its last-check and state-change time.
    ran_ms: u64,
    latency_us: u64,
    execution_us: u64,
}

/// A finished probe run coming back to the shard.
#[derive(Debug)]
pub struct Completion {
    /// Check id.
    pub id: u32,
    /// Generation from the [`Dispatch`].
    pub generation: u32,
    /// When it was due (engine ms).
    pub due_ms: u64,
    /// When the probe started (engine µs).
    pub started_us: u64,
    /// When it finished (engine µs).
    pub finished_us: u64,
    /// What it found.
    pub result: CheckResult,
}

/// Why an operator action on a check did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    /// No such host/service in this shard.
    #[error("no such check: {0}")]
    UnknownCheck(String),
}

/// Visits every live slot of a shard for a reader that must not stall it
/// (API listings, retention): the read lock is taken for `chunk` slots at
/// a time, and `between` runs after each chunk with the lock released
/// (for work such as I/O that must not hold it), so the shard runs its
/// checks during a walk over a million of them.
pub fn for_each_chunked(
    core: &parking_lot::RwLock<ShardCore>,
    chunk: usize,
    mut f: impl FnMut(&Slot),
    mut between: impl FnMut(),
) {
    let mut start = 0;
    loop {
        let done = {
            let guard = core.read();
            let end = (start + chunk.max(1)).min(guard.capacity());
            for id in start..end {
                if let Some(slot) = guard.slot(id) {
                    f(slot);
                }
            }
            start = end;
            end >= guard.capacity()
        };
        between();
        if done {
            return;
        }
    }
}

/// The table, the wheel, the statistics.
pub struct ShardCore {
    wheel: Wheel<u32>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    index: HashMap<CheckKey, u32>,
    expired: Vec<(u64, u32)>,
    events: Vec<Event>,
    epoch: u64,
    /// Lateness and throughput figures.
    pub stats: Stats,
}

fn describe(key: &CheckKey) -> String {
    match &key.service {
        Some(s) => format!("{}/{}", key.host, s),
        None => key.host.to_string(),
    }
}

impl ShardCore {
    /// An empty shard at engine time `now_ms`.
    pub fn new(now_ms: u64) -> ShardCore {
        ShardCore {
            wheel: Wheel::new(now_ms),
            slots: Vec::new(),
            free: Vec::new(),
            index: HashMap::new(),
            expired: Vec::new(),
            events: Vec::new(),
            epoch: 0,
            stats: Stats::new(now_ms),
        }
    }

    /// Installs a plan in one go (at start; see [`ShardCore::begin_load`]
    /// for the chunked form a reload uses).
    pub fn load(&mut self, plan: ShardPlan, now_ms: u64) {
        let epoch = self.begin_load(plan.checks.len());
        self.load_some(&mut plan.checks.into_iter(), usize::MAX, epoch, now_ms);
        self.end_load(epoch);
    }

    /// Starts installing a new plan of `n` checks; returns the load's epoch.
    ///
    /// A plan is installed as `begin_load`, then [`ShardCore::load_some`]
    /// until the checks run out, then [`ShardCore::end_load`]. The caller
    /// may release the lock between calls so the shard keeps running
    /// checks during a large reload; meanwhile each check is either fully
    /// old or fully new, and removed checks stay until `end_load`.
    pub fn begin_load(&mut self, n: usize) -> u64 {
        self.epoch += 1;
        self.slots.reserve(n.saturating_sub(self.slots.len()));
        self.epoch
    }

    /// Installs up to `max` checks from `defs`. Checks whose key is
    /// unchanged keep their state, last result and place in the schedule
    /// (unless their intervals changed); new checks are spread over their
    /// interval by a splay derived from their key. Returns false once
    /// `defs` is exhausted.
    pub fn load_some(
        &mut self,
        defs: &mut impl Iterator<Item = CheckDef>,
        max: usize,
        epoch: u64,
        now_ms: u64,
    ) -> bool {
        for _ in 0..max {
            let Some(def) = defs.next() else {
                return false;
            };
            self.install(def, epoch, now_ms);
        }
        true
    }

    fn install(&mut self, def: CheckDef, epoch: u64, now_ms: u64) {
        match self.index.get(&def.key).copied() {
            Some(id) => {
                let slot = &mut self.slots[id as usize];
                let reschedule = slot.def.schedule != def.schedule
                    || slot.def.probe.is_some() != def.probe.is_some();
                slot.def = def;
                slot.epoch = epoch;
                if reschedule {
                    if let Some(t) = slot.timer.take() {
                        self.wheel.cancel(t);
                    }
                    slot.next_due_ms = None;
                    self.schedule_first(id, now_ms);
                }
            }
            None => {
                let slot = Slot {
                    def,
                    state: CheckState::default(),
                    last: None,
                    next_due_ms: None,
                    timer: None,
                    generation: 0,
                    running: false,
                    live: true,
                    epoch,
                };
                let key = slot.def.key.clone();
                let id = match self.free.pop() {
                    Some(id) => {
                        let generation = self.slots[id as usize].generation;
                        self.slots[id as usize] = Slot { generation, ..slot };
                        id
                    }
                    None => {
                        self.slots.push(slot);
                        u32::try_from(self.slots.len() - 1).unwrap_or(u32::MAX)
                    }
                };
                self.index.insert(key, id);
                self.schedule_first(id, now_ms);
            }
        }
    }

    /// Before [`ShardCore::end_load`]: copies the states of the checks the
    /// new plan did not name here into `leaving`, so another shard that
    /// now owns them can [`restore`](ShardCore::restore) them.
    pub fn take_leaving(
        &self,
        epoch: u64,
        leaving: &mut HashMap<CheckKey, crate::retention::Retained>,
    ) {
        for slot in self.slots.iter().filter(|s| s.live && s.epoch != epoch) {
            if let Some(last) = &slot.last {
                leaving.insert(
                    slot.def.key.clone(),
                    crate::retention::Retained {
                        state: slot.state,
                        last: last.clone(),
                    },
                );
            }
        }
    }

    /// Finishes a load: every check the plan did not name goes.
    pub fn end_load(&mut self, epoch: u64) {
        for id in 0..self.slots.len() {
            let slot = &mut self.slots[id];
            if slot.live && slot.epoch != epoch {
                if let Some(t) = slot.timer.take() {
                    self.wheel.cancel(t);
                }
                slot.live = false;
                slot.running = false;
                slot.generation = slot.generation.wrapping_add(1);
                slot.last = None;
                self.index.remove(&slot.def.key);
                self.free.push(u32::try_from(id).unwrap_or(u32::MAX));
            }
        }
    }

    /// First placement of an active check: a deterministic point within its
    /// interval, so start-up and reload are no check storm.
    fn schedule_first(&mut self, id: u32, now_ms: u64) {
        let slot = &self.slots[id as usize];
        if !slot.def.schedule.active || slot.def.probe.is_none() || slot.running {
            return;
        }
        let interval = u64::try_from(slot.def.schedule.check_interval.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let splay = stable_hash(&slot.def.key) % interval;
        self.arm(id, now_ms + splay);
    }

    fn arm(&mut self, id: u32, due_ms: u64) {
        let key = self.wheel.insert(due_ms, id);
        let slot = &mut self.slots[id as usize];
        slot.timer = Some(key);
        slot.next_due_ms = Some(due_ms);
    }

    /// The earliest time the shard must wake (may be early; never late).
    pub fn next_wake(&self) -> Option<u64> {
        self.wheel.next_expiration()
    }

    /// Advances to `now_us`: checks with an immediate result (e.g. `dummy`)
    /// are applied here; the others are appended to `out` for the driver to
    /// run.
    pub fn due(&mut self, now_us: u64, out: &mut Vec<Dispatch>) {
        let now_ms = now_us / 1000;
        let mut expired = std::mem::take(&mut self.expired);
        self.wheel.advance(now_ms, &mut expired);
        for &(due_ms, id) in &expired {
            let Some(slot) = self.slots.get_mut(id as usize) else {
                continue;
            };
            slot.timer = None;
            if !slot.live {
                continue;
            }
            let Some(probe) = slot.def.probe.clone() else {
                continue;
            };
            let lateness = now_us.saturating_sub(due_ms * 1000);
            self.stats.dispatched(now_ms, lateness);
            match probe.immediate() {
                Some(result) => {
                    self.apply(id, result, probe.name(), now_ms, lateness, 0);
                    self.reschedule(id, due_ms, now_ms);
                }
                None => {
                    slot.running = true;
                    slot.next_due_ms = None;
                    out.push(Dispatch {
                        id,
                        generation: slot.generation,
                        probe,
                        due_ms,
                    });
                }
            }
        }
        expired.clear();
        self.expired = expired;
    }

    /// Applies a finished probe run and schedules the next one.
    pub fn complete(&mut self, c: Completion) {
        let Some(slot) = self.slots.get_mut(c.id as usize) else {
            return;
        };
        if !slot.live || slot.generation != c.generation {
            return;
        }
        slot.running = false;
        let probe = slot.def.probe.as_ref().map_or("exec", |p| p.name());
        let now_ms = c.finished_us / 1000;
        let lateness = c.started_us.saturating_sub(c.due_ms * 1000);
        let execution = c.finished_us.saturating_sub(c.started_us);
        self.apply(c.id, c.result, probe, now_ms, lateness, execution);
        self.reschedule(c.id, c.due_ms, now_ms);
    }

    /// Next run after a result: `retry_interval` while SOFT non-OK,
    /// `check_interval` otherwise, counted from when the check was due so
    /// the schedule keeps its phase and does not drift.
    ///
    /// A run that overran that point (a target holding its connection to
    /// the timeout, a shard behind) goes to the next point of its own
    /// grid, not to now: when a peer that held thousands of checks lets
    /// go, they all finish at once, and "now" would keep them firing
    /// together every interval, a herd that alone can exhaust the
    /// descriptors again; the grid keeps the splay they were spread by.
    fn reschedule(&mut self, id: u32, due_ms: u64, now_ms: u64) {
        let slot = &self.slots[id as usize];
        if !slot.def.schedule.active || slot.def.probe.is_none() || slot.timer.is_some() {
            return;
        }
        let interval = if slot.state.in_retry() {
            slot.def.schedule.retry_interval
        } else {
            slot.def.schedule.check_interval
        };
        let interval = u64::try_from(interval.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let mut next = due_ms.saturating_add(interval);
        if next < now_ms {
            let behind = now_ms - next;
            next = next.saturating_add(behind.div_ceil(interval).saturating_mul(interval));
        }
        self.arm(id, next);
    }

    fn apply(
        &mut self,
        id: u32,
        result: CheckResult,
        probe: &'static str,
        now_ms: u64,
        latency_us: u64,
        execution_us: u64,
    ) {
        let times = RunTimes {
            now_ms,
            ran_ms: now_ms,
            latency_us,
            execution_us,
        };
        self.apply_with(id, result, probe, times, false);
    }

    /// [`Self::apply`], optionally making a problem HARD at once.
    fn apply_with(
        &mut self,
        id: u32,
        result: CheckResult,
        probe: &'static str,
        times: RunTimes,
        hard: bool,
    ) {
        let RunTimes {
            now_ms,
            ran_ms,
            latency_us,
            execution_us,
        } = times;
        let parents_down = self.parents_down(id);
        let slot = &mut self.slots[id as usize];
        let policy = Policy {
            max_attempts: if hard {
                1
            } else {
                slot.def.policy.max_attempts
            },
            ..slot.def.policy
        };
        let (next, transition) = state::apply(&slot.state, result.status, &policy, parents_down);
        slot.state = next;
        self.stats.completed(now_ms, probe, result.status);
        if let Some(transition) = transition {
            self.events.push(Event {
                at_ms: ran_ms,
                host: Arc::clone(&slot.def.key.host),
                service: slot.def.key.service.clone(),
                transition,
                output: Arc::clone(&result.output),
            });
        }
        slot.last = Some(LastResult {
            result,
            at_ms: ran_ms,
            retained_at: None,
            latency_us,
            execution_us,
            probe,
        });
    }

    /// Whether check `id` is a host with parents none of which is UP (a
    /// parent not in the table counts as down: it was removed). Parents
    /// are planned into the same shard, so this is a local lookup.
    fn parents_down(&self, id: u32) -> bool {
        let def = &self.slots[id as usize].def;
        if !def.policy.is_host || def.parents.is_empty() {
            return false;
        }
        def.parents.iter().all(|p| {
            let key = CheckKey {
                host: Arc::clone(p),
                service: None,
            };
            self.get(&key)
                .is_none_or(|s| s.state.status != crate::check::Status::Ok)
        })
    }

    /// Applies a passive result to a check (active or passive-only). The
    /// schedule of an active check is left as it is, as Nagios does.
    pub fn passive(
        &mut self,
        key: &CheckKey,
        result: CheckResult,
        now_ms: u64,
    ) -> Result<(), ActionError> {
        let id = *self
            .index
            .get(key)
            .ok_or_else(|| ActionError::UnknownCheck(describe(key)))?;
        self.apply(id, result, "passive", now_ms, 0, 0);
        Ok(())
    }

    /// Applies a result an agent sent (probe `agent`), which it ran at
    /// engine time `ran_ms` (a replayed result ran long before `now_ms`:
    /// its last-check time and state change say when). `hard` makes a
    /// problem HARD at once: the hub's own liveness verdicts, which have
    /// already waited out the silence threshold.
    ///
    /// # Errors
    /// [`ActionError::UnknownCheck`] when no such check is configured.
    pub fn agent_result(
        &mut self,
        key: &CheckKey,
        result: CheckResult,
        (now_ms, ran_ms): (u64, u64),
        execution_us: u64,
        hard: bool,
    ) -> Result<(), ActionError> {
        let id = *self
            .index
            .get(key)
            .ok_or_else(|| ActionError::UnknownCheck(describe(key)))?;
        let times = RunTimes {
            now_ms,
            ran_ms: ran_ms.min(now_ms),
            latency_us: 0,
            execution_us,
        };
        self.apply_with(id, result, "agent", times, hard);
        Ok(())
    }

    /// Moves an active check's next run to now.
    pub fn check_now(&mut self, key: &CheckKey, now_ms: u64) -> Result<(), ActionError> {
        let id = *self
            .index
            .get(key)
            .ok_or_else(|| ActionError::UnknownCheck(describe(key)))?;
        let slot = &mut self.slots[id as usize];
        if slot.running || slot.def.probe.is_none() || !slot.def.schedule.active {
            return Ok(());
        }
        if let Some(t) = slot.timer.take() {
            self.wheel.cancel(t);
        }
        self.arm(id, now_ms);
        Ok(())
    }

    /// Puts retained states back on the checks that still exist (taking
    /// them out of `retained`); returns how many. An attempt beyond a
    /// lowered `max_check_attempts` is cut to it. The schedule is left as
    /// it is: a restored check runs at its splayed time.
    pub fn restore(
        &mut self,
        retained: &mut HashMap<CheckKey, crate::retention::Retained>,
    ) -> usize {
        let mut restored = 0;
        for slot in self.slots.iter_mut().filter(|s| s.live && s.last.is_none()) {
            let Some(r) = retained.remove(&slot.def.key) else {
                continue;
            };
            slot.state = r.state;
            slot.state.attempt = slot.state.attempt.min(slot.def.policy.max_attempts.max(1));
            slot.last = Some(r.last);
            restored += 1;
        }
        restored
    }

    /// Takes the state changes produced since the last call.
    pub fn take_events(&mut self, into: &mut Vec<Event>) {
        into.append(&mut self.events);
    }

    /// The live checks.
    pub fn slots(&self) -> impl Iterator<Item = &Slot> {
        self.slots.iter().filter(|s| s.live)
    }

    /// Slots allocated, live or not: ids run from 0 to this.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// The live slot with id `id`.
    pub fn slot(&self, id: usize) -> Option<&Slot> {
        self.slots.get(id).filter(|s| s.live)
    }

    /// One check by key.
    pub fn get(&self, key: &CheckKey) -> Option<&Slot> {
        self.index
            .get(key)
            .and_then(|&id| self.slots.get(id as usize))
    }

    /// Number of live checks.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// True when the shard has no checks.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Checks waiting in the wheel.
    pub fn pending(&self) -> usize {
        self.wheel.len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::check::Status;
    use crate::model::{CheckSpec, Schedule, Settings};
    use crate::probes;
    use crate::state::{Policy, StateType};

    fn def(host: &str, service: &str, line: &str, interval_s: u64, retry_s: u64) -> CheckDef {
        let spec = CheckSpec {
            command: "test".into(),
            line: line.into(),
            timeout: None,
        };
        CheckDef {
            key: CheckKey {
                host: host.into(),
                service: Some(service.into()),
            },
            address: "127.0.0.1".into(),
            probe: Some(probes::build(&spec, &Settings::default())),
            agent: false,
            schedule: Schedule {
                check_interval: Duration::from_secs(interval_s),
                retry_interval: Duration::from_secs(retry_s),
                max_check_attempts: 3,
                active: true,
            },
            policy: Policy {
                max_attempts: 3,
                is_host: false,
            },
            parents: Arc::from(Vec::new()),
        }
    }

    fn plan(defs: Vec<CheckDef>) -> ShardPlan {
        ShardPlan { checks: defs }
    }

    /// Runs the core in virtual time, 1 ms steps, recording when each
    /// dummy check ran (`at_ms` of its last result changing).
    fn run_until(
        core: &mut ShardCore,
        from_ms: u64,
        to_ms: u64,
    ) -> Vec<(u64, Status, StateType, u32)> {
        let mut seen = Vec::new();
        let mut out = Vec::new();
        for now in from_ms..=to_ms {
            core.due(now * 1000, &mut out);
            assert!(out.is_empty(), "dummy checks never leave the shard");
            for slot in core.slots() {
                if let Some(l) = &slot.last {
                    if l.at_ms == now {
                        seen.push((
                            now,
                            slot.state.status,
                            slot.state.state_type,
                            slot.state.attempt,
                        ));
                    }
                }
            }
        }
        seen
    }

    #[test]
    fn soft_to_hard_at_the_retry_interval() {
        let mut core = ShardCore::new(0);
        core.load(plan(vec![def("h", "s", "check_dummy 2 down", 60, 10)]), 0);
        let first = core
            .slots()
            .next()
            .and_then(|s| s.next_due_ms)
            .expect("scheduled");
        assert!(first < 60_000, "splayed within one interval, got {first}");
        let runs = run_until(&mut core, 0, first + 100_000);
        let want = vec![
            (first, Status::Critical, StateType::Soft, 1),
            (first + 10_000, Status::Critical, StateType::Soft, 2),
            (first + 20_000, Status::Critical, StateType::Hard, 3),
            (first + 80_000, Status::Critical, StateType::Hard, 3),
        ];
        assert_eq!(runs, want);
        let mut events = Vec::new();
        core.take_events(&mut events);
        assert_eq!(events.len(), 2, "SOFT then HARD: {events:?}");
    }

    #[test]
    fn splay_spreads_checks_and_is_stable() {
        let defs = |n| {
            (0..n)
                .map(|i| def(&format!("h{i}"), "s", "check_dummy 0", 60, 60))
                .collect()
        };
        let mut a = ShardCore::new(0);
        a.load(plan(defs(1000)), 0);
        let mut b = ShardCore::new(0);
        b.load(plan(defs(1000)), 0);
        let due = |c: &ShardCore| c.slots().filter_map(|s| s.next_due_ms).collect::<Vec<_>>();
        assert_eq!(due(&a), due(&b), "same keys, same placement");
        // 1000 checks over 60 s: no 1-second bucket should hold more than ~4x the mean.
        let mut buckets = [0u32; 60];
        for d in due(&a) {
            buckets[(d / 1000) as usize] += 1;
        }
        let max = buckets.iter().max().copied().unwrap_or(0);
        assert!(
            max < 67,
            "storm: {max} checks in one second, buckets {buckets:?}"
        );
    }

    #[test]
    fn reload_keeps_state_and_schedule_of_unchanged_checks() {
        let mut core = ShardCore::new(0);
        core.load(
            plan(vec![
                def("h", "a", "check_dummy 2", 60, 10),
                def("h", "b", "check_dummy 0", 60, 10),
            ]),
            0,
        );
        let due_a = core
            .get(&def("h", "a", "", 1, 1).key)
            .and_then(|s| s.next_due_ms)
            .expect("a");
        run_until(&mut core, 0, due_a);
        let before = core
            .get(&def("h", "a", "", 1, 1).key)
            .map(|s| (s.state, s.next_due_ms))
            .expect("a");
        assert_eq!(before.0.status, Status::Critical);
        // Reload: a unchanged, b removed, c new.
        core.load(
            plan(vec![
                def("h", "a", "check_dummy 2", 60, 10),
                def("h", "c", "check_dummy 0", 60, 10),
            ]),
            due_a,
        );
        let after = core
            .get(&def("h", "a", "", 1, 1).key)
            .map(|s| (s.state, s.next_due_ms))
            .expect("a");
        assert_eq!(before, after, "state and next run kept");
        assert!(
            core.get(&def("h", "b", "", 1, 1).key).is_none(),
            "b removed"
        );
        assert!(core.get(&def("h", "c", "", 1, 1).key).is_some(), "c added");
        assert_eq!(core.len(), 2);
        assert_eq!(
            core.pending(),
            2,
            "no timer of the removed check left behind"
        );
    }

    #[test]
    fn a_late_result_of_a_removed_check_is_dropped() {
        let mut core = ShardCore::new(0);
        // An exec check (not immediate) so it is dispatched.
        core.load(plan(vec![def("h", "x", "/nonexistent/plugin", 1, 1)]), 0);
        let mut out = Vec::new();
        for now in 0..=1000 {
            core.due(now * 1000, &mut out);
        }
        let d = out.pop().expect("dispatched");
        core.load(plan(vec![]), 1000);
        core.load(plan(vec![def("h", "y", "/nonexistent/plugin", 1, 1)]), 1000);
        core.complete(Completion {
            id: d.id,
            generation: d.generation,
            due_ms: d.due_ms,
            started_us: 1_000_000,
            finished_us: 1_000_500,
            result: CheckResult::new(Status::Critical, "stale"),
        });
        let y = core.slots().next().expect("y");
        assert!(
            y.last.is_none(),
            "stale result applied to the slot's successor"
        );
    }

    #[test]
    fn an_overrun_keeps_the_checks_phase() {
        let mut core = ShardCore::new(0);
        core.load(
            plan(vec![
                def("h", "a", "/nonexistent/plugin", 10, 10),
                def("h", "b", "/nonexistent/plugin", 10, 10),
            ]),
            0,
        );
        let mut out = Vec::new();
        core.due(10_000_000, &mut out);
        assert_eq!(out.len(), 2, "both dispatched in their first interval");
        // Both held 25 s by the target, finishing together.
        for d in out.drain(..) {
            core.complete(Completion {
                id: d.id,
                generation: d.generation,
                due_ms: d.due_ms,
                started_us: d.due_ms * 1000,
                finished_us: 35_000_000,
                result: CheckResult::new(Status::Ok, "late"),
            });
        }
        for slot in core.slots() {
            let next = slot.next_due_ms.expect("rescheduled");
            let first = stable_hash(&slot.def.key) % 10_000;
            assert!(next >= 35_000, "{next} is in the past");
            assert_eq!(next % 10_000, first, "left its splayed phase");
        }
    }

    #[test]
    fn passive_results_apply_and_unknown_checks_are_refused() {
        let mut core = ShardCore::new(0);
        core.load(plan(vec![def("h", "p", "check_dummy 0", 60, 10)]), 0);
        let key = def("h", "p", "", 1, 1).key;
        core.passive(&key, CheckResult::new(Status::Warning, "hm"), 5)
            .expect("applied");
        let slot = core.get(&key).expect("p");
        assert_eq!(
            (slot.state.status, slot.state.state_type),
            (Status::Warning, StateType::Soft)
        );
        assert_eq!(slot.last.as_ref().map(|l| l.probe), Some("passive"));
        let missing = def("h", "nope", "", 1, 1).key;
        assert_eq!(
            core.passive(&missing, CheckResult::new(Status::Ok, ""), 5),
            Err(ActionError::UnknownCheck("h/nope".into()))
        );
    }

    #[test]
    fn check_now_runs_at_once() {
        let mut core = ShardCore::new(0);
        core.load(plan(vec![def("h", "s", "check_dummy 1", 3600, 60)]), 0);
        let key = def("h", "s", "", 1, 1).key;
        core.check_now(&key, 10).expect("known");
        let runs = run_until(&mut core, 0, 10);
        assert_eq!(runs, vec![(10, Status::Warning, StateType::Soft, 1)]);
    }

    #[test]
    fn a_host_behind_a_down_parent_is_unreachable() {
        let host = |name: &str, parents: &[&str]| CheckDef {
            key: CheckKey {
                host: name.into(),
                service: None,
            },
            address: "127.0.0.1".into(),
            probe: None,
            agent: false,
            schedule: Schedule::default(),
            policy: Policy {
                max_attempts: 1,
                is_host: true,
            },
            parents: parents.iter().map(|&p| Arc::from(p)).collect(),
        };
        let mut core = ShardCore::new(0);
        core.load(
            plan(vec![
                host("router", &[]),
                host("web", &["router"]),
                host("db", &["router", "backup"]),
                host("backup", &[]),
            ]),
            0,
        );
        let key = |h: &str| CheckKey {
            host: h.into(),
            service: None,
        };
        let down = || CheckResult::new(Status::Critical, "down");
        let state = |core: &ShardCore, h: &str| core.get(&key(h)).map(|s| s.state.status);
        // Parent UP: a failed child is DOWN.
        core.passive(&key("web"), down(), 1).expect("web");
        assert_eq!(state(&core, "web"), Some(Status::Critical));
        // Parent DOWN: UNREACHABLE; with a second parent still UP: DOWN.
        core.passive(&key("router"), down(), 2).expect("router");
        core.passive(&key("web"), down(), 3).expect("web");
        core.passive(&key("db"), down(), 3).expect("db");
        assert_eq!(state(&core, "web"), Some(Status::Unknown));
        assert_eq!(state(&core, "db"), Some(Status::Critical));
        core.passive(&key("backup"), down(), 4).expect("backup");
        core.passive(&key("db"), down(), 5).expect("db");
        assert_eq!(state(&core, "db"), Some(Status::Unknown));
        let mut events = Vec::new();
        core.take_events(&mut events);
        let last = events
            .iter()
            .rev()
            .find(|e| &*e.host == "db")
            .expect("db event");
        assert_eq!(last.transition.to, Status::Unknown);
    }
}
