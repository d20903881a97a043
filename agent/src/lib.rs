//! The Vedette agent and the agent <-> engine wire protocol.
//!
//! Brief overview: [`checks`] holds the built-in system checks (load, swap,
//! disk, memory, procs, uptime, cpu, net, diskio) that read /proc and statvfs natively
//! and answer in the exact form of the matching monitoring-plugins binary
//! where one exists.
//! The wire protocol and the engine connection come later (issue 5).
#![deny(missing_docs)]

pub mod checks;
