//! The NRPE protocol: packet codec, client, server.
//!
//! Not built yet: see issue 4. The crate exists so the workspace has its
//! fixed top level from the start.
#![deny(missing_docs)]
