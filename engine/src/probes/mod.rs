//! Probes: the things that actually check something.
//!
//! A check's command line is compiled once, at plan time, into a [`Probe`]:
//! a native probe when the command line is one Vedette recognises and every
//! flag is understood ([`cmdline::compile`]), the `exec` fallback (fork the
//! plugin) otherwise. Probes run on the shard that owns the check, as tasks
//! on its single-threaded runtime; [`ProbeContext`] is that shard's shared
//! state (plugin process slots, the ICMP and SNMP sockets, defaults).
//!
//! A probe failure is data, not an `Err`: every run ends in a
//! [`CheckResult`]. Failures of the monitored target map to CRITICAL,
//! failures on our side (cannot fork, bad spec) to UNKNOWN.

pub mod cmdline;
pub mod descriptors;
pub mod dns;
pub mod dummy;
pub mod exec;
pub(crate) mod getopt;
pub mod http;
pub mod icmp;
pub mod nrpe;
pub mod snmp;
pub mod tcp;
pub mod tls_common;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::check::{CheckResult, Status};
use crate::model::{CheckSpec, Settings, TcpIo};

/// A compiled check, ready to run.
#[derive(Debug)]
pub enum Probe {
    /// Native `check_dummy`.
    Dummy(dummy::Dummy),
    /// Native `check_tcp`.
    Tcp(Box<tcp::TcpProbe>),
    /// Native `check_dns`.
    Dns(Box<dns::DnsProbe>),
    /// Native `check_ping` and `check_icmp`.
    Icmp(Box<icmp::IcmpProbe>),
    /// Native `check_http`.
    Http(Box<http::HttpProbe>),
    /// Native `check_snmp`.
    Snmp(Box<snmp::SnmpProbe>),
    /// Native `check_nrpe`.
    Nrpe(Box<nrpe::NrpeProbe>),
    /// A forked plugin.
    Exec(exec::Exec),
}

impl Probe {
    /// The probe's name as the API reports it (`dummy`, `tcp`, `dns`,
    /// `icmp`, `http`, `snmp`, `nrpe`, `exec`).
    pub fn name(&self) -> &'static str {
        match self {
            Probe::Dummy(_) => "dummy",
            Probe::Tcp(_) => "tcp",
            Probe::Dns(_) => "dns",
            Probe::Icmp(_) => "icmp",
            Probe::Http(_) => "http",
            Probe::Snmp(_) => "snmp",
            Probe::Nrpe(_) => "nrpe",
            Probe::Exec(_) => "exec",
        }
    }

    /// The result, when it is known without any I/O. The shard applies such
    /// results inline instead of spawning a task for them.
    pub fn immediate(&self) -> Option<CheckResult> {
        match self {
            Probe::Dummy(d) => Some(d.result()),
            Probe::Tcp(_)
            | Probe::Dns(_)
            | Probe::Icmp(_)
            | Probe::Http(_)
            | Probe::Snmp(_)
            | Probe::Nrpe(_)
            | Probe::Exec(_) => None,
        }
    }

    /// Descriptors a run opens, taken from [`ProbeContext::descriptors`]
    /// first: one socket for the connecting probes, two for `dns` (its
    /// UDP socket stays open while a truncated answer is asked again over
    /// TCP); none for `icmp` and `snmp` (the shard's shared sockets);
    /// `exec` takes its own once it has a plugin slot, so checks queued
    /// for one hold none.
    fn descriptors(&self) -> u32 {
        match self {
            Probe::Dns(_) => 2,
            // A connect on the shard's io_uring makes a direct descriptor,
            // not a file descriptor; when the ring has no free slot the
            // probe takes one from the budget itself.
            Probe::Tcp(t) if t.connect_only() && tcp::uring::current().is_some() => 0,
            Probe::Tcp(_) | Probe::Http(_) | Probe::Nrpe(_) => 1,
            Probe::Dummy(_) | Probe::Icmp(_) | Probe::Snmp(_) | Probe::Exec(_) => 0,
        }
    }

    /// Gives a native probe the check's own timeout (from the config),
    /// which wins over the plugin's `-t` when it is shorter, as when Nagios
    /// kills a plugin.
    fn with_check_timeout(self, timeout: Option<Duration>) -> Probe {
        match self {
            Probe::Tcp(t) => Probe::Tcp(Box::new(t.with_check_timeout(timeout))),
            Probe::Dns(d) => Probe::Dns(Box::new(d.with_check_timeout(timeout))),
            Probe::Icmp(i) => Probe::Icmp(Box::new(i.with_check_timeout(timeout))),
            Probe::Http(h) => Probe::Http(Box::new(h.with_check_timeout(timeout))),
            Probe::Snmp(s) => Probe::Snmp(Box::new(s.with_check_timeout(timeout))),
            Probe::Nrpe(n) => Probe::Nrpe(Box::new(n.with_check_timeout(timeout))),
            Probe::Dummy(_) | Probe::Exec(_) => self,
        }
    }

    /// Runs the probe to completion. Never blocks the thread; the future is
    /// not `Send` (it borrows the shard's context).
    ///
    /// The `http`, `exec` and `snmp` futures are boxed: they are the
    /// largest (about 9 KB for the first two: buffers held across awaits),
    /// and unboxed they would set the size of every check's task, a `tcp`
    /// or `icmp` one included.
    pub async fn run(&self, ctx: &ProbeContext) -> CheckResult {
        // Before the probe opens anything, held until it is done.
        let _held = match ctx.descriptors.take(self.descriptors()) {
            Ok(held) => held,
            Err(refused) => return refused,
        };
        match self {
            Probe::Dummy(d) => d.result(),
            Probe::Tcp(t) => t.run(ctx).await,
            Probe::Dns(d) => d.run(ctx).await,
            Probe::Icmp(i) => i.run(ctx).await,
            Probe::Http(h) => Box::pin(h.run(ctx)).await,
            Probe::Snmp(s) => Box::pin(s.run(ctx)).await,
            Probe::Nrpe(n) => n.run(ctx).await,
            Probe::Exec(e) => Box::pin(e.run(ctx)).await,
        }
    }
}

/// Per-shard state shared by the probes of that shard. Cheap to clone: the
/// plugin slots and ICMP sockets are shared behind an `Arc` (clones share
/// one socket, so keep them on the shard's runtime, where it was opened).
#[derive(Debug, Clone)]
pub struct ProbeContext {
    /// Timeout for checks that set none.
    pub default_timeout: Duration,
    /// Status reported when a check times out.
    pub timeout_status: Status,
    /// Plugin processes this shard may run at once
    /// ([`Settings::max_concurrent_exec`]); a forked check holds one permit
    /// while its process lives.
    pub exec_slots: Arc<Semaphore>,
    /// The shard's ICMP socket, opened by the first ping check that runs.
    pub icmp: Arc<icmp::socket::IcmpSockets>,
    /// The shard's idle HTTP keep-alive connections; `None` unless
    /// [`Settings::http_keepalive`] is on.
    pub http_pool: Option<Arc<http::pool::Pool>>,
    /// The shard's SNMP socket and clients, opened by the first SNMP check.
    pub snmp: Arc<snmp::session::SnmpSessions>,
    /// Per-host slots bounding this shard's NRPE queries to one host.
    pub nrpe_hosts: Arc<nrpe::slots::HostSlots>,
    /// What the shard opens for connect-only tcp checks at its start.
    pub tcp_io: TcpIo,
    /// The process's descriptors for checks (shared by every shard).
    pub descriptors: Arc<descriptors::Descriptors>,
}

impl ProbeContext {
    /// The context for one shard.
    pub fn new(settings: &Settings) -> ProbeContext {
        // Zero slots would park every plugin check forever; a semaphore
        // cannot hold more than MAX_PERMITS.
        let slots = settings
            .max_concurrent_exec
            .clamp(1, Semaphore::MAX_PERMITS);
        ProbeContext {
            default_timeout: settings.check_timeout,
            timeout_status: settings.timeout_status,
            exec_slots: Arc::new(Semaphore::new(slots)),
            icmp: Arc::default(),
            http_pool: settings.http_keepalive.then(Arc::default),
            snmp: Arc::default(),
            nrpe_hosts: Arc::default(),
            tcp_io: settings.tcp_io,
            descriptors: descriptors::Descriptors::shared(),
        }
    }
}

/// What the plugins that use monitoring-plugins' `timeout_alarm_handler`
/// (check_dns, check_snmp) print when their own `-t` alarm fires.
pub(crate) const PLUGIN_TIMED_OUT: &str = "CRITICAL - Plugin timed out while executing system call";

/// The result of a check the engine stopped at its timeout, as Nagios
/// reports a plugin it had to kill.
pub(crate) fn engine_timed_out(status: Status, after: Duration) -> (Status, String) {
    (status, vedette_proto::exec::timed_out_text(after))
}

/// Runs a native check's session under the two clocks a forked plugin
/// lives under: its own alarm (`-t`: after `alarm.0` it prints
/// `alarm.1()` and exits CRITICAL) and the engine's check timeout,
/// whichever comes first.
pub(crate) async fn within_limits(
    session: impl std::future::Future<Output = (Status, String)>,
    alarm: Option<(Duration, impl FnOnce() -> String)>,
    engine_timeout: Duration,
    timeout_status: Status,
) -> (Status, String) {
    let alarm_after = alarm.as_ref().map_or(engine_timeout, |a| a.0);
    match tokio::time::timeout(alarm_after.min(engine_timeout), session).await {
        Ok(done) => done,
        Err(_) => match alarm.filter(|(after, _)| *after <= engine_timeout) {
            Some((_, text)) => (Status::Critical, text()),
            None => engine_timed_out(timeout_status, engine_timeout),
        },
    }
}

/// Compiles a check command line into a probe: native when
/// [`cmdline::compile`] recognises it, the forked plugin otherwise.
pub fn build(spec: &CheckSpec, settings: &Settings) -> Arc<Probe> {
    build_explained(spec, settings).0
}

/// [`build`], also saying why the line runs as a forked plugin (for one
/// log line per command, and `check-config --explain`).
pub fn build_explained(
    spec: &CheckSpec,
    settings: &Settings,
) -> (Arc<Probe>, Option<cmdline::NotNative>) {
    let compiled = if settings.native_probes {
        cmdline::compile(&spec.line)
    } else {
        Err(cmdline::NotNative::Disabled)
    };
    match compiled {
        Ok(probe) => (Arc::new(probe.with_check_timeout(spec.timeout)), None),
        Err(why) => (
            Arc::new(Probe::Exec(exec::Exec::new(&spec.line, spec.timeout))),
            Some(why),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(line: &str) -> CheckSpec {
        CheckSpec {
            command: "c".into(),
            line: line.into(),
            timeout: None,
        }
    }

    /// Every check's task holds a `run` future: it must stay small, not
    /// grow to the largest probe's.
    #[test]
    fn the_run_future_stays_small() {
        let settings = Settings::default();
        let ctx = ProbeContext::new(&settings);
        let probe = build(&spec("/bin/true"), &settings);
        let size = std::mem::size_of_val(&probe.run(&ctx));
        assert!(size <= 4096, "Probe::run's future is {size} bytes");
    }

    #[test]
    fn build_explained_names_the_probe_and_the_reason() {
        let on = Settings::default();
        let (p, why) = build_explained(&spec("check_tcp -H h -p 1"), &on);
        assert_eq!((p.name(), why), ("tcp", None));
        let (p, why) = build_explained(&spec("check_tcp -H h -p 1 -E"), &on);
        assert_eq!(p.name(), "exec");
        assert_eq!(
            why.map(|w| w.to_string()).as_deref(),
            Some("flag '-E' not understood")
        );
        let off = Settings {
            native_probes: false,
            ..Settings::default()
        };
        let (p, why) = build_explained(&spec("check_tcp -H h -p 1"), &off);
        assert_eq!(
            (p.name(), why),
            ("exec", Some(cmdline::NotNative::Disabled))
        );
    }
}
