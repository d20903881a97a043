//! `snmp`: native `check_snmp` — GET some OIDs over the shard's one SNMP
//! socket ([`session`]) and print exactly what monitoring-plugins 2.3's
//! `check_snmp` prints for the same flags ([`render`], [`report`]).
//!
//! The plugin runs `snmpget -t T -r E ... HOST:PORT OID...` (`snmpgetnext`
//! with `-n`) and parses its text; this probe sends the same single GET or
//! GETNEXT (SNMPv1, v2c, or v3 USM with MD5/SHA and DES/AES), renders the answer as `snmpget` would and
//! applies the plugin's logic to that text:
//!
//! ```text
//! SNMP OK - 77 "vedette-test" | iso.3.6.1.4.1.99999.2=77
//! SNMP WARNING - *2594* | iso.3.6.1.2.1.1.3.0=2594;10;100000000
//! SNMP RATE OK - 12060 | iso.3.6.1.4.1.99999.3=12060
//! No previous data to calculate rate - assume okay
//! External command error: Timeout: No Response from 127.0.0.1:161.
//! External command error: Error in packet              (+ Reason:, Failed object: lines)
//! CRITICAL - Plugin timed out while executing system call
//! ```
//!
//! `--rate` keeps the previous values and time inside the probe (the
//! plugin keeps a state file per argument list), so a reload that
//! rebuilds the check starts over with "No previous data".

pub mod config;
pub mod render;
pub mod report;
pub mod session;

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_snmp::Oid;
use parking_lot::Mutex;

use crate::check::{CheckResult, Status};
use crate::plugin_output;
use crate::probes::{within_limits, ProbeContext, PLUGIN_TIMED_OUT};

use report::{Evaluation, Previous, Row};
use session::{Outcome, Target};

/// The plugin's alarm on top of `-t × -e`, seconds.
const ALARM_SLACK_S: u64 = 5;

/// A compiled `check_snmp` command line.
#[derive(Debug)]
pub struct SnmpProbe {
    target: Target,
    oids: Vec<Oid>,
    /// `-n`: GETNEXT (snmpgetnext) instead of GET.
    next: bool,
    evaluation: Evaluation,
    /// The engine's timeout for this check (`None`: the shard default).
    check_timeout: Option<Duration>,
    /// `--rate`: the last run's values. The check only ever runs on its
    /// shard, one run at a time, so the lock is never contended.
    previous: Mutex<Option<Previous>>,
}

impl SnmpProbe {
    fn new(target: Target, oids: Vec<Oid>, next: bool, evaluation: Evaluation) -> SnmpProbe {
        SnmpProbe {
            target,
            oids,
            next,
            evaluation,
            check_timeout: None,
            previous: Mutex::new(None),
        }
    }

    /// Sets the engine's timeout for the check, which wins when shorter
    /// than the plugin's own alarm.
    pub fn with_check_timeout(mut self, timeout: Option<Duration>) -> SnmpProbe {
        self.check_timeout = timeout;
        self
    }

    /// Runs one check.
    pub async fn run(&self, ctx: &ProbeContext) -> CheckResult {
        let engine_timeout = self.check_timeout.unwrap_or(ctx.default_timeout);
        // check_snmp's `alarm(timeout * retries + 5)`, which fires before
        // snmpget gives up when `-t` is over 5 s.
        let alarm = Duration::from_secs(
            u64::from(self.target.timeout_s) * u64::from(self.target.retries) + ALARM_SLACK_S,
        );
        let session = self.session(ctx);
        let alarm = (alarm, || PLUGIN_TIMED_OUT.to_string());
        let (status, text) =
            within_limits(session, Some(alarm), engine_timeout, ctx.timeout_status).await;
        plugin_output::parse(status, &text)
    }

    /// Everything the plugin does after parsing its arguments.
    async fn session(&self, ctx: &ProbeContext) -> (Status, String) {
        // The plugin reads the clock before running snmpget.
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let resolved;
        let target = if self.target.addr.is_unspecified() {
            match resolve(&self.target.host, self.target.port).await {
                Some(addr) => {
                    resolved = Target {
                        addr,
                        ..self.target.clone()
                    };
                    &resolved
                }
                None => {
                    let text = format!(
                        "External command error: snmpget: Unknown host ({}:{})\n",
                        self.target.host, self.target.port
                    );
                    return (Status::Unknown, text);
                }
            }
        } else {
            &self.target
        };
        let varbinds = match ctx.snmp.get(target, &self.oids, self.next).await {
            Outcome::Values(v) => v,
            Outcome::Failed(text) => {
                return (Status::Unknown, format!("External command error: {text}\n"))
            }
            Outcome::Local(text) => return (Status::Unknown, format!("SNMP UNKNOWN - {text}")),
        };
        let rows: Vec<Row> = varbinds
            .iter()
            .map(|vb| Row {
                name: render::oid(&vb.oid),
                value: render::value(&vb.value),
            })
            .collect();
        let previous = self.previous.lock().clone();
        let verdict = report::evaluate(&self.evaluation, &rows, previous.as_ref(), now);
        if let Some(values) = verdict.store {
            *self.previous.lock() = Some(Previous { time: now, values });
        }
        (verdict.status, verdict.text)
    }
}

/// A host name's first IPv4 address, as net-snmp's UDP transport takes it.
async fn resolve(host: &str, port: u16) -> Option<Ipv4Addr> {
    let mut found = tokio::net::lookup_host((host, port)).await.ok()?;
    found.find_map(|a| match a.ip() {
        IpAddr::V4(ip) => Some(ip),
        IpAddr::V6(_) => None,
    })
}
