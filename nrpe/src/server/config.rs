//! Reading an `nrpe.cfg`: `key=value` lines, `command[name]=line`,
//! `include=FILE`, `include_dir=DIR`. Keys NRPE has but the server has no
//! use for (`pid_file`, `nrpe_user`, `debug`, …) are accepted; keys NRPE
//! does not know are warned about, as NRPE does.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::tls::{CertFiles, Security};

/// The server's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// `server_address`; default all addresses.
    pub address: Option<IpAddr>,
    /// `server_port`; default 5666.
    pub port: u16,
    /// `allowed_hosts`; `None` when the file sets none: everyone may connect.
    pub allowed: Option<Vec<Allowed>>,
    /// `dont_blame_nrpe=1`: queries may carry `!`-separated arguments.
    pub allow_arguments: bool,
    /// `command_timeout`: a command running longer is killed; default 60 s.
    pub command_timeout: Duration,
    /// `connection_timeout`: a client must send its query within this;
    /// default 300 s.
    pub connection_timeout: Duration,
    /// `max_commands`: commands running at once; more wait. Default 64.
    pub max_commands: usize,
    /// `command[name]=line`.
    pub commands: BTreeMap<String, String>,
    /// `ssl_cert_file`, `ssl_privatekey_file`, `ssl_cacert_file`,
    /// `ssl_client_certs`; no certificate: anonymous DH.
    pub tls: CertFiles,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            address: None,
            port: crate::check::DEFAULT_PORT,
            allowed: None,
            allow_arguments: false,
            command_timeout: Duration::from_secs(60),
            connection_timeout: Duration::from_secs(300),
            max_commands: 64,
            commands: BTreeMap::new(),
            tls: CertFiles::default(),
        }
    }
}

impl Config {
    /// The TLS mode the file asks for (`no_ssl`: the `--no-ssl` flag).
    pub fn security(&self, no_ssl: bool) -> Security {
        if no_ssl {
            Security::Plain
        } else if self.tls.cert.is_some() {
            Security::Certificates(self.tls.clone())
        } else {
            Security::Anonymous
        }
    }

    /// Whether `peer` may connect.
    pub fn allows(&self, peer: IpAddr) -> bool {
        let peer = match peer {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(peer, IpAddr::V4),
            v4 => v4,
        };
        match &self.allowed {
            None => true,
            Some(list) => list.iter().any(|a| a.matches(peer)),
        }
    }
}

/// One `allowed_hosts` entry: an address with a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowed {
    addr: IpAddr,
    prefix: u8,
}

impl Allowed {
    fn matches(self, peer: IpAddr) -> bool {
        match (self.addr, peer) {
            (IpAddr::V4(a), IpAddr::V4(p)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(a) & mask == u32::from(p) & mask
            }
            (IpAddr::V6(a), IpAddr::V6(p)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(a) & mask == u128::from(p) & mask
            }
            _ => false,
        }
    }
}

/// A file that cannot be the server's configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file or directory cannot be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A line with a bad value.
    #[error("{path}:{line}: {message}")]
    Line {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// Includes nested too deep (a cycle).
    #[error("{0}: includes nested deeper than {MAX_DEPTH} (a cycle?)")]
    Depth(PathBuf),
}

const MAX_DEPTH: usize = 16;

/// Keys NRPE knows that the server accepts without acting on them.
const IGNORED_KEYS: &[&str] = &[
    "pid_file",
    "nrpe_user",
    "nrpe_group",
    "debug",
    "log_facility",
    "log_file",
    "allow_bash_command_substitution",
    "command_prefix",
    "disable_syslog",
    "keep_env_vars",
    "listen_queue_size",
    "nasty_metachars",
    "allow_weak_random_seed",
    "ssl_version",
    "ssl_cipher_list",
    "ssl_use_adh",
    "ssl_logging",
];

/// Reads `path` and everything it includes.
///
/// # Errors
/// [`ConfigError`] at the first unreadable file or bad value.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let mut config = Config::default();
    load_into(&mut config, path, 0)?;
    Ok(config)
}

fn load_into(config: &mut Config, path: &Path, depth: usize) -> Result<(), ConfigError> {
    if depth > MAX_DEPTH {
        return Err(ConfigError::Depth(path.to_path_buf()));
    }
    let read_err = |source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    };
    let text = std::fs::read_to_string(path).map_err(read_err)?;
    for (i, raw) in text.lines().enumerate() {
        let line_err = |message: String| ConfigError::Line {
            path: path.to_path_buf(),
            line: i + 1,
            message,
        };
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(line_err(format!("expected key=value, got '{line}'")));
        };
        let (key, value) = (key.trim(), value.trim());
        apply(config, path, depth, key, value).map_err(|e| match e {
            Applied::Bad(message) => line_err(message),
            Applied::Nested(e) => e,
        })?;
    }
    Ok(())
}

enum Applied {
    Bad(String),
    Nested(ConfigError),
}

fn apply(
    config: &mut Config,
    path: &Path,
    depth: usize,
    key: &str,
    value: &str,
) -> Result<(), Applied> {
    let bad = |what: &str| Applied::Bad(format!("{key}: {what} '{value}'"));
    let relative = |v: &str| path.parent().unwrap_or(Path::new(".")).join(v);
    if let Some(name) = key
        .strip_prefix("command[")
        .and_then(|k| k.strip_suffix(']'))
    {
        if name.is_empty() {
            return Err(bad("empty command name in"));
        }
        config.commands.insert(name.to_string(), value.to_string());
        return Ok(());
    }
    match key {
        "include" => load_into(config, &relative(value), depth + 1).map_err(Applied::Nested)?,
        "include_dir" => {
            include_dir(config, &relative(value), depth + 1).map_err(Applied::Nested)?
        }
        "server_address" => {
            config.address = Some(value.parse().map_err(|_| bad("not an IP address:"))?)
        }
        "server_port" => {
            config.port = value
                .parse()
                .ok()
                .filter(|&p| p > 0)
                .ok_or_else(|| bad("not a port:"))?
        }
        "allowed_hosts" => config.allowed = Some(parse_allowed(value).map_err(|m| bad(&m))?),
        "dont_blame_nrpe" => {
            config.allow_arguments = flag(value).ok_or_else(|| bad("expected 0 or 1, got"))?
        }
        "command_timeout" => {
            config.command_timeout = secs(value).ok_or_else(|| bad("expected seconds, got"))?
        }
        "connection_timeout" => {
            config.connection_timeout = secs(value).ok_or_else(|| bad("expected seconds, got"))?
        }
        "max_commands" => {
            config.max_commands = value
                .parse()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| bad("expected a positive number, got"))?
        }
        "ssl_cert_file" => config.tls.cert = Some(relative(value)),
        "ssl_privatekey_file" => config.tls.key = Some(relative(value)),
        "ssl_cacert_file" => config.tls.ca = Some(relative(value)),
        "ssl_client_certs" => {
            let n: u8 = value.parse().map_err(|_| bad("expected 0, 1 or 2, got"))?;
            config.tls.require_peer_cert = n >= 2;
        }
        k if IGNORED_KEYS.contains(&k) || k.starts_with("ssl_") => {}
        k => tracing::warn!(file = %path.display(), key = k, "Unknown option, ignored"),
    }
    Ok(())
}

fn include_dir(config: &mut Config, dir: &Path, depth: usize) -> Result<(), ConfigError> {
    let read_err = |source| ConfigError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(read_err)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    // Sorted, so a command defined twice resolves the same on every host.
    entries.sort();
    for p in entries {
        if p.is_dir() {
            include_dir(config, &p, depth + 1)?;
        } else if p.extension().is_some_and(|e| e == "cfg") {
            load_into(config, &p, depth + 1)?;
        }
    }
    Ok(())
}

fn flag(value: &str) -> Option<bool> {
    match value {
        "0" => Some(false),
        "1" => Some(true),
        _ => None,
    }
}

fn secs(value: &str) -> Option<Duration> {
    value
        .parse()
        .ok()
        .filter(|&n| n > 0)
        .map(Duration::from_secs)
}

/// `allowed_hosts`: comma-separated addresses, `addr/prefix` networks or
/// host names (resolved now, once).
fn parse_allowed(value: &str) -> Result<Vec<Allowed>, String> {
    let mut out = Vec::new();
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (host, prefix) = match item.split_once('/') {
            Some((h, p)) => (
                h,
                Some(p.parse::<u8>().map_err(|_| "bad prefix in".to_string())?),
            ),
            None => (item, None),
        };
        let addrs: Vec<IpAddr> = match host.parse::<IpAddr>() {
            Ok(a) => vec![a],
            Err(_) => {
                use std::net::ToSocketAddrs;
                match (host, 0).to_socket_addrs() {
                    Ok(it) => it.map(|s| s.ip()).collect(),
                    Err(e) => {
                        tracing::warn!(host, error = %e, "Cannot resolve allowed host, ignored");
                        Vec::new()
                    }
                }
            }
        };
        for addr in addrs {
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let prefix = prefix.unwrap_or(max);
            if prefix > max {
                return Err("prefix too long in".to_string());
            }
            out.push(Allowed { addr, prefix });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a test may unwrap: a panic is its failure
    use super::*;

    #[test]
    fn allowed_hosts_match_addresses_and_networks() {
        let c = Config {
            allowed: Some(parse_allowed("127.0.0.1, 10.1.0.0/16,::1").unwrap()),
            ..Config::default()
        };
        let table = [
            ("127.0.0.1", true),
            ("127.0.0.2", false),
            ("10.1.200.3", true),
            ("10.2.0.1", false),
            ("::1", true),
            ("::ffff:127.0.0.1", true),
            ("::2", false),
        ];
        for (ip, want) in table {
            assert_eq!(c.allows(ip.parse().unwrap()), want, "{ip}");
        }
        assert!(Config::default().allows("192.0.2.1".parse().unwrap()));
        assert!(parse_allowed("10.0.0.0/40").is_err());
    }

    #[test]
    fn reads_commands_includes_and_reports_bad_lines() {
        let dir = std::env::temp_dir().join(format!("vedette-nrpe-cfg-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("d")).unwrap();
        std::fs::write(
            dir.join("nrpe.cfg"),
            "# comment\nserver_port=5999\ndont_blame_nrpe=1\ncommand[a]=/bin/true x\ninclude=more.cfg\ninclude_dir=d\n",
        )
        .unwrap();
        std::fs::write(dir.join("more.cfg"), "command[b]=/bin/false\n").unwrap();
        std::fs::write(
            dir.join("d/c.cfg"),
            "command[c]=echo c\ncommand_timeout=7\n",
        )
        .unwrap();
        std::fs::write(dir.join("d/ignored.txt"), "garbage\n").unwrap();
        let c = load(&dir.join("nrpe.cfg")).unwrap();
        assert_eq!(c.port, 5999);
        assert!(c.allow_arguments);
        assert_eq!(c.command_timeout, Duration::from_secs(7));
        assert_eq!(c.commands.keys().collect::<Vec<_>>(), ["a", "b", "c"]);
        std::fs::write(
            dir.join("bad.cfg"),
            "server_port=5999\n\ncommand_timeout=x\n",
        )
        .unwrap();
        let e = load(&dir.join("bad.cfg")).unwrap_err().to_string();
        assert!(
            e.ends_with("bad.cfg:3: command_timeout: expected seconds, got 'x'"),
            "{e}"
        );
        std::fs::write(dir.join("loop.cfg"), "include=loop.cfg\n").unwrap();
        assert!(matches!(
            load(&dir.join("loop.cfg")),
            Err(ConfigError::Depth(_))
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
