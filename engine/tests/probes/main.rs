//! Probe integration tests: native probes against the real monitoring
//! plugins on loopback, and the plugin fallback against real processes.

mod exec;
mod support;
mod tcp;
