//! Check state: Nagios SOFT/HARD semantics as a pure function.
//!
//! [`machine::apply`] takes the previous state and a result and returns the
//! next state plus what changed; it has no side effects, so outputs (event
//! log, API, notifications later) consume the returned [`machine::Transition`].

pub mod machine;

pub use machine::{apply, CheckState, Policy, StateType, Transition};
