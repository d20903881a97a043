//! The matrix's workloads: which checks a scenario runs and the real peers
//! they run against. The peers are the probe and mixed scenarios' own
//! ([`crate::peers`], [`crate::probe::kinds`], [`crate::mixed`]); the tcp
//! and http hosts are spread over many loopback addresses, which their
//! peers all listen on, so that 1M checks at 60 s measure the engine and
//! not one address's ephemeral ports.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::peers::{self, Bind, Daemon, HTTP_PATH};
use crate::probe::kinds::{self, Kind, Spec};
use crate::scenario::{write_config, write_config_at};
use crate::Load;

/// What a scenario's checks do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Workload {
    /// `check_dummy 0 ok`: the scheduler, wheel and state machine only.
    Dummy,
    /// `check_tcp` against an accept-and-close listener, the hosts spread
    /// over [`peers::SPREAD`] loopback addresses.
    Tcp,
    /// `check_http` against nginx, a new connection per check, the hosts
    /// spread like tcp's.
    Http,
    /// `check_icmp -n 1` to a loopback address.
    Icmp,
    /// `check_snmp` v2c GET against snmpd.
    Snmp,
    /// The mixed scenario's tcp/http/icmp/dns/dummy hosts, none of them
    /// bad, spread like tcp's.
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
}

/// The plugins' directory (the command lines name the real plugins).
const PLUGINS: &str = "/usr/lib/nagios/plugins";

/// The extra `[engine]` line of an unpinned run.
const UNPINNED: &str = "pin_cores = false";

/// A workload with its peers running (stopped on drop).
pub struct Peers {
    workload: Workload,
    /// icmp and snmp: the probe scenario's own check and peer.
    spec: Option<Spec>,
    /// tcp and http: the check (its hosts on [`peers::spread_addr`]'s
    /// addresses) and its peer, which listens on all of them.
    spread: Option<(String, Daemon)>,
    /// The mix's tcp listener and nginx ports, and its running peers.
    mix: Option<(u16, u16, Vec<Daemon>)>,
    /// Whether the engine pins its shard threads (`[engine] pin_cores`).
    pin_cores: bool,
}

impl Peers {
    /// Starts the peers `workload` checks.
    ///
    /// # Errors
    /// When a peer cannot start or its package is missing.
    pub fn start(workload: Workload) -> anyhow::Result<Peers> {
        let mut p = Peers {
            workload,
            spec: None,
            spread: None,
            mix: None,
            pin_cores: true,
        };
        match workload {
            // Every check to one address and port would exhaust that
            // address's ephemeral ports (TIME_WAIT) at the 1M rate: the
            // hosts are spread over many loopback addresses instead.
            Workload::Tcp => {
                let peer = peers::tcp_listener(Bind::Spread)?;
                let line = format!(
                    "{PLUGINS}/check_tcp -H $HOSTADDRESS$ -p {}",
                    peer.addr.port()
                );
                p.spread = Some((line, peer));
            }
            Workload::Http => {
                let peer = peers::nginx(Bind::Spread)?;
                let line = format!(
                    "{PLUGINS}/check_http -I $HOSTADDRESS$ -p {} -u {HTTP_PATH}",
                    peer.addr.port()
                );
                p.spread = Some((line, peer));
            }
            Workload::Mix => {
                let tcp = peers::tcp_listener(Bind::Spread)?;
                let web = peers::nginx(Bind::Spread)?;
                let dns = peers::dnsmasq()?;
                p.mix = Some((tcp.addr.port(), web.addr.port(), vec![tcp, web, dns]));
            }
            Workload::Icmp => p.spec = Some(kinds::spec(Kind::Icmp)?),
            Workload::Snmp => p.spec = Some(kinds::spec(Kind::Snmp)?),
            Workload::Dummy => {}
        }
        Ok(p)
    }

    /// The same peers, with the engine's shard threads left unpinned
    /// (`[engine] pin_cores = false`): the pinning ablation.
    pub fn unpinned(self) -> Peers {
        Peers {
            pin_cores: false,
            ..self
        }
    }

    /// Writes the config of `load` into `dir` and returns its path.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn write_config(&self, dir: &Path, load: &Load) -> anyhow::Result<PathBuf> {
        let pin: &[&str] = if self.pin_cores { &[] } else { &[UNPINNED] };
        if let Some((tcp, http, _)) = &self.mix {
            // No bad hosts (0%), so these addresses are never used.
            let unused = [Ipv4Addr::new(198, 18, 0, 2), Ipv4Addr::new(198, 18, 0, 3)];
            let path = dir.join("mix.toml");
            std::fs::write(
                &path,
                crate::mixed::config(load, pin, unused, 0, *tcp, *http)?,
            )?;
            return Ok(path);
        }
        if let Some((line, _)) = &self.spread {
            return write_config_at(dir, load, line, pin, |h| peers::spread_addr(h).to_string());
        }
        match &self.spec {
            Some(s) => {
                let engine: Vec<&str> = s.engine.iter().chain(pin).copied().collect();
                write_config(dir, load, &s.line, &engine)
            }
            None => write_config(dir, load, "check_dummy 0 ok", pin),
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
