//! `net`: one network interface's traffic rates, from /proc/net/dev.
//!
//! Like `cpu`, the check object keeps the previous sample (counters and the
//! time it was taken) so each run reports the rate since the run before;
//! the first run only takes the sample and says so (UNKNOWN would page
//! someone for nothing, so it is OK with no rate perfdata). No standard
//! plugin exists, so the form is ours: `-i IFACE` (required), `-w`/`-c`
//! Nagios ranges on bytes per second, judged on the larger of in and out.
//! Output `NET OK - eth0 in 1200 B/s, out 300 B/s`; perfdata
//! `in=1200.00;w;c;0; out=300.00;w;c;0; rx_bytes=<n>c tx_bytes=<n>c`
//! (the `c` counters let a grapher derive its own rates).

use std::time::Instant;

use vedette_proto::check::{CheckResult, Status};

use super::args::{judge, range_flags, ArgError, RangeArg};

/// Where the kernel publishes per-interface counters.
const NET_DEV: &str = "/proc/net/dev";

/// The `net` check's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct NetConfig {
    /// The interface name (`eth0`).
    pub interface: String,
    /// Warning range on bytes per second.
    pub warn: Option<RangeArg>,
    /// Critical range on bytes per second.
    pub crit: Option<RangeArg>,
}

impl NetConfig {
    /// Reads `-i` (required), `-w`, `-c`.
    ///
    /// # Errors
    /// [`ArgError`] for unknown flags, bad ranges or no interface.
    pub fn from_args(args: &[&str]) -> Result<NetConfig, ArgError> {
        let f = range_flags(args, Some(("i", "interface")))?;
        Ok(NetConfig {
            interface: f.named.ok_or(ArgError::Required("-i"))?,
            warn: f.warn,
            crit: f.crit,
        })
    }
}

/// One interface's byte counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetSample {
    /// Bytes received.
    pub rx: u64,
    /// Bytes sent.
    pub tx: u64,
}

/// Finds `interface` in /proc/net/dev text: `name: rx_bytes 7 more... tx_bytes ...`.
pub fn parse_net_dev(text: &str, interface: &str) -> Option<NetSample> {
    text.lines().find_map(|line| {
        let (name, rest) = line.split_once(':')?;
        if name.trim() != interface {
            return None;
        }
        let mut numbers = rest.split_ascii_whitespace();
        let rx = numbers.next()?.parse().ok()?;
        let tx = numbers.nth(7)?.parse().ok()?;
        Some(NetSample { rx, tx })
    })
}

/// The `net` check; it keeps the last sample and when it was taken.
#[derive(Debug, Clone)]
pub struct Net {
    config: NetConfig,
    previous: Option<(Instant, NetSample)>,
}

impl Net {
    /// A net check with this configuration.
    pub fn new(config: NetConfig) -> Net {
        Net {
            config,
            previous: None,
        }
    }

    /// Runs the check once, measuring since the previous run.
    pub fn run(&mut self) -> CheckResult {
        let text = match std::fs::read_to_string(NET_DEV) {
            Ok(t) => t,
            Err(e) => return super::unknown("NET", format_args!("cannot read {NET_DEV}: {e}")),
        };
        let Some(now) = parse_net_dev(&text, &self.config.interface) else {
            return super::unknown(
                "NET",
                format_args!("no interface '{}' in {NET_DEV}", self.config.interface),
            );
        };
        let at = Instant::now();
        let result = match self.previous {
            Some((then, before)) => evaluate(
                &self.config,
                &before,
                &now,
                at.duration_since(then).as_secs_f64(),
            ),
            None => CheckResult::new(
                Status::Ok,
                format!(
                    "NET OK - {} first sample taken, rates from the next run",
                    self.config.interface
                ),
            ),
        };
        self.previous = Some((at, now));
        result
    }
}

/// Judges the rates between `before` and `now`, `secs` apart.
pub fn evaluate(config: &NetConfig, before: &NetSample, now: &NetSample, secs: f64) -> CheckResult {
    if secs.is_nan() || secs <= 0.0 {
        return super::unknown("NET", "no time passed since the last sample");
    }
    // A counter that went down was reset (interface re-created): the rate
    // since then is unknowable, so count from zero rather than wrap.
    let rate = |a: u64, b: u64| a.checked_sub(b).unwrap_or(a) as f64 / secs;
    let (rx, tx) = (rate(now.rx, before.rx), rate(now.tx, before.tx));
    let status = judge(config.warn.as_ref(), config.crit.as_ref(), rx.max(tx));
    let name = &config.interface;
    let output = format!("NET {status} - {name} in {rx:.0} B/s, out {tx:.0} B/s");
    let text = |r: &Option<RangeArg>| r.as_ref().map(|r| r.text.clone()).unwrap_or_default();
    let (w, c) = (text(&config.warn), text(&config.crit));
    let perf = format!(
        "in={rx:.2};{w};{c};0; out={tx:.2};{w};{c};0; rx_bytes={}c tx_bytes={}c",
        now.rx, now.tx
    );
    CheckResult::new(status, output).with_perfdata(perf)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEV: &str = "Inter-|   Receive |  Transmit\n face |bytes packets\n\
        lo: 100 2 0 0 0 0 0 0 200 2 0 0 0 0 0 0\n\
      eth0:1000 5 0 0 0 0 0 0 3000 6 0 0 0 0 0 0\n";

    #[test]
    fn finds_the_interface() {
        assert_eq!(
            parse_net_dev(DEV, "eth0"),
            Some(NetSample { rx: 1000, tx: 3000 })
        );
        assert_eq!(
            parse_net_dev(DEV, "lo"),
            Some(NetSample { rx: 100, tx: 200 })
        );
        for (text, iface) in [
            (DEV, "eth1"),
            ("", "lo"),
            ("lo: 1 2 3", "lo"),
            ("lo: x 0 0 0 0 0 0 0 1", "lo"),
        ] {
            assert_eq!(parse_net_dev(text, iface), None, "{text:?}");
        }
    }

    #[test]
    fn rates_between_samples() {
        let c = NetConfig::from_args(&["-i", "eth0", "-w", "1000", "-c", "5000"]).expect("config");
        let before = NetSample { rx: 1000, tx: 3000 };
        let now = NetSample { rx: 3000, tx: 3500 };
        let r = evaluate(&c, &before, &now, 2.0);
        assert_eq!(r.status, Status::Ok);
        assert_eq!(&*r.output, "NET OK - eth0 in 1000 B/s, out 250 B/s");
        assert_eq!(
            &*r.perfdata,
            "in=1000.00;1000;5000;0; out=250.00;1000;5000;0; rx_bytes=3000c tx_bytes=3500c"
        );
        assert_eq!(evaluate(&c, &before, &now, 1.0).status, Status::Warning);
        assert_eq!(evaluate(&c, &before, &now, 0.0).status, Status::Unknown);
        assert_eq!(evaluate(&c, &now, &before, 0.1).status, Status::Critical);
        assert!(NetConfig::from_args(&["-w", "1"]).is_err());
        assert!(NetConfig::from_args(&["-i", "lo", "-c", "x"]).is_err());
    }

    #[test]
    fn loopback_traffic_shows_between_runs() {
        let mut net = Net::new(NetConfig::from_args(&["-i", "lo", "-w", "0:0"]).expect("config"));
        assert_eq!(net.run().status, Status::Ok);
        // Send ourselves some bytes so the second run sees traffic.
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let addr = sock.local_addr().expect("addr");
        for _ in 0..10 {
            sock.send_to(&[0u8; 1000], addr).expect("send");
        }
        let r = net.run();
        assert_eq!(r.status, Status::Warning, "{r:?}");
        let mut missing = Net::new(NetConfig::from_args(&["-i", "vedette-none"]).expect("config"));
        assert_eq!(missing.run().status, Status::Unknown);
    }
}
