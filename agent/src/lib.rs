//! The Vedette agent and the agent <-> engine wire protocol.
//!
//! Being built piece by piece for issue 5. So far: [`spool`], the on-disk
//! queue where results wait for the engine's acknowledgement.
#![deny(missing_docs)]

pub mod spool;
