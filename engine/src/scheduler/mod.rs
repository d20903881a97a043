//! Scheduling: deciding which checks are due and running them, per shard.
//!
//! Ground rules:
//! - Each scheduler shard runs on its own pinned thread and owns its
//!   scheduling state outright; nothing here is shared between shards.
//! - [`wheel`] and [`core`] deal only in milliseconds and ids: no I/O and
//!   no clock reads. The shard thread reads the clock and passes the time
//!   in, which keeps both testable in virtual time.
//!
//! Pieces:
//! - [`plan`] compiles the model into per-shard check records.
//! - [`core`] is one shard's dense check table and wheel.
//! - [`shard`] is the thread that drives a core with real time and runs
//!   probes on its single-threaded runtime.
//! - [`wheel`] answers "what is due now, and when should I wake next" for
//!   up to a million pending checks with O(1) insert and cancel.
//! - [`stats`] keeps dispatch lateness and throughput.

pub mod core;
pub mod plan;
pub mod shard;
pub mod stats;
pub mod wheel;
