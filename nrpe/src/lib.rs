//! The NRPE protocol: packet codec, async client, server.
//!
//! Brief overview:
//! - [`packet`]: [`Packet`](packet::Packet) encode/decode for protocol v2 and v3/v4.
//! - [`client`]: one query over plain TCP or TLS ([`client::query`]), with
//!   the v4-then-v2 fallback check_nrpe does.
//! - [`server`]: serves `command[name]=…` definitions from an `nrpe.cfg`.
#![deny(missing_docs)]

pub mod check;
pub mod client;
pub mod frame;
pub mod packet;
pub mod server;

pub mod tls;
