//! Scheduling: deciding which checks are due, per shard.
//!
//! Ground rules:
//! - Each scheduler shard runs on its own pinned thread and owns its
//!   scheduling state outright; nothing here is shared between shards.
//! - This module deals only in milliseconds and opaque ids: no probes, no
//!   I/O and no clock reads. The shard reads the clock and passes the time
//!   in, which keeps every piece testable in virtual time.
//! - [`wheel::Wheel`] answers "what is due now, and when should I wake
//!   next" for up to a million pending checks with O(1) insert and cancel.

pub mod wheel;
