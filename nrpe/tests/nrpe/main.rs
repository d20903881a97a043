//! vedette-nrpe's integration tests against the real thing: Debian's nrpe
//! daemon and check_nrpe, started on loopback ports by `support`.

#![allow(clippy::unwrap_used)] // a test may unwrap: a panic is its failure

mod client_to_debian;
mod protocol;
mod serve_cli;
mod server_from_check_nrpe;
mod support;
