//! Per-host concurrency for NRPE checks, one map per shard.
//!
//! The NRPE daemon forks per connection and listens with a backlog of 5
//! (`listen_queue_size`): a burst of checks to one host beyond that gets
//! refused connections that look like an outage. So each shard lets at
//! most [`PER_HOST`] queries to one host run at once; the others wait
//! their turn inside their own check timeout.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::Semaphore;

/// Queries to one host at once, per shard: below the daemon's backlog of
/// 5, leaving room for other pollers.
pub const PER_HOST: usize = 4;

/// host → its semaphore. The map only grows by hosts named in check
/// command lines, a set fixed by the configuration.
#[derive(Debug, Default)]
pub struct HostSlots {
    hosts: Mutex<HashMap<Box<str>, Arc<Semaphore>>>,
}

impl HostSlots {
    /// The semaphore of `host`, created on first use.
    pub fn for_host(&self, host: &str) -> Arc<Semaphore> {
        let mut hosts = self.hosts.lock();
        if let Some(s) = hosts.get(host) {
            return s.clone();
        }
        let s = Arc::new(Semaphore::new(PER_HOST));
        hosts.insert(host.into(), s.clone());
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_semaphore_per_host() {
        let slots = HostSlots::default();
        let a = slots.for_host("a");
        assert!(Arc::ptr_eq(&a, &slots.for_host("a")));
        assert!(!Arc::ptr_eq(&a, &slots.for_host("b")));
        assert_eq!(a.available_permits(), PER_HOST);
    }
}
