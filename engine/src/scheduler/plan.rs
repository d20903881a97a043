//! The plan: the model compiled into compact per-shard check records.
//!
//! All checks of a host land in the same shard: the stable hash of the host
//! name, or, for hosts joined by `parents` edges, of the first name (in
//! byte order) of their connected group, so a host and its parents share a
//! shard and reachability is a local lookup. A reload moves checks between
//! shards only when those edges change.

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
    /// The compiled probe; `None` for passive-only and agent checks.
    pub probe: Option<Arc<Probe>>,
    /// Run by the host's agent; its results come through the agent hub.
    pub agent: bool,
    /// Scheduling.
    pub schedule: Schedule,
    /// How results are judged.
    pub policy: Policy,
    /// A host check's parents (host names, all in this shard); empty for
    /// services and hosts without parents.
    pub parents: Arc<[Arc<str>]>,
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

/// The model compiled for the shards.
#[derive(Debug, Default)]
pub struct Plan {
    /// One plan per shard.
    pub shards: Vec<ShardPlan>,
    /// Hosts placed elsewhere than [`shard_of`] their own name (because of
    /// their parents), with their shard.
    pub moved: HashMap<Arc<str>, usize>,
}

/// Each host's shard: hosts joined by parent edges (either way) share
/// the shard of the first name in their group.
fn placement(model: &Model, shards: usize) -> Vec<usize> {
    let n = model.hosts.len();
    // Union-find over parent edges, each group's root its first name.
    let mut root: Vec<usize> = (0..n).collect();
    fn find(root: &mut [usize], mut x: usize) -> usize {
        while root[x] != x {
            root[x] = root[root[x]];
            x = root[x];
        }
        x
    }
    for (h, host) in model.hosts.iter().enumerate() {
        for &p in &host.parents {
            let p = p as usize;
            if p >= n {
                continue;
            }
            let (a, b) = (find(&mut root, h), find(&mut root, p));
            if a != b {
                let (keep, join) = if model.hosts[a].name <= model.hosts[b].name {
                    (a, b)
                } else {
                    (b, a)
                };
                root[join] = keep;
            }
        }
    }
    (0..n)
        .map(|h| {
            let r = find(&mut root, h);
            shard_of(&model.hosts[r].name, shards)
        })
        .collect()
}

/// Compiles the model into `shards` plans. Probes for identical command
/// lines are built once and shared (a million `check_dummy 0` services
/// cost one probe).
pub fn plan(model: &Model, shards: usize) -> Plan {
    let shards = shards.max(1);
    let mut plans: Vec<ShardPlan> = (0..shards).map(|_| ShardPlan::default()).collect();
    let place = placement(model, shards);
    let mut moved = HashMap::new();
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
    let no_parents: Arc<[Arc<str>]> = Arc::from(Vec::new());
    for (i, h) in model.hosts.iter().enumerate() {
        let shard = place[i];
        if shard != shard_of(&h.name, shards) {
            moved.insert(Arc::clone(&host_keys[i]), shard);
        }
        let parents: Arc<[Arc<str>]> = if h.parents.is_empty() {
            Arc::clone(&no_parents)
        } else {
            h.parents
                .iter()
                .filter_map(|&p| host_keys.get(p as usize).cloned())
                .collect()
        };
        plans[shard].checks.push(CheckDef {
            key: CheckKey {
                host: Arc::clone(&host_keys[i]),
                service: None,
            },
            address: Arc::clone(&addresses[i]),
            probe: builder.build(&h.check, settings),
            agent: false,
            schedule: h.schedule,
            policy: Policy {
                max_attempts: h.schedule.max_check_attempts,
                is_host: true,
            },
            parents,
        });
    }
    for s in &model.services {
        let hi = s.host as usize;
        let (Some(host), Some(addr)) = (host_keys.get(hi), addresses.get(hi)) else {
            continue;
        };
        let shard = place[hi];
        plans[shard].checks.push(CheckDef {
            key: CheckKey {
                host: Arc::clone(host),
                service: Some(Arc::from(s.name.as_str())),
            },
            address: Arc::clone(addr),
            probe: if s.agent {
                None
            } else {
                builder.build(&s.check, settings)
            },
            agent: s.agent,
            schedule: s.schedule,
            policy: Policy {
                max_attempts: s.schedule.max_check_attempts,
                is_host: false,
            },
            parents: Arc::clone(&no_parents),
        });
    }
    Plan {
        shards: plans,
        moved,
    }
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
