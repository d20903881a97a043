//! Vedette's integration tests: one binary, one module per area, real
//! peers started by `support`.

mod agent_cli;
mod agent_hub;
mod config;
mod daemon;
mod fd_exhaustion;
mod probes_dns;
mod probes_exec;
mod probes_http;
mod probes_icmp;
mod probes_nrpe;
mod probes_snmp;
mod probes_tcp;
mod probes_tcp_tls;
mod support;
