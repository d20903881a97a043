//! Vedette: a monitoring check engine.
//!
//! Brief overview:
//! - [`config`] reads Vedette TOML or Nagios object configuration into a
//!   validated [`model::Model`].
//! - [`scheduler`] runs the checks: one pinned thread per shard, each with
//!   its own timer wheel and check table.
//! - [`state`] applies results with Nagios SOFT/HARD semantics.
//! - [`probes`] are the native checks and the plugin fallback.

pub mod check;
pub mod config;
pub mod model;
pub mod probes;
pub mod scheduler;
