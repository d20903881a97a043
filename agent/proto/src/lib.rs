//! What the Vedette engine and its agent share, with no runtime attached:
//! a check's [`check::Status`] and [`check::CheckResult`], Nagios
//! threshold ranges and perfdata ([`threshold`]), and the reading of a
//! plugin's output ([`plugin_output`]), and the agent <-> engine wire
//! protocol ([`wire`]). With the `exec` feature, also the running of a
//! Nagios plugin (`exec`, needs tokio). Both sides judge and print
//! results with this one copy, so an agent's check and the engine's agree
//! to the byte. The engine re-exports these modules under the same names.
#![deny(missing_docs)]

pub mod check;
#[cfg(feature = "exec")]
pub mod exec;
pub mod plugin_output;
pub mod threshold;
pub mod wire;
