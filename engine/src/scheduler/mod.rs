//! The scheduler: shards of checks, each on its own pinned thread with its
//! own timer wheel and dense check table.
//!
//! - [`plan`] compiles the model into per-shard check records.
//! - [`core`] is one shard's table and wheel, driven by time passed in.
//! - [`shard`] is the thread that drives a core with real time and runs
//!   probes on its single-threaded runtime.
//! - [`wheel`] is the hierarchical timer wheel.

pub mod core;
pub mod plan;
pub mod shard;
pub mod stats;
pub mod wheel;
