//! The hub's live picture of its agents and the one place their results
//! enter the engine.
//!
//! Each agent host has an [`AgentSlot`]: its ledger counters behind a lock
//! of its own (held while a batch is filtered and applied, so two sessions
//! of one host can never apply a sequence number twice), and atomics for
//! what the API and the liveness watch read. A session holds its slot, so
//! applying a batch takes no hub-wide lock.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use vedette_proto::check::{CheckResult, Status};
use vedette_proto::wire::{ErrorCode, WireResult};

use super::assign::Assignments;
use super::ledger::{Counters, Ledger};
use crate::engine::Engine;
use crate::scheduler::plan::CheckKey;

/// Why a batch was refused (sent to the agent as an `Error` frame).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The wire code.
    pub code: ErrorCode,
    /// What was wrong.
    pub message: String,
}

/// What applying a batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Applied {
    /// Highest sequence number of the batch (acknowledge up to it).
    pub up_to: u64,
    /// Results for services not assigned to the agent (skipped).
    pub unassigned: u64,
}

/// One agent host.
#[derive(Debug)]
pub struct AgentSlot {
    /// The host name.
    pub host: Arc<str>,
    counters: Mutex<Counters>,
    /// Unix ms of the last frame from its agent (0: none since start).
    last_seen_ms: AtomicU64,
    /// Live sessions (normally 0 or 1).
    sessions: AtomicU64,
    /// The session allowed to run; older ones end when it changes.
    current: tokio::sync::watch::Sender<u64>,
    spool_dropped: AtomicU64,
    agent_version: Mutex<String>,
    /// Liveness has declared the agent silent (cleared by the next frame).
    silent: AtomicBool,
    /// Its certificate was revoked: sessions end.
    revoked: AtomicBool,
}

impl AgentSlot {
    fn new(host: Arc<str>, counters: Counters) -> AgentSlot {
        AgentSlot {
            host,
            counters: Mutex::new(counters),
            last_seen_ms: AtomicU64::new(0),
            sessions: AtomicU64::new(0),
            current: tokio::sync::watch::Sender::new(0),
            spool_dropped: AtomicU64::new(0),
            agent_version: Mutex::new(String::new()),
            silent: AtomicBool::new(false),
            revoked: AtomicBool::new(false),
        }
    }

    /// The counters as last applied (committed or about to be).
    pub fn counters(&self) -> Counters {
        *self.counters.lock()
    }

    /// Unix ms of the last frame, 0 if none since the engine started.
    pub fn last_seen_ms(&self) -> u64 {
        self.last_seen_ms.load(Ordering::Relaxed)
    }

    /// Whether a session is open.
    pub fn connected(&self) -> bool {
        self.sessions.load(Ordering::Relaxed) > 0
    }

    /// The spool drop count the agent last reported.
    pub fn spool_dropped(&self) -> u64 {
        self.spool_dropped.load(Ordering::Relaxed)
    }

    /// The agent's software version from its last hello.
    pub fn agent_version(&self) -> String {
        self.agent_version.lock().clone()
    }

    /// Whether this host's certificate is revoked (its sessions end).
    pub fn is_revoked(&self) -> bool {
        self.revoked.load(Ordering::Relaxed)
    }

    /// Notes a frame from the agent; true if it had been declared silent.
    pub fn seen(&self, now_ms: u64) -> bool {
        self.last_seen_ms.store(now_ms, Ordering::Relaxed);
        self.silent.swap(false, Ordering::Relaxed)
    }

    /// Declares the agent silent; false if it already was.
    pub fn mark_silent(&self) -> bool {
        !self.silent.swap(true, Ordering::Relaxed)
    }

    /// Records the agent's spool drop count.
    pub fn set_spool_dropped(&self, n: u64) {
        self.spool_dropped.store(n, Ordering::Relaxed);
    }

    /// Registers a new session, ending older ones; returns its id and a
    /// receiver that changes when the session must end.
    pub fn open_session(
        &self,
        id: u64,
        agent_version: &str,
    ) -> (SessionGuard<'_>, tokio::sync::watch::Receiver<u64>) {
        agent_version.clone_into(&mut self.agent_version.lock());
        self.sessions.fetch_add(1, Ordering::Relaxed);
        self.current.send_replace(id);
        let rx = self.current.subscribe();
        (SessionGuard { slot: self }, rx)
    }

    /// Whether session `id` is still the host's current one.
    pub fn is_current(&self, id: u64) -> bool {
        *self.current.borrow() == id
    }

    fn kick(&self) {
        // Wakes every session's watch; none of them is current any more.
        self.current.send_replace(0);
    }
}

/// Counts a session as open until dropped.
#[derive(Debug)]
pub struct SessionGuard<'a> {
    slot: &'a AgentSlot,
}

impl Drop for SessionGuard<'_> {
    fn drop(&mut self) {
        self.slot.sessions.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The hub: slots by host, the ledger, the revoked certificates.
pub struct Agents {
    engine: Arc<Engine>,
    ledger: Ledger,
    slots: RwLock<HashMap<Arc<str>, Arc<AgentSlot>>>,
    /// Fingerprints of revoked certificates.
    revoked: RwLock<HashSet<String>>,
    next_session: AtomicU64,
    /// Unix ms when the hub started (silence counts from here for agents
    /// not seen since).
    pub started_ms: u64,
}

impl std::fmt::Debug for Agents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agents")
            .field("slots", &self.slots.read().len())
            .finish()
    }
}

impl Agents {
    /// A hub over `engine` with the counters the ledger held.
    pub fn new(
        engine: Arc<Engine>,
        ledger: Ledger,
        counters: HashMap<Arc<str>, Counters>,
    ) -> Agents {
        let slots = counters
            .into_iter()
            .map(|(h, c)| (Arc::clone(&h), Arc::new(AgentSlot::new(h, c))))
            .collect();
        Agents {
            engine,
            ledger,
            slots: RwLock::new(slots),
            revoked: RwLock::new(HashSet::new()),
            next_session: AtomicU64::new(1),
            started_ms: unix_ms(),
        }
    }

    /// The slot of `host`, made on first use.
    pub fn slot(&self, host: &str) -> Arc<AgentSlot> {
        if let Some(s) = self.slots.read().get(host) {
            return Arc::clone(s);
        }
        let mut slots = self.slots.write();
        Arc::clone(
            slots
                .entry(host.into())
                .or_insert_with(|| Arc::new(AgentSlot::new(host.into(), Counters::default()))),
        )
    }

    /// Every slot, sorted by host.
    pub fn all(&self) -> Vec<Arc<AgentSlot>> {
        let mut v: Vec<_> = self.slots.read().values().cloned().collect();
        v.sort_by(|a, b| a.host.cmp(&b.host));
        v
    }

    /// The slot of `host` if it exists.
    pub fn get(&self, host: &str) -> Option<Arc<AgentSlot>> {
        self.slots.read().get(host).cloned()
    }

    /// A fresh session id (never 0).
    pub fn session_id(&self) -> u64 {
        self.next_session.fetch_add(1, Ordering::Relaxed)
    }

    /// Whether the certificate with this fingerprint is revoked.
    pub fn is_revoked(&self, fingerprint: &str) -> bool {
        self.revoked.read().contains(fingerprint)
    }

    /// Installs the registry's revoked set; sessions of newly revoked
    /// hosts are told to end. Returns the hosts newly revoked.
    pub fn set_revoked(&self, revoked: HashSet<String>, hosts: &[(String, String)]) -> Vec<String> {
        let mut newly = Vec::new();
        for (host, fp) in hosts {
            if revoked.contains(fp) && !self.revoked.read().contains(fp) {
                if let Some(slot) = self.get(host) {
                    slot.revoked.store(true, Ordering::Relaxed);
                    slot.kick();
                }
                newly.push(host.clone());
            }
        }
        *self.revoked.write() = revoked;
        newly
    }

    /// Marks a slot as served by a valid certificate again (a host may be
    /// re-enrolled after a revocation).
    pub fn clear_revoked(&self, slot: &AgentSlot) {
        slot.revoked.store(false, Ordering::Relaxed);
    }

    /// Applies a batch from `slot`'s agent: refuses it whole if a result
    /// names another host; skips (and counts) sequence numbers already
    /// applied and services not assigned; applies the rest to the host's
    /// shard; makes the counters durable; returns what to acknowledge.
    pub async fn apply(
        &self,
        slot: &AgentSlot,
        services: Option<&HashSet<Arc<str>>>,
        results: &[WireResult],
    ) -> Result<Applied, Refusal> {
        if let Some(r) = results
            .iter()
            .find(|r| r.host.as_deref().is_some_and(|h| h != &*slot.host))
        {
            return Err(Refusal {
                code: ErrorCode::WrongHost,
                message: format!(
                    "result {} claims host {:?}, but this certificate is for {}",
                    r.seq,
                    r.host.as_deref().unwrap_or_default(),
                    slot.host
                ),
            });
        }
        let mut out = Applied {
            up_to: results.last().map_or(0, |r| r.seq),
            ..Applied::default()
        };
        let counters = {
            let mut c = slot.counters.lock();
            let mut events = Vec::new();
            let shard = self.engine.shard_for(&slot.host);
            let now_ms = self.engine.clock.now_us() / 1000;
            let mut core = shard.core.write();
            for r in results {
                if r.seq <= c.applied_seq {
                    c.duplicates += 1;
                    continue;
                }
                c.applied_seq = r.seq;
                let Some(service) = services.and_then(|s| s.get(r.service.as_str())) else {
                    out.unassigned += 1;
                    continue;
                };
                let key = CheckKey {
                    host: Arc::clone(&slot.host),
                    service: Some(Arc::clone(service)),
                };
                let exec_us = u64::from(r.execution_ms) * 1000;
                // The agent's clock says when it ran; a clock ahead of
                // ours is taken as now.
                let ran_ms = self.engine.clock.ms_of_unix(r.at);
                let times = (now_ms, ran_ms);
                match core.agent_result(&key, r.to_check_result(), times, exec_us, false) {
                    Ok(()) => {
                        c.applied += 1;
                    }
                    // Assigned but not (or no longer) in the shard: a
                    // reload is moving it. Counted as not assigned.
                    Err(_) => out.unassigned += 1,
                }
            }
            core.take_events(&mut events);
            drop(core);
            self.engine.publish(events);
            *c
        };
        self.ledger
            .commit(Arc::clone(&slot.host), counters)
            .await
            .map_err(|e| Refusal {
                code: ErrorCode::Internal,
                message: format!("cannot record the results: {e}"),
            })?;
        Ok(out)
    }

    /// Applies the hub's own verdict on `slot`'s host or services
    /// (liveness), HARD at once.
    pub fn verdict(&self, host: &str, service: Option<&str>, status: Status, output: String) {
        let key = CheckKey {
            host: host.into(),
            service: service.map(Into::into),
        };
        let shard = self.engine.shard_for(host);
        let now_ms = self.engine.clock.now_us() / 1000;
        let mut events = Vec::new();
        {
            let mut core = shard.core.write();
            if core
                .agent_result(
                    &key,
                    CheckResult::new(status, output),
                    (now_ms, now_ms),
                    0,
                    true,
                )
                .is_err()
            {
                return;
            }
            core.take_events(&mut events);
        }
        self.engine.publish(events);
    }

    /// Makes a slot for every agent host, so that liveness also watches
    /// hosts whose agent never connected.
    pub fn add_hosts(&self, assignments: &Assignments) {
        for name in assignments.hosts.keys() {
            self.slot(name);
        }
    }
}

/// Now as Unix milliseconds.
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
