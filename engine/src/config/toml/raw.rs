//! Vedette's TOML format as written in the file: serde types that check only
//! single values. Cross-references, templates and durations are `resolve`'s
//! job.
//!
//! Every table denies unknown keys, so a typo is an error with its line,
//! never a silently ignored setting.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// One TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFile {
    /// Engine settings (only one file may set them).
    pub engine: Option<Spanned<RawEngine>>,
    /// Files or directories (all `*.toml` inside) to read as well, relative
    /// to this file.
    #[serde(default)]
    pub include: Vec<Spanned<String>>,
    /// User macros, `USER1 = "/usr/lib/nagios/plugins"` → `$USER1$`.
    #[serde(default)]
    pub macros: BTreeMap<String, String>,
    /// Check commands by name.
    #[serde(default)]
    pub commands: BTreeMap<String, Spanned<RawCommand>>,
    /// Host templates by name.
    #[serde(default)]
    pub host_templates: BTreeMap<String, Spanned<RawHost>>,
    /// Service templates by name.
    #[serde(default)]
    pub service_templates: BTreeMap<String, Spanned<RawService>>,
    /// Hosts by name.
    #[serde(default)]
    pub hosts: BTreeMap<String, Spanned<RawHost>>,
    /// Host groups by name.
    #[serde(default)]
    pub hostgroups: BTreeMap<String, Spanned<RawHostGroup>>,
    /// Services, each attached to hosts and/or host groups.
    #[serde(default)]
    pub services: Vec<Spanned<RawService>>,
}

/// `[engine]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEngine {
    /// Scheduler shards; default one per core.
    pub shards: Option<usize>,
    /// Most plugin processes at once per shard.
    pub max_concurrent_exec: Option<usize>,
    /// Default check timeout (duration).
    pub check_timeout: Option<String>,
    /// State a timed-out check gets: `unknown` (default) or `critical`,
    /// `warning`, `ok`.
    pub timeout_state: Option<String>,
    /// Run recognised plugin command lines natively (default true).
    pub native_probes: Option<bool>,
    /// Hosts without a `check` run the `hostalive` command (default true).
    pub default_host_check: Option<bool>,
    /// Keep states across restarts (default true).
    pub retain_state: Option<bool>,
    /// How often retained states are written while running (duration).
    pub retention_interval: Option<String>,
    /// Reuse native http checks' connections between checks (default
    /// false).
    pub http_keepalive: Option<bool>,
    /// `uring` (default) or `tokio`: what drives connect-only tcp checks.
    pub tcp_io: Option<String>,
    /// Pin each shard thread to a core (default true).
    pub pin_cores: Option<bool>,
    /// Agent endpoint address, or `"off"`.
    pub agent_listen: Option<String>,
    /// Names agents reach the engine by, for the hub certificate.
    pub agent_names: Option<Vec<String>>,
    /// How long an agent may be silent before it counts as gone (duration).
    pub agent_silence: Option<String>,
    /// `down` (default) or `unknown`.
    pub agent_silence_state: Option<String>,
}

/// `[commands.NAME]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCommand {
    /// The command line with macros (`$HOSTADDRESS$`, `$ARG1$`, ...).
    pub line: String,
    /// Timeout for checks using this command (duration).
    pub timeout: Option<String>,
}

/// `[hosts.NAME]` and `[host_templates.NAME]`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHost {
    /// Templates to inherit from, first wins.
    #[serde(rename = "use", default)]
    pub use_: Vec<String>,
    /// Address (`$HOSTADDRESS$`); defaults to the host name.
    pub address: Option<String>,
    /// Host check, `command!arg1!arg2`.
    pub check: Option<String>,
    /// Interval between checks (duration).
    pub check_interval: Option<String>,
    /// Interval between retries while SOFT (duration).
    pub retry_interval: Option<String>,
    /// Attempts before a problem is HARD.
    pub max_check_attempts: Option<u32>,
    /// Whether the host check is scheduled.
    pub active: Option<bool>,
    /// Host groups this host is in.
    pub groups: Option<Vec<String>>,
    /// Hosts between this one and the engine (Nagios `parents`).
    pub parents: Option<Vec<String>>,
    /// Custom variables, `$_HOSTNAME$` style macros (`vars.os` → `$_HOSTOS$`).
    pub vars: Option<BTreeMap<String, String>>,
    /// Checked by a `vedette-agent` on the host.
    pub agent: Option<bool>,
}

/// `[[services]]` and `[service_templates.NAME]`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawService {
    /// Templates to inherit from, first wins.
    #[serde(rename = "use", default)]
    pub use_: Vec<String>,
    /// Service name (Nagios `service_description`).
    pub name: Option<String>,
    /// The host it runs on.
    pub host: Option<String>,
    /// Several hosts.
    pub hosts: Option<Vec<String>>,
    /// Every host of these groups.
    pub hostgroups: Option<Vec<String>>,
    /// The check, `command!arg1!arg2`; none makes a passive-only service.
    pub check: Option<String>,
    /// Interval between checks (duration).
    pub check_interval: Option<String>,
    /// Interval between retries while SOFT (duration).
    pub retry_interval: Option<String>,
    /// Attempts before a problem is HARD.
    pub max_check_attempts: Option<u32>,
    /// Whether the check is scheduled (false: passive only).
    pub active: Option<bool>,
    /// Check timeout (duration), overrides the command's.
    pub timeout: Option<String>,
    /// Run by the host's agent (default: whether the host is `agent`).
    pub agent: Option<bool>,
}

/// `[hostgroups.NAME]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHostGroup {
    /// Hosts in the group (hosts may also name their groups).
    #[serde(default)]
    pub members: Vec<String>,
}

/// Fills every unset field of `child` from `parent` (template inheritance:
/// the child's own value wins).
pub trait Inherit {
    /// Takes unset fields from `parent`.
    fn inherit(&mut self, parent: &Self);
    /// The templates this object names.
    fn parents(&self) -> &[String];
}

macro_rules! inherit_fields {
    ($t:ty { $($f:ident),* }) => {
        impl Inherit for $t {
            fn inherit(&mut self, parent: &Self) {
                $( if self.$f.is_none() { self.$f.clone_from(&parent.$f); } )*
            }
            fn parents(&self) -> &[String] {
                &self.use_
            }
        }
    };
}

inherit_fields!(RawHost {
    address,
    check,
    check_interval,
    retry_interval,
    max_check_attempts,
    active,
    groups,
    parents,
    vars,
    agent
});
inherit_fields!(RawService {
    name,
    host,
    hosts,
    hostgroups,
    check,
    check_interval,
    retry_interval,
    max_check_attempts,
    active,
    timeout,
    agent
});
