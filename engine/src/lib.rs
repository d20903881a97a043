//! Vedette: a monitoring check engine.
//!
//! Brief overview:
//! - [`config`] reads Vedette TOML or Nagios object configuration into a
//!   validated [`model::Model`].
//! - [`scheduler`] runs the checks: one pinned thread per shard, each with
//!   its own timer wheel and check table.
//! - [`state`] applies results with Nagios SOFT/HARD semantics.
//! - [`probes`] are the native checks and the plugin fallback.
//! - [`engine`] ties them together; [`api`] serves it over HTTP;
//!   [`retention`] keeps states across restarts.

pub mod api;
pub use vedette_proto::{check, plugin_output, threshold};
pub mod clock;
pub mod config;
pub mod engine;
pub mod events;
pub mod hub;
pub mod limits;
pub mod model;
pub mod probes;
pub mod retention;
pub mod scheduler;
pub mod state;
