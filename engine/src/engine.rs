//! The running engine: shards, the event sink, and reload.
//!
//! [`Engine::start`] plans the model onto shards (one per core unless the
//! config says otherwise) and starts a thread for each, pinned to a core
//! unless `[engine] pin_cores = false`.
//! [`Engine::reload`] re-reads the config off the shards' threads and
//! installs the new plan shard by shard; a config that fails validation
//! changes nothing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::Mutex;

use crate::clock::Clock;
use crate::config::{self, ConfigErrors};
use crate::events::{self, Event};
use crate::hub::agents::Agents;
use crate::hub::assign::Assignments;
use crate::model::Model;
use crate::probes::ProbeContext;
use crate::retention;
use crate::scheduler::core::{LastResult, ShardCore};
use crate::scheduler::plan::{self, shard_of, CheckKey};
use crate::scheduler::shard::{self, ShardHandle};
use crate::scheduler::stats::empty_histogram;

/// Checks merged per hold of a shard's lock during a reload: small enough
/// that the shard never waits more than a few milliseconds.
const RELOAD_CHUNK: usize = 4096;

/// Why the engine could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The state directory cannot be created or written.
    #[error("state directory {path} is not usable (pass --state-dir to use another)")]
    StateDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A thread could not be started.
    #[error("cannot start {what}")]
    Thread {
        /// Which thread.
        what: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// The retention file could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write retained states to {}: {source}", path.display())]
pub struct SaveError {
    /// The file.
    pub path: PathBuf,
    /// The I/O error.
    pub source: std::io::Error,
}

/// Outcome of a successful reload.
#[derive(Debug, Clone)]
pub struct ReloadSummary {
    /// The new config's `check-config` summary line.
    pub summary: String,
    /// Checks in the new plan.
    pub checks: usize,
}

/// A running engine.
pub struct Engine {
    /// The shared clock.
    pub clock: Clock,
    /// The shards, by index; a host's shard is [`Engine::shard_for`].
    pub shards: Vec<ShardHandle>,
    config_path: PathBuf,
    events_tx: Option<crossbeam_channel::Sender<Event>>,
    sink: Option<JoinHandle<()>>,
    reload_lock: Mutex<()>,
    /// Where states are retained and how often, when retention is on.
    retention: Option<(PathBuf, Duration)>,
    /// State changes for live subscribers.
    live: tokio::sync::broadcast::Sender<Arc<events::LiveEvent>>,
    /// True once shutdown began (ends the live streams).
    stopping: tokio::sync::watch::Sender<bool>,
    /// Hosts not in [`shard_of`] their own name (placed with their
    /// parents), with their shard; replaced by each reload.
    placement: parking_lot::RwLock<HashMap<Arc<str>, usize>>,
    /// What each agent runs; replaced by each reload.
    assignments: tokio::sync::watch::Sender<Arc<Assignments>>,
    /// The agent endpoint's view of its agents, once it runs (for the API).
    agents: std::sync::OnceLock<std::sync::Weak<Agents>>,
}

impl Engine {
    /// Starts the engine on a validated model.
    pub fn start(model: Model, config_path: &Path, state_dir: &Path) -> Result<Engine, StartError> {
        std::fs::create_dir_all(state_dir).map_err(|source| StartError::StateDir {
            path: state_dir.to_path_buf(),
            source,
        })?;
        let clock = Clock::new();
        let (tx, rx) = crossbeam_channel::unbounded();
        let (live, _) = tokio::sync::broadcast::channel(events::LIVE_BUFFER);
        let sink = events::spawn_sink(rx, state_dir, clock, live.clone()).map_err(|source| {
            StartError::StateDir {
                path: state_dir.to_path_buf(),
                source,
            }
        })?;
        let cores = core_affinity::get_core_ids().unwrap_or_default();
        let n = model
            .settings
            .shards
            .unwrap_or_else(|| cores.len().max(1))
            .max(1);
        let plan = plan::plan(&model, n);
        let assignments = Arc::new(Assignments::from_model(&model, 1));
        let retention = model.settings.retain_state.then(|| {
            (
                state_dir.join(retention::FILE),
                model.settings.retention_interval,
            )
        });
        let mut retained = match &retention {
            Some((path, _)) => load_retained(path),
            None => HashMap::new(),
        };
        let now_ms = clock.now_us() / 1000;
        let mut shards = Vec::with_capacity(n);
        let mut restored = 0;
        for (i, p) in plan.shards.into_iter().enumerate() {
            let mut core = ShardCore::new(now_ms);
            core.load(p, now_ms);
            restored += core.restore(&mut retained);
            let pin =
                (model.settings.pin_cores && !cores.is_empty()).then(|| cores[i % cores.len()]);
            let handle = shard::spawn(
                i,
                pin,
                core,
                clock,
                ProbeContext::new(&model.settings),
                tx.clone(),
            )
            .map_err(|source| StartError::Thread {
                what: format!("shard {i}"),
                source,
            })?;
            shards.push(handle);
        }
        tracing::info!(
            shards = n,
            hosts = model.hosts.len(),
            services = model.services.len(),
            restored,
            "Engine started"
        );
        Ok(Engine {
            clock,
            shards,
            config_path: config_path.to_path_buf(),
            events_tx: Some(tx),
            sink: Some(sink),
            reload_lock: Mutex::new(()),
            retention,
            live,
            stopping: tokio::sync::watch::Sender::new(false),
            placement: parking_lot::RwLock::new(plan.moved),
            assignments: tokio::sync::watch::Sender::new(assignments),
            agents: std::sync::OnceLock::new(),
        })
    }

    /// What each agent runs, updated on every reload.
    pub fn assignments(&self) -> tokio::sync::watch::Receiver<Arc<Assignments>> {
        self.assignments.subscribe()
    }

    /// Lets the API see the agent endpoint's agents (set once, when the
    /// endpoint starts; held weakly so the engine can be torn down first).
    pub fn set_agents(&self, agents: &Arc<Agents>) {
        let _ = self.agents.set(Arc::downgrade(agents));
    }

    /// The agent endpoint's agents, while it runs.
    pub fn agents(&self) -> Option<Arc<Agents>> {
        self.agents.get().and_then(std::sync::Weak::upgrade)
    }

    /// Turns true when shutdown begins ([`Engine::begin_shutdown`]).
    pub fn stopping(&self) -> tokio::sync::watch::Receiver<bool> {
        self.stopping.subscribe()
    }

    /// Tells long-lived API streams to end, so the server can drain.
    pub fn begin_shutdown(&self) {
        self.stopping.send_replace(true);
    }

    /// A subscription to state changes as they happen (`GET /v1/events`).
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Arc<events::LiveEvent>> {
        self.live.subscribe()
    }

    /// How often [`Engine::save_state`] should run while the engine runs;
    /// `None` when retention is off.
    pub fn retention_interval(&self) -> Option<Duration> {
        self.retention.as_ref().map(|(_, every)| *every)
    }

    /// Writes every check's state to the retention file (when retention is
    /// on); returns how many were written.
    ///
    /// # Errors
    /// The file's I/O error, with its path.
    pub fn save_state(&self) -> Result<usize, SaveError> {
        let Some((path, _)) = &self.retention else {
            return Ok(0);
        };
        let clock = self.clock;
        let unix_of = |l: &LastResult| l.retained_at.unwrap_or_else(|| clock.unix_ms(l.at_ms));
        retention::save(&self.shards, unix_of, path).map_err(|source| SaveError {
            path: path.clone(),
            source,
        })
    }

    /// The shard that owns `host`'s checks.
    pub fn shard_for(&self, host: &str) -> &ShardHandle {
        let i = self
            .placement
            .read()
            .get(host)
            .copied()
            .unwrap_or_else(|| shard_of(host, self.shards.len()));
        &self.shards[i.min(self.shards.len().saturating_sub(1))]
    }

    /// Hands state-change events produced outside a shard loop (passive
    /// results applied by the API) to the event sink.
    pub fn publish(&self, events: Vec<Event>) {
        if let Some(tx) = &self.events_tx {
            for e in events {
                // Only fails at shutdown, when the sink is gone.
                let _ = tx.send(e);
            }
        }
    }

    /// Engine-wide figures from every shard (write-locks each shard
    /// briefly to roll its statistics windows).
    pub fn figures(&self) -> Figures {
        let now_ms = self.clock.now_us() / 1000;
        let mut f = Figures {
            checks: 0,
            checks_per_second: 0.0,
            lateness: empty_histogram(),
            services: [0; 4],
            hosts: [0; 3],
            pending: 0,
            executed: Vec::new(),
        };
        for shard in &self.shards {
            let mut core = shard.core.write();
            let (n, span) = core.stats.last_minute(now_ms, &mut f.lateness);
            f.checks_per_second += n as f64 / span;
            for (probe, counts) in &core.stats.executed {
                match f.executed.iter_mut().find(|(p, _)| p == probe) {
                    Some((_, c)) => c.iter_mut().zip(counts).for_each(|(a, b)| *a += b),
                    None => f.executed.push((probe, *counts)),
                }
            }
            drop(core);
            let core = shard.core.read();
            f.checks += core.len();
            for slot in core.slots() {
                if !slot.state.checked {
                    f.pending += 1;
                }
                if slot.def.key.service.is_some() {
                    f.services[slot.state.status as usize] += 1;
                } else {
                    f.hosts[match slot.state.status {
                        crate::check::Status::Ok => 0,
                        crate::check::Status::Unknown => 2,
                        _ => 1,
                    }] += 1;
                }
            }
        }
        f
    }

    /// Forgets every shard's last-minute lateness and rate windows (the
    /// benchmarks call this after warm-up).
    pub fn reset_windows(&self) {
        let now_ms = self.clock.now_us() / 1000;
        for s in &self.shards {
            s.core.write().stats.reset_windows(now_ms);
        }
    }

    /// Checks configured across all shards.
    pub fn checks(&self) -> usize {
        self.shards.iter().map(|s| s.core.read().len()).sum()
    }

    /// Re-reads the config and installs it. Blocking (parsing a large
    /// config takes a while): call it off async threads. On error nothing
    /// changes and the errors are returned.
    pub fn reload(&self) -> Result<ReloadSummary, ConfigErrors> {
        let _one_at_a_time = self.reload_lock.lock();
        let model = config::load(&self.config_path)?;
        if model
            .settings
            .shards
            .is_some_and(|n| n != self.shards.len())
        {
            tracing::warn!(
                running = self.shards.len(),
                "The shard count changed in the config; it takes effect at the next restart"
            );
        }
        let plan = plan::plan(&model, self.shards.len());
        let mut checks = 0;
        let mut epochs = Vec::with_capacity(self.shards.len());
        for (shard, p) in self.shards.iter().zip(plan.shards) {
            checks += p.checks.len();
            let epoch = shard.core.write().begin_load(p.checks.len());
            let mut defs = p.checks.into_iter();
            loop {
                // Released between chunks: the shard keeps running checks.
                let now_ms = self.clock.now_us() / 1000;
                let more = shard
                    .core
                    .write()
                    .load_some(&mut defs, RELOAD_CHUNK, epoch, now_ms);
                shard.notify.notify_one();
                if !more {
                    break;
                }
            }
            epochs.push(epoch);
        }
        // Every check is now in its new shard (and still in its old one if
        // it moved), so lookups may switch over before the old ones go.
        *self.placement.write() = plan.moved;
        // A host that moved shard (its parents changed) takes its state
        // along, and so do its services.
        let mut moving = HashMap::new();
        for (shard, &epoch) in self.shards.iter().zip(&epochs) {
            let mut core = shard.core.write();
            core.take_leaving(epoch, &mut moving);
            core.end_load(epoch);
            drop(core);
            shard.notify.notify_one();
        }
        if !moving.is_empty() {
            for shard in &self.shards {
                shard.core.write().restore(&mut moving);
            }
        }
        let generation = self.assignments.borrow().generation + 1;
        self.assignments
            .send_replace(Arc::new(Assignments::from_model(&model, generation)));
        tracing::info!(checks, "Configuration reloaded");
        Ok(ReloadSummary {
            summary: model.summary(),
            checks,
        })
    }

    /// Stops every shard and flushes the event log.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        for s in &mut self.shards {
            s.stop();
        }
        // After the shards stopped, so the file holds their last results.
        if !self.shards.is_empty() {
            match self.save_state() {
                Ok(n) if self.retention.is_some() => tracing::info!(checks = n, "States retained"),
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "Cannot retain states"),
            }
        }
        self.shards.clear();
        self.events_tx = None;
        if let Some(sink) = self.sink.take() {
            if sink.join().is_err() {
                tracing::error!("The event sink thread panicked");
            }
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The retained states at `path`; unreadable lines and files are logged
/// and skipped: a damaged retention file must not keep the engine down.
fn load_retained(path: &Path) -> HashMap<CheckKey, retention::Retained> {
    match retention::load(path) {
        Ok(loaded) => {
            for bad in &loaded.bad_lines {
                tracing::warn!(file = %path.display(), "Retained state skipped at line {bad}");
            }
            loaded.checks
        }
        Err(e) => {
            tracing::warn!(file = %path.display(), error = %e, "Cannot read retained states");
            HashMap::new()
        }
    }
}

/// Engine-wide figures gathered from every shard.
pub struct Figures {
    /// Checks configured.
    pub checks: usize,
    /// Results applied per second over the last minute.
    pub checks_per_second: f64,
    /// Dispatch lateness over the last minute, µs.
    pub lateness: hdrhistogram::Histogram<u64>,
    /// Services by state OK, WARNING, CRITICAL, UNKNOWN.
    pub services: [u64; 4],
    /// Hosts UP, DOWN, UNREACHABLE.
    pub hosts: [u64; 3],
    /// Checks with no result yet.
    pub pending: u64,
    /// Cumulative results by probe and state.
    pub executed: Vec<(&'static str, [u64; 4])>,
}

/// Shared handle to the engine for the API.
pub type SharedEngine = Arc<Engine>;
