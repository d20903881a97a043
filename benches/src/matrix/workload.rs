//! The matrix's workloads: which checks a scenario runs and the real peers
//! they run against. The command lines, peers and configs are the probe
//! and mixed scenarios' own ([`crate::probe::kinds`], [`crate::mixed`]).

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::peers::{self, Daemon};
use crate::probe::kinds::{self, Kind, Spec};
use crate::scenario::write_config;
use crate::Load;

/// What a scenario's checks do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Workload {
    /// `check_dummy 0 ok`: the scheduler, wheel and state machine only.
    Dummy,
    /// `check_tcp` against an accept-and-close listener.
    Tcp,
    /// `check_http` against nginx, a new connection per check.
    Http,
    /// `check_icmp -n 1` to a loopback address.
    Icmp,
    /// `check_snmp` v2c GET against snmpd.
    Snmp,
    /// The mixed scenario's tcp/http/icmp/dns/dummy hosts, none of them bad.
    Mix,
}

impl Workload {
    /// The name files and report lines use.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Dummy => "dummy",
            Workload::Tcp => "tcp",
            Workload::Http => "http",
            Workload::Icmp => "icmp",
            Workload::Snmp => "snmp",
            Workload::Mix => "mix",
        }
    }

    fn probe_kind(self) -> Option<Kind> {
        match self {
            Workload::Tcp => Some(Kind::Tcp),
            Workload::Http => Some(Kind::Http),
            Workload::Icmp => Some(Kind::Icmp),
            Workload::Snmp => Some(Kind::Snmp),
            Workload::Dummy | Workload::Mix => None,
        }
    }
}

/// A workload with its peers running (stopped on drop).
pub struct Peers {
    workload: Workload,
    spec: Option<Spec>,
    /// The mix's tcp listener and nginx ports, and its running peers.
    mix: Option<(u16, u16, Vec<Daemon>)>,
}

impl Peers {
    /// Starts the peers `workload` checks.
    ///
    /// # Errors
    /// When a peer cannot start or its package is missing.
    pub fn start(workload: Workload) -> anyhow::Result<Peers> {
        let spec = workload.probe_kind().map(kinds::spec).transpose()?;
        let mix = if workload == Workload::Mix {
            let tcp = peers::tcp_listener()?;
            let web = peers::nginx()?;
            let dns = peers::dnsmasq()?;
            Some((tcp.addr.port(), web.addr.port(), vec![tcp, web, dns]))
        } else {
            None
        };
        Ok(Peers {
            workload,
            spec,
            mix,
        })
    }

    /// Writes the config of `load` into `dir` and returns its path.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn write_config(&self, dir: &Path, load: &Load) -> anyhow::Result<PathBuf> {
        if let Some((tcp, http, _)) = &self.mix {
            // No bad hosts (0%), so these addresses are never used.
            let unused = [Ipv4Addr::new(198, 18, 0, 2), Ipv4Addr::new(198, 18, 0, 3)];
            let path = dir.join("mix.toml");
            std::fs::write(&path, crate::mixed::config(load, unused, 0, *tcp, *http)?)?;
            return Ok(path);
        }
        match &self.spec {
            Some(s) => write_config(dir, load, &s.line, s.engine),
            None => write_config(dir, load, "check_dummy 0 ok", &[]),
        }
    }

    /// The workload these peers serve.
    pub fn workload(&self) -> Workload {
        self.workload
    }
}

/// The checks a config of `workload` holds for a request of `checks`
/// (the mix comes in whole hosts of 30).
pub fn round_checks(workload: Workload, checks: usize) -> usize {
    match workload {
        Workload::Mix => checks.div_ceil(30) * 30,
        _ => checks.max(1),
    }
}
