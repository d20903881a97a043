//! The shard's SNMP side: one UDP socket for every SNMP check of the
//! shard, and the clients built on it.
//!
//! Ground rules:
//! - One [`UdpTransport`] (async-snmp) per shard, bound lazily by the
//!   first SNMP check inside the shard's runtime; its receiver task
//!   hands each datagram to the request waiting on its request id, so
//!   thousands of checks share the socket.
//! - One [`Client`] per distinct [`Target`] (address, version,
//!   credentials, timeouts), built once and kept: an SNMPv3 client
//!   derives its keys once, and the shard's [`EngineCache`] keeps each
//!   agent's engine id and time, so after the first check every check is
//!   one round trip.
//! - async-snmp errors become the text `snmpget` would have printed
//!   ([`Outcome::Failed`]).

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_snmp::v3::ReportStatus;
use async_snmp::{
    Auth, AuthProtocol, Client, DesSaltState, EngineCache, Error, Oid, PersistedDesSaltState,
    PrivProtocol, Retry, UdpTransport, UsmConfig, VarBind,
};
use parking_lot::Mutex;
use tokio::sync::OnceCell;

use super::render;

/// SNMPv3 security level (`-L`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Level {
    /// `noAuthNoPriv`.
    NoAuthNoPriv,
    /// `authNoPriv`.
    AuthNoPriv,
    /// `authPriv`.
    AuthPriv,
}

/// Who we are to the agent.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Security {
    /// SNMPv1 or v2c with a community.
    Community {
        /// `-P 1`.
        v1: bool,
        /// `-C`.
        community: Box<str>,
    },
    /// SNMPv3 USM.
    Usm {
        /// `-U`.
        user: Box<str>,
        /// `-L`.
        level: Level,
        /// `-a` and `-A` (authNoPriv, authPriv).
        auth: (AuthProtocol, Box<str>),
        /// `-x` and `-X` (authPriv).
        privacy: (PrivProtocol, Box<str>),
    },
}

impl std::fmt::Debug for Security {
    // Never print communities or passwords (probes end up in logs).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Security::Community { v1, .. } => f
                .debug_struct("Community")
                .field("v1", v1)
                .finish_non_exhaustive(),
            Security::Usm {
                user,
                level,
                auth,
                privacy,
            } => f
                .debug_struct("Usm")
                .field("user", user)
                .field("level", level)
                .field("auth", &auth.0)
                .field("privacy", &privacy.0)
                .finish_non_exhaustive(),
        }
    }
}

/// An agent and how to talk to it: also the key of the shard's client
/// cache.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// `-H` as written (the error texts repeat it).
    pub host: Box<str>,
    /// `-H` as an address (unspecified for a name not resolved yet).
    pub addr: Ipv4Addr,
    /// `-p`.
    pub port: u16,
    /// Version and credentials.
    pub security: Security,
    /// `-t`: seconds per try.
    pub timeout_s: u32,
    /// `-e`: tries after the first.
    pub retries: u32,
}

/// How a GET went.
#[derive(Debug)]
pub enum Outcome {
    /// The response's varbinds, in order.
    Values(Vec<VarBind>),
    /// What `snmpget` would have printed on stderr (the plugin then says
    /// `External command error: ` and this).
    Failed(String),
    /// A failure on our side (no socket, bad credentials config).
    Local(String),
}

/// The SNMP state of one shard.
#[derive(Default)]
pub struct SnmpSessions {
    transport: OnceCell<Result<UdpTransport, String>>,
    engines: Arc<EngineCache>,
    clients: Mutex<HashMap<Target, Client>>,
}

impl std::fmt::Debug for SnmpSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnmpSessions")
            .field("open", &self.transport.initialized())
            .field("clients", &self.clients.lock().len())
            .finish_non_exhaustive()
    }
}

impl SnmpSessions {
    /// GETs (GETNEXTs when `next`) `oids` from `target` in one request
    /// (retried as `-e` says). Must run inside the shard's runtime.
    pub async fn get(&self, target: &Target, oids: &[Oid], next: bool) -> Outcome {
        let client = match self.client(target).await {
            Ok(c) => c,
            Err(text) => return Outcome::Local(text),
        };
        let response = if next {
            client.get_next_many(oids).await
        } else {
            client.get_many(oids).await
        };
        match response {
            Ok(response) if response.varbinds.is_empty() => {
                Outcome::Failed("empty response from the agent".into())
            }
            Ok(response) => Outcome::Values(response.varbinds),
            Err(e) => Outcome::Failed(failure(&e, target, next)),
        }
    }

    /// The cached client for `target`, built on first use.
    async fn client(&self, target: &Target) -> Result<Client, String> {
        if let Some(c) = self.clients.lock().get(target) {
            return Ok(c.clone());
        }
        let transport = self
            .transport
            .get_or_init(|| async {
                UdpTransport::bind("0.0.0.0:0")
                    .await
                    .map_err(|e| format!("cannot open the SNMP socket: {e}"))
            })
            .await
            .as_ref()
            .map_err(Clone::clone)?;
        let auth = auth(&target.security)?;
        let retry = Retry::fixed(target.retries, Duration::ZERO)
            .map_err(|e| format!("bad retry count {}: {e}", target.retries))?;
        let mut builder = Client::builder(SocketAddr::from((target.addr, target.port)), auth)
            .request_timeout(Duration::from_secs(u64::from(target.timeout_s)))
            .retry(retry)
            // snmpget sends every OID in one request.
            .max_oids_per_request(usize::MAX >> 1)
            .engine_cache(Arc::clone(&self.engines));
        if let Security::Usm {
            level: Level::AuthPriv,
            privacy: (PrivProtocol::Des | PrivProtocol::Des3, _),
            ..
        } = target.security
        {
            builder = builder.des_salt_state(des_salts()?);
        }
        let client = builder
            .build_with(transport)
            .await
            .map_err(|e| format!("cannot set up the SNMP client: {e}"))?;
        self.clients.lock().insert(target.clone(), client.clone());
        Ok(client)
    }
}

/// The async-snmp credentials for `security`.
fn auth(security: &Security) -> Result<Auth, String> {
    match security {
        Security::Community {
            v1: true,
            community,
        } => Ok(Auth::v1(community.to_string())),
        Security::Community { community, .. } => Ok(Auth::v2c(community.to_string())),
        Security::Usm {
            user,
            level,
            auth,
            privacy,
        } => {
            let config = UsmConfig::new(user.as_bytes().to_vec());
            let config = match level {
                Level::NoAuthNoPriv => Ok(config),
                Level::AuthNoPriv => config.auth(auth.0, auth.1.as_bytes()),
                Level::AuthPriv => {
                    config.auth_priv(auth.0, auth.1.as_bytes(), privacy.0, privacy.1.as_bytes())
                }
            };
            config
                .map(Auth::from)
                .map_err(|e| format!("bad SNMPv3 credentials: {e}"))
        }
    }
}

/// The process's DES salt counter, shared by every shard: DES salts must
/// never repeat for one key. async-snmp wants the salt epoch persisted;
/// like net-snmp, which seeds its salt afresh at each start, Vedette
/// takes the start time in seconds as the epoch instead, so a restart
/// (a later second) never reuses an epoch.
fn des_salts() -> Result<DesSaltState, String> {
    static STATE: OnceLock<Result<DesSaltState, String>> = OnceLock::new();
    STATE
        .get_or_init(|| {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(1, |d| d.as_secs());
            let epoch = u32::try_from(now).unwrap_or(u32::MAX >> 1).max(2) - 1;
            let previous = PersistedDesSaltState::new(epoch).map_err(|e| e.to_string())?;
            DesSaltState::restart(previous, |_| Ok::<(), std::io::Error>(()))
                .map_err(|e| format!("cannot start DES privacy: {e}"))
        })
        .clone()
}

/// The text `snmpget` (`snmpgetnext` when `next`) prints for the failure
/// `e`.
fn failure(e: &Error, target: &Target, next: bool) -> String {
    const AUTH_FAILED: &str =
        "snmpget: Authentication failure (incorrect password, community or key)";
    match e {
        Error::SharedOperation { source } => failure(source, target, next),
        Error::Exchange { source, .. } => failure(source, target, next),
        Error::Timeout { .. } | Error::Network { .. } | Error::Closed { .. } => {
            format!("Timeout: No Response from {}:{}.", target.host, target.port)
        }
        Error::Snmp { status, oid, .. } => render::packet_error(*status, oid.as_deref(), next),
        Error::Auth { .. } => AUTH_FAILED.to_string(),
        Error::Report { status, .. } => match status.as_ref() {
            ReportStatus::WrongDigest { .. } => AUTH_FAILED.to_string(),
            ReportStatus::UnknownUserName { .. } => "snmpget: Unknown user name".to_string(),
            ReportStatus::UnsupportedSecurityLevel { .. } => {
                "snmpget: Unsupported security level".to_string()
            }
            ReportStatus::NotInTimeWindow { .. } => "snmpget: Not in time window".to_string(),
            ReportStatus::DecryptionError { .. } => "snmpget: Decryption error".to_string(),
            ReportStatus::UnknownEngineId { .. } => "snmpget: Unknown engine ID".to_string(),
            other => format!("snmpget: {other}"),
        },
        Error::Decode(_) | Error::MalformedResponse { .. } | Error::ResponseShape { .. } => {
            format!(
                "malformed response from {}:{}: {e}",
                target.host, target.port
            )
        }
        other => format!("snmpget: {other}"),
    }
}
