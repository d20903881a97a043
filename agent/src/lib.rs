//! The Vedette agent and the agent <-> engine wire protocol.
//!
//! Not built yet: see issue 5. The crate exists so the workspace has its
//! fixed top level from the start.
#![deny(missing_docs)]
