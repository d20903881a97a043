//! The plan: the model compiled into compact per-shard check records.
//!
//! All checks of a host land in the same shard (shard = stable hash of the
//! host name), so a reload never moves a check between shards and host
//! state is always local to the shard that needs it.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::model::{CheckSpec, Model, Schedule, Settings};
use crate::probes::{self, Probe};
use crate::state::Policy;

/// Identifies a check across reloads: host name, and service name for a
/// service check.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CheckKey {
    /// Host name.
    pub host: Arc<str>,
    /// Service name; `None` for the host check.
    pub service: Option<Arc<str>>,
}

/// One compiled check.
#[derive(Debug, Clone)]
pub struct CheckDef {
    /// Which check this is.
    pub key: CheckKey,
    /// The host's address (for the API).
    pub address: Arc<str>,
    /// The compiled probe; `None` for passive-only checks.
    pub probe: Option<Arc<Probe>>,
    /// Scheduling.
    pub schedule: Schedule,
    /// How results are judged.
    pub policy: Policy,
}

/// The checks of one shard.
#[derive(Debug, Default)]
pub struct ShardPlan {
    /// The shard's checks.
    pub checks: Vec<CheckDef>,
}

/// A stable 64-bit hash (SipHash with fixed keys), the same on every run,
/// so shard placement and splay survive restarts.
pub fn stable_hash<T: Hash + ?Sized>(v: &T) -> u64 {
    #[allow(deprecated)]
    let mut h = std::hash::SipHasher::new();
    v.hash(&mut h);
    h.finish()
}

/// The shard a host's checks belong to.
pub fn shard_of(host: &str, shards: usize) -> usize {
    (stable_hash(host) % shards.max(1) as u64) as usize
}

/// Compiles the model into `shards` plans. Probes for identical command
/// lines are built once and shared (a million `check_dummy 0` services
/// cost one probe).
pub fn plan(model: &Model, shards: usize) -> Vec<ShardPlan> {
    let shards = shards.max(1);
    let mut plans: Vec<ShardPlan> = (0..shards).map(|_| ShardPlan::default()).collect();
    let mut builder = Builder::default();
    let settings = &model.settings;
    let host_keys: Vec<Arc<str>> = model
        .hosts
        .iter()
        .map(|h| Arc::from(h.name.as_str()))
        .collect();
    let addresses: Vec<Arc<str>> = model
        .hosts
        .iter()
        .map(|h| Arc::from(h.address.as_str()))
        .collect();
    for (i, h) in model.hosts.iter().enumerate() {
        let shard = shard_of(&h.name, shards);
        plans[shard].checks.push(CheckDef {
            key: CheckKey {
                host: Arc::clone(&host_keys[i]),
                service: None,
            },
            address: Arc::clone(&addresses[i]),
            probe: builder.build(&h.check, settings),
            schedule: h.schedule,
            policy: Policy {
                max_attempts: h.schedule.max_check_attempts,
                is_host: true,
            },
        });
    }
    for s in &model.services {
        let hi = s.host as usize;
        let (Some(host), Some(addr)) = (host_keys.get(hi), addresses.get(hi)) else {
            continue;
        };
        let shard = shard_of(host, shards);
        plans[shard].checks.push(CheckDef {
            key: CheckKey {
                host: Arc::clone(host),
                service: Some(Arc::from(s.name.as_str())),
            },
            address: Arc::clone(addr),
            probe: builder.build(&s.check, settings),
            schedule: s.schedule,
            policy: Policy {
                max_attempts: s.schedule.max_check_attempts,
                is_host: false,
            },
        });
    }
    plans
}

/// Probes built so far, and the commands already logged as forked.
#[derive(Default)]
struct Builder<'m> {
    probes: HashMap<&'m CheckSpec, Arc<Probe>>,
    logged: HashSet<&'m str>,
}

impl<'m> Builder<'m> {
    fn build(&mut self, spec: &'m Option<CheckSpec>, settings: &Settings) -> Option<Arc<Probe>> {
        let s = spec.as_ref()?;
        if let Some(p) = self.probes.get(s) {
            return Some(Arc::clone(p));
        }
        let (probe, why) = probes::build_explained(s, settings);
        if let Some(why) = why {
            if self.logged.insert(&s.command) {
                tracing::info!(command = %s.command, reason = %why, "Command runs as a forked plugin");
            }
        }
        self.probes.insert(s, Arc::clone(&probe));
        Some(probe)
    }
}
