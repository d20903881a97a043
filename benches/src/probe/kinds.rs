//! Each probe scenario's parts: its peer, the command line the engine
//! runs (natively, then forked), the extra engine settings, the bare floor
//! and issue 3's target.

use crate::floor::Floor;
use crate::peers::{self, Daemon, DNS_NAME, HTTP_PATH, PEER_ADDR, SNMP_COMMUNITY, SNMP_OID};
use crate::wire;

const PLUGINS: &str = "/usr/lib/nagios/plugins";

/// Which probe a scenario measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// `check_tcp` against an accept-and-close listener.
    Tcp,
    /// `check_http` against nginx, a new connection per check.
    Http,
    /// `check_http` against nginx with `[engine] http_keepalive = true`.
    HttpKeepalive,
    /// `check_icmp -n 1` to a loopback address.
    Icmp,
    /// `check_dns` against dnsmasq.
    Dns,
    /// `check_snmp` v2c GET of one OID against snmpd.
    Snmp,
}

impl Kind {
    /// Every kind, in the order the whole set runs.
    pub const ALL: [Kind; 6] = [
        Kind::Tcp,
        Kind::Http,
        Kind::HttpKeepalive,
        Kind::Icmp,
        Kind::Dns,
        Kind::Snmp,
    ];

    /// The name report lines start with.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Tcp => "tcp",
            Kind::Http => "http",
            Kind::HttpKeepalive => "http-keepalive",
            Kind::Icmp => "icmp",
            Kind::Dns => "dns",
            Kind::Snmp => "snmp",
        }
    }
}

/// What issue 3 asks of a probe's native rate.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    /// At least this many checks/s (and 80% of the floor).
    Rate(f64),
    /// The peer is the bottleneck: 80% of the floor, which is its ceiling.
    Floor,
}

/// One scenario, with its peer running.
pub struct Spec {
    /// The peer (none for ICMP: the kernel answers); stopped when the
    /// spec is dropped.
    pub _peer: Option<Daemon>,
    /// The check's command line, for both the native and the forked run.
    pub line: String,
    /// Extra `[engine]` settings for the native run.
    pub engine: &'static [&'static str],
    /// The bare loop.
    pub floor: Floor,
    /// The native rate asked for.
    pub target: Target,
}

/// Starts `kind`'s peer and describes the scenario.
///
/// # Errors
/// When the peer cannot start or its package is missing.
pub fn spec(kind: Kind) -> anyhow::Result<Spec> {
    Ok(match kind {
        Kind::Tcp => {
            let peer = peers::tcp_listener(peers::Bind::Peer)?;
            Spec {
                line: format!("{PLUGINS}/check_tcp -H {PEER_ADDR} -p {}", peer.addr.port()),
                engine: &[],
                floor: Floor::TcpConnect(peer.addr),
                target: Target::Rate(18_000.0),
                _peer: Some(peer),
            }
        }
        Kind::Http | Kind::HttpKeepalive => {
            let peer = peers::nginx(peers::Bind::Peer)?;
            let keep = kind == Kind::HttpKeepalive;
            Spec {
                line: format!(
                    "{PLUGINS}/check_http -I {PEER_ADDR} -p {} -u {HTTP_PATH}",
                    peer.addr.port()
                ),
                engine: if keep {
                    &["http_keepalive = true"]
                } else {
                    &[]
                },
                floor: if keep {
                    Floor::HttpKeepAlive(peer.addr)
                } else {
                    Floor::HttpNew(peer.addr)
                },
                target: Target::Rate(if keep { 30_000.0 } else { 10_000.0 }),
                _peer: Some(peer),
            }
        }
        Kind::Icmp => Spec {
            line: format!("{PLUGINS}/check_icmp -H {PEER_ADDR} -n 1"),
            engine: &[],
            floor: Floor::Icmp(PEER_ADDR.parse()?),
            target: Target::Rate(40_000.0),
            _peer: None,
        },
        Kind::Dns => {
            let peer = peers::dnsmasq()?;
            Spec {
                line: format!("{PLUGINS}/check_dns -H {DNS_NAME} -s {PEER_ADDR}"),
                engine: &[],
                floor: Floor::Udp {
                    addr: peer.addr,
                    requests: vec![
                        wire::dns_query(DNS_NAME, wire::DNS_A),
                        wire::dns_query(DNS_NAME, wire::DNS_AAAA),
                    ],
                },
                target: Target::Floor,
                _peer: Some(peer),
            }
        }
        Kind::Snmp => {
            let peer = peers::snmpd()?;
            Spec {
                line: format!(
                    "{PLUGINS}/check_snmp -H {PEER_ADDR} -p {} -P 2c -C {SNMP_COMMUNITY} -o {SNMP_OID}",
                    peer.addr.port()
                ),
                engine: &[],
                floor: Floor::Udp {
                    addr: peer.addr,
                    requests: vec![wire::snmp_get(SNMP_COMMUNITY, SNMP_OID)?],
                },
                target: Target::Floor,
                _peer: Some(peer),
            }
        }
    })
}
