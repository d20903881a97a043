//! The agent's settings: a TOML file (`configs/agent.toml`) and command
//! line flags, the flags winning. Two stages as in the engine: [`File`] is
//! the file as written (unknown keys are errors naming the key), and
//! [`Settings::resolve`] fills in defaults and checks the values.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use vedette_proto::wire::{Token, TokenFormatError};

/// Where the key, certificate and CA live by default.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/vedette-agent";

/// Default cap of the spool: at ~300 bytes a result, a couple of days of
/// 30 checks a minute, and still small next to any disk.
pub const DEFAULT_SPOOL_MAX_BYTES: u64 = 64 << 20;

/// The agent's config file as written.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    /// The engine's agent endpoint, `HOST:PORT`.
    pub server: Option<String>,
    /// The enrolment token printed by `vedette agent token`.
    pub token: Option<String>,
    /// The name to ask the certificate for (the engine decides the host).
    pub name: Option<String>,
    /// Directory of `agent.key`, `agent.crt`, `ca.crt`.
    pub state_dir: Option<PathBuf>,
    /// Directory of the spool; default `STATE_DIR/spool`.
    pub spool_dir: Option<PathBuf>,
    /// Cap on the results waiting in the spool, bytes.
    pub spool_max_bytes: Option<u64>,
    /// Optional NRPE server for pollers that still call `check_nrpe`.
    pub nrpe: Option<NrpeFile>,
}

/// The `[nrpe]` table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NrpeFile {
    /// Listen address, `IP:PORT`; overrides `server_address`/`server_port`.
    pub listen: SocketAddr,
    /// The `nrpe.cfg` with the `command[name]=...` lines.
    pub config: PathBuf,
    /// TLS as NRPE speaks it (default); `false` for plain TCP (`-n`).
    #[serde(default = "yes")]
    pub ssl: bool,
}

fn yes() -> bool {
    true
}

/// Flags that override the file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    /// `--server`.
    pub server: Option<String>,
    /// `--token`.
    pub token: Option<String>,
    /// `--name`.
    pub name: Option<String>,
    /// `--state-dir`.
    pub state_dir: Option<PathBuf>,
    /// `--spool-dir`.
    pub spool_dir: Option<PathBuf>,
}

/// The settings the agent runs with.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The engine's agent endpoint.
    pub server: Server,
    /// Enrolment token, needed only while there is no certificate.
    pub token: Option<Token>,
    /// Name asked for in the certificate request.
    pub name: Option<String>,
    /// Key, certificate and CA.
    pub state_dir: PathBuf,
    /// The spool.
    pub spool_dir: PathBuf,
    /// Spool cap, bytes.
    pub spool_max_bytes: u64,
    /// NRPE server, when configured.
    pub nrpe: Option<NrpeFile>,
}

/// `HOST:PORT` of the engine, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// Host name or address (no brackets), also the TLS server name.
    pub host: String,
    /// Port.
    pub port: u16,
}

impl std::fmt::Display for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// What is wrong with the settings.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not valid TOML of the expected shape (the message
    /// names the line and the key).
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the TOML reader said.
        message: String,
    },
    /// No engine address anywhere.
    #[error("no engine address: give --server HOST:PORT or `server` in the config file")]
    NoServer,
    /// The engine address is not `HOST:PORT`.
    #[error("server '{0}' is not HOST:PORT (e.g. engine.example.com:7661 or [::1]:7661)")]
    BadServer(String),
    /// The token is not one `vedette agent token` prints.
    #[error("token: {0}")]
    BadToken(#[from] TokenFormatError),
    /// A spool cap too small to hold anything useful.
    #[error("spool_max_bytes = {0} is below the minimum of 65536")]
    SpoolTooSmall(u64),
}

impl File {
    /// Reads and parses a config file.
    pub fn load(path: &Path) -> Result<File, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        File::parse(&text).map_err(|message| ConfigError::Parse {
            path: path.to_path_buf(),
            message,
        })
    }

    /// Parses config text; the error is the TOML reader's message.
    pub fn parse(text: &str) -> Result<File, String> {
        toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())
    }
}

impl Settings {
    /// Combines the file (if any) and the flags, flags first, and checks
    /// the values.
    pub fn resolve(file: File, flags: Overrides) -> Result<Settings, ConfigError> {
        let server = flags.server.or(file.server).ok_or(ConfigError::NoServer)?;
        let server = parse_server(&server)?;
        let token = flags
            .token
            .or(file.token)
            .filter(|t| !t.trim().is_empty())
            .map(|t| Token::parse(&t))
            .transpose()?;
        let state_dir = flags
            .state_dir
            .or(file.state_dir)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_DIR));
        let spool_dir = flags
            .spool_dir
            .or(file.spool_dir)
            .unwrap_or_else(|| state_dir.join("spool"));
        let spool_max_bytes = file.spool_max_bytes.unwrap_or(DEFAULT_SPOOL_MAX_BYTES);
        if spool_max_bytes < 1 << 16 {
            return Err(ConfigError::SpoolTooSmall(spool_max_bytes));
        }
        Ok(Settings {
            server,
            token,
            name: flags.name.or(file.name),
            state_dir,
            spool_dir,
            spool_max_bytes,
            nrpe: file.nrpe,
        })
    }
}

/// Splits `host:port`, `[v6]:port`.
fn parse_server(text: &str) -> Result<Server, ConfigError> {
    let bad = || ConfigError::BadServer(text.to_string());
    let (host, port) = text.trim().rsplit_once(':').ok_or_else(bad)?;
    let host = match host.strip_prefix('[') {
        Some(inner) => inner.strip_suffix(']').ok_or_else(bad)?,
        None if host.contains(':') => return Err(bad()),
        None => host,
    };
    let port: u16 = port.parse().map_err(|_| bad())?;
    if host.is_empty() || port == 0 {
        return Err(bad());
    }
    Ok(Server {
        host: host.to_string(),
        port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> String {
        format!("{}.{}", "a".repeat(64), "b".repeat(64))
    }

    #[test]
    fn flags_override_the_file() {
        let file = File::parse(&format!(
            "server = \"engine:7661\"\ntoken = \"{}\"\nname = \"web1\"\nstate_dir = \"/s\"\nspool_max_bytes = 100000\n",
            token()
        ))
        .expect("parses");
        let s = Settings::resolve(
            file.clone(),
            Overrides {
                server: Some("[::1]:9".into()),
                state_dir: Some("/t".into()),
                ..Overrides::default()
            },
        )
        .expect("valid");
        assert_eq!(
            s.server,
            Server {
                host: "::1".into(),
                port: 9
            }
        );
        assert_eq!(s.server.to_string(), "[::1]:9");
        assert_eq!(s.state_dir, PathBuf::from("/t"));
        assert_eq!(s.spool_dir, PathBuf::from("/t/spool"));
        assert_eq!(s.name.as_deref(), Some("web1"));
        assert_eq!(s.spool_max_bytes, 100_000);
        assert!(s.token.is_some());
        let s = Settings::resolve(file, Overrides::default()).expect("valid");
        assert_eq!(s.server.to_string(), "engine:7661");
        assert_eq!(s.state_dir, PathBuf::from("/s"));
    }

    #[test]
    fn defaults() {
        let s = Settings::resolve(
            File::default(),
            Overrides {
                server: Some("127.0.0.1:7661".into()),
                ..Overrides::default()
            },
        )
        .expect("valid");
        assert_eq!(s.state_dir, PathBuf::from(DEFAULT_STATE_DIR));
        assert_eq!(s.spool_max_bytes, DEFAULT_SPOOL_MAX_BYTES);
        assert_eq!((s.token, s.nrpe), (None, None));
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = File::parse("server = \"a:1\"\nsevrer = \"b:2\"\n").expect_err("unknown key");
        assert!(err.contains("sevrer"), "{err}");
        let err = File::parse("[nrpe]\nlisten = \"127.0.0.1:5666\"\nconfig = \"/x\"\nport = 1\n")
            .expect_err("unknown key");
        assert!(err.contains("port"), "{err}");
    }

    #[test]
    fn bad_values() {
        let resolve = |server: &str, token: Option<&str>| {
            Settings::resolve(
                File::default(),
                Overrides {
                    server: Some(server.into()),
                    token: token.map(str::to_string),
                    ..Overrides::default()
                },
            )
        };
        for bad in [
            "engine",
            "engine:",
            "engine:x",
            ":7661",
            "::1:7661",
            "[::1:7661",
            "h:0",
        ] {
            assert!(
                matches!(resolve(bad, None), Err(ConfigError::BadServer(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            resolve("h:1", Some("nonsense")),
            Err(ConfigError::BadToken(_))
        ));
        assert!(matches!(
            Settings::resolve(File::default(), Overrides::default()),
            Err(ConfigError::NoServer)
        ));
        let err = File::parse("spool_max_bytes = 10").expect("parses");
        let flags = Overrides {
            server: Some("h:1".into()),
            ..Overrides::default()
        };
        assert!(matches!(
            Settings::resolve(err, flags),
            Err(ConfigError::SpoolTooSmall(10))
        ));
    }
}
