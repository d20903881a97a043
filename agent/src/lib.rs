//! The Vedette agent: runs the checks the engine assigns on the machine it
//! is installed on and pushes the results to the engine over an outbound
//! WebSocket (TLS, client certificate), never losing one.
//!
//! Brief overview:
//! - [`daemon::run`] is the agent's life: enrol, sessions, backoff;
//! - [`connection`] speaks the [`vedette_proto::wire`] protocol over one
//!   connection; [`tls`] and [`identity`] are who the agent is and whom it
//!   trusts;
//! - [`scheduler`] runs the assigned checks through [`runner`] (built-in
//!   [`checks`] or forked plugins);
//! - [`outbox`] puts every result in the [`spool`] before it is sent and
//!   takes it out once the engine acknowledged it;
//! - [`config`] reads the config file and flags; [`nrpe`] optionally serves
//!   NRPE for pollers; [`assignment`] keeps the last assignment across
//!   restarts.
#![deny(missing_docs)]

pub mod assignment;
pub mod atomic;
pub mod backoff;
pub mod checks;
pub mod config;
pub mod connection;
pub mod daemon;
pub mod identity;
pub mod lock;
pub mod nrpe;
pub mod outbox;
pub mod runner;
pub mod scheduler;
pub mod spool;
pub mod tls;
