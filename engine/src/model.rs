//! The resolved configuration model: what both config front ends (Vedette's
//! TOML and Nagios object files) produce, and all the engine consumes.
//!
//! Everything here is validated and final: templates are applied, macros in
//! check command lines are expanded, durations are durations. The plan stage
//! compiles it into per-shard check records.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Where a configuration object was defined, for error messages and the API.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Location {
    /// The file the object came from.
    pub file: Arc<PathBuf>,
    /// 1-based line of the object's start (0 when unknown).
    pub line: u32,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// Scheduling of one active check, Nagios semantics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Schedule {
    /// Interval between checks while OK or in a HARD state.
    pub check_interval: Duration,
    /// Interval between checks while in a SOFT non-OK state.
    pub retry_interval: Duration,
    /// Consecutive non-OK results before the state becomes HARD.
    pub max_check_attempts: u32,
    /// Whether the engine schedules the check at all (false: passive only).
    pub active: bool,
}

impl Default for Schedule {
    /// Icinga 2's defaults (`checkable.ti`): 5 min, 1 min, 3 attempts.
    fn default() -> Self {
        Schedule {
            check_interval: Duration::from_secs(300),
            retry_interval: Duration::from_secs(60),
            max_check_attempts: 3,
            active: true,
        }
    }
}

/// A check command as configured, after macro expansion.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CheckSpec {
    /// The command's name (`check_tcp` in `check_tcp!22`), for the API and logs.
    pub command: String,
    /// The fully expanded command line that Nagios would execute.
    pub line: String,
    /// Per-check timeout; `None` uses the engine default.
    pub timeout: Option<Duration>,
}

/// A monitored host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// Unique host name.
    pub name: String,
    /// Address probes connect to (`$HOSTADDRESS$`); defaults to the name.
    pub address: String,
    /// The host check; `None` means the host is only passively checked
    /// (or not at all).
    pub check: Option<CheckSpec>,
    /// Scheduling of the host check.
    pub schedule: Schedule,
    /// Host groups the host belongs to.
    pub groups: Vec<String>,
    /// Indices in [`Model::hosts`] of the hosts between this one and the
    /// engine (Nagios `parents`): when all of them are down, this host is
    /// UNREACHABLE rather than DOWN.
    pub parents: Vec<u32>,
    /// Checked by its own `vedette-agent`: its services run there by
    /// default, and without a `check` of its own its state follows the
    /// agent's liveness.
    pub agent: bool,
    /// Where it was defined.
    pub source: Location,
}

/// The parent cycles among `hosts` (Nagios refuses them: reachability
/// would chase its tail), each as the index of a host on it and the path
/// `a -> b -> a`.
pub fn parent_cycles(hosts: &[Host]) -> Vec<(u32, String)> {
    // 0 unvisited, 1 on the current path, 2 done.
    let mut mark = vec![0u8; hosts.len()];
    let mut cycles = Vec::new();
    for start in 0..hosts.len() {
        if mark[start] != 0 {
            continue;
        }
        // Iterative depth-first search: (host, next parent to visit).
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        mark[start] = 1;
        while let Some(&mut (h, ref mut next)) = stack.last_mut() {
            let Some(&p) = hosts[h].parents.get(*next) else {
                mark[h] = 2;
                stack.pop();
                continue;
            };
            *next += 1;
            let p = p as usize;
            match mark.get(p) {
                Some(0) => {
                    mark[p] = 1;
                    stack.push((p, 0));
                }
                Some(1) => {
                    let from = stack.iter().position(|&(x, _)| x == p).unwrap_or(0);
                    let mut path: Vec<&str> = stack[from..]
                        .iter()
                        .map(|&(x, _)| hosts[x].name.as_str())
                        .collect();
                    path.push(hosts[p].name.as_str());
                    cycles.push((u32::try_from(p).unwrap_or(u32::MAX), path.join(" -> ")));
                }
                _ => {}
            }
        }
    }
    cycles
}

/// A service on a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// Index of the host in [`Model::hosts`].
    pub host: u32,
    /// Service description, unique per host.
    pub name: String,
    /// The active check; `None` for a passive-only service.
    pub check: Option<CheckSpec>,
    /// Run by the host's agent (its `schedule.active` is then false: the
    /// engine does not run it, it receives its results).
    pub agent: bool,
    /// Scheduling of the check.
    pub schedule: Schedule,
    /// Where it was defined.
    pub source: Location,
}

/// Engine-wide settings that a config file may set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Scheduler shards (threads); `None` = one per core.
    pub shards: Option<usize>,
    /// Most plugin processes running at once per shard.
    pub max_concurrent_exec: usize,
    /// Default check timeout (Nagios `service_check_timeout`).
    pub check_timeout: Duration,
    /// State to report when a check times out (Nagios
    /// `service_check_timeout_state`, default UNKNOWN).
    pub timeout_status: crate::check::Status,
    /// Run recognised plugin command lines natively (default); `false`
    /// forks every plugin, e.g. to compare with the native probes.
    pub native_probes: bool,
    /// Keep states across restarts (`STATE_DIR/retention.jsonl`).
    pub retain_state: bool,
    /// How often the retained states are written while running (they
    /// are always written at shutdown).
    pub retention_interval: Duration,
    /// Keep native `http` checks' connections open between checks of
    /// the same target (per shard, opt-in: the response time then leaves
    /// out connecting and the TLS handshake).
    pub http_keepalive: bool,
    /// How the native `tcp` probe connects when it only connects.
    pub tcp_io: TcpIo,
    /// Pin each shard thread to a core of its own (default); `false`
    /// leaves placement to the kernel's scheduler, e.g. on a host whose
    /// cores other work needs, or to measure what pinning changes.
    pub pin_cores: bool,
    /// Whether and where the agent endpoint listens.
    pub agent_listen: AgentListen,
    /// Extra DNS names or IP addresses agents use to reach the engine (the
    /// hub certificate carries them besides the loopback names).
    pub agent_names: Vec<String>,
    /// An agent silent this long is taken as gone.
    pub agent_silence: Duration,
    /// What a silent agent does to its checks.
    pub agent_silence_state: SilenceState,
}

/// `[engine] tcp_io`: what drives a connect-only native `tcp` check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TcpIo {
    /// A per-shard io_uring, submissions batched per loop turn (falls
    /// back to tokio when the kernel refuses io_uring).
    #[default]
    Uring,
    /// tokio's reactor (epoll), one socket per check.
    Tokio,
}

/// `[engine] agent_listen`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AgentListen {
    /// On [`AgentListen::DEFAULT`] when the config has agent hosts.
    #[default]
    Auto,
    /// Never.
    Off,
    /// Always, on this address.
    At(std::net::SocketAddr),
}

impl AgentListen {
    /// The agent endpoint's port on every address (DESIGN.md).
    pub const DEFAULT: std::net::SocketAddr =
        std::net::SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 7661);

    /// Where to listen, given whether the config has agent hosts.
    pub fn address(self, has_agents: bool) -> Option<std::net::SocketAddr> {
        match self {
            AgentListen::Auto => has_agents.then_some(AgentListen::DEFAULT),
            AgentListen::Off => None,
            AgentListen::At(a) => Some(a),
        }
    }

    /// Parses `off`, `auto` or `ADDRESS:PORT`.
    pub fn parse(text: &str) -> Result<AgentListen, String> {
        match text {
            "off" => Ok(AgentListen::Off),
            "auto" => Ok(AgentListen::Auto),
            addr => addr.parse().map(AgentListen::At).map_err(|_| {
                format!("agent listen address '{addr}': expected ADDRESS:PORT (e.g. 0.0.0.0:7661), \"auto\" or \"off\"")
            }),
        }
    }
}

/// What happens when an agent falls silent (`[engine] agent_silence_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SilenceState {
    /// The host goes DOWN (when its state comes from the agent; otherwise
    /// its agent services go UNKNOWN).
    #[default]
    Down,
    /// The host is left alone; its agent services go UNKNOWN.
    Unknown,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            shards: None,
            max_concurrent_exec: 256,
            check_timeout: Duration::from_secs(60),
            timeout_status: crate::check::Status::Unknown,
            native_probes: true,
            retain_state: true,
            retention_interval: Duration::from_secs(300),
            http_keepalive: false,
            tcp_io: TcpIo::Uring,
            pin_cores: true,
            agent_listen: AgentListen::Auto,
            agent_names: Vec::new(),
            agent_silence: Duration::from_secs(60),
            agent_silence_state: SilenceState::Down,
        }
    }
}

/// Counts of the objects that have no runtime role yet but are part of the
/// configuration (reported by `check-config`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ObjectCounts {
    /// Command definitions.
    pub commands: usize,
    /// Host groups.
    pub hostgroups: usize,
    /// Service groups.
    pub servicegroups: usize,
    /// Time periods.
    pub timeperiods: usize,
    /// Contacts.
    pub contacts: usize,
    /// Contact groups.
    pub contactgroups: usize,
}

/// A whole validated configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Model {
    /// All hosts (registered ones; templates are gone).
    pub hosts: Vec<Host>,
    /// All services, each pointing at its host by index.
    pub services: Vec<Service>,
    /// Counts of other objects.
    pub counts: ObjectCounts,
    /// Engine settings.
    pub settings: Settings,
    /// Non-fatal findings (e.g. Nagios main-config directives Vedette ignores).
    pub warnings: Vec<String>,
}

impl Model {
    /// The one-line summary `check-config` prints.
    pub fn summary(&self) -> String {
        format!(
            "config OK: {} hosts, {} services, {} commands",
            self.hosts.len(),
            self.services.len(),
            self.counts.commands
        )
    }
}
