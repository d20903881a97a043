//! The Vedette agent and the agent <-> engine wire protocol.
//!
//! Being built piece by piece for issue 5. So far:
//! - [`spool`]: the on-disk queue where results wait for the engine's
//!   acknowledgement;
//! - [`checks`]: the built-in system checks (load, swap, disk, memory,
//!   procs, uptime, cpu, net, diskio) that read /proc and statvfs natively
//!   and answer in the exact form of the matching monitoring-plugins binary
//!   where one exists.
//!
//! The wire protocol and the engine connection come later.
#![deny(missing_docs)]

pub mod checks;
pub mod spool;
