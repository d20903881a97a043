//! The agent as a real process: its shipped configs, its NRPE server
//! against Debian's check_nrpe, and against the real engine over TLS on
//! loopback (enrolment, mTLS, exactly-once delivery across engine crashes,
//! cut connections and agent restarts, refusals).
#![allow(clippy::unwrap_used)] // a test may unwrap: a panic is its failure

mod cli;
mod configs;
mod engine;
mod fake;
mod nrpe;
mod support;
