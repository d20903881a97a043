//! What `check_ping` and `check_icmp` print for a round of echoes, and the
//! state they exit with (their `main`/`finish`, step for step).
//!
//! ```text
//! PING OK - Packet loss = 0%, RTA = 0.20 ms|rta=0.205000ms;200.000000;500.000000;0.000000 pl=0%;20;60;0;
//! PING CRITICAL - Packet loss = 100%| rta=U;200.000000;500.000000;; pl=100%;20;60;0;
//! OK - 127.0.0.1: rta 0.022ms, lost 0%|rta=0.022ms;200.000;500.000;0; pl=0%;20;60;; rtmax=0.081ms;;;; rtmin=0.006ms;;;;
//! CRITICAL - 10.200.0.2: rta nan, lost 100%|rta=0.000ms;200.000;500.000;0; pl=100%;20;60;; rtmax=0.000ms;;;; rtmin=0.000ms;;;;
//! ```

use std::net::IpAddr;
use std::time::Duration;

use crate::check::Status;
use crate::threshold::Perf;

use super::packet::IcmpError;
use super::Limits;

/// The outcome of one round: requests sent and the round-trip times of
/// those answered.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Round {
    /// Echo requests sent (send errors included, as `ping` counts them).
    pub sent: u32,
    /// Round-trip times of the replies.
    pub rtts: Vec<Duration>,
    /// The first error check_ping's scan of `ping`'s output would stop
    /// at: its words for an ICMP error, or for a send error.
    pub ping_error: Option<&'static str>,
    /// The last ICMP error check_icmp read: its words and the sender.
    pub icmp_error: Option<(&'static str, IpAddr)>,
}

impl Round {
    /// Records an ICMP error that came back instead of a reply.
    pub fn error(&mut self, error: &IcmpError) {
        if let Some(text) = error.ping_text() {
            self.ping_error.get_or_insert(text);
        }
        if let Some(text) = error.icmp_text() {
            self.icmp_error = Some((text, error.from));
        }
    }
}

impl Round {
    /// Integer packet loss in percent, truncated like both plugins.
    pub fn loss(&self) -> u32 {
        let received = u32::try_from(self.rtts.len()).unwrap_or(u32::MAX);
        match self.sent {
            0 => 100,
            sent => sent.saturating_sub(received) * 100 / sent,
        }
    }

    fn micros(&self) -> impl Iterator<Item = f64> + '_ {
        self.rtts.iter().map(|d| d.as_secs_f64() * 1e6)
    }
}

/// check_ping's state and text. `rta` is what it reads from `ping`'s
/// summary: the average in whole microseconds, as milliseconds in a
/// C `float`. An ICMP error line in `ping`'s output ends the plugin at
/// once with the error's name and the host as given.
pub fn ping(host: &str, round: &Round, warn: Limits, crit: Limits) -> (Status, String) {
    if let Some(error) = round.ping_error {
        return (Status::Critical, format!("CRITICAL - {error} ({host})"));
    }
    let pl = round.loss();
    let rta = if round.rtts.is_empty() {
        None
    } else {
        let total: u128 = round.rtts.iter().map(Duration::as_micros).sum();
        let avg_us = total / round.rtts.len() as u128;
        Some(f64::from(avg_us as f32 / 1000.0))
    };
    let status = match rta {
        _ if pl >= crit.pl => Status::Critical,
        None => Status::Critical,
        Some(r) if r >= crit.rta_ms => Status::Critical,
        Some(r) if pl >= warn.pl || r >= warn.rta_ms => Status::Warning,
        Some(_) => Status::Ok,
    };
    let positive = |v: f64| (v > 0.0).then_some(v);
    let text = match rta.filter(|_| pl != 100) {
        Some(rta) => {
            let perf = Perf {
                label: "rta",
                value: rta,
                uom: "ms",
                warn: positive(warn.rta_ms),
                crit: positive(crit.rta_ms),
                min: Some(0.0),
                max: None,
            };
            format!("PING {status} - Packet loss = {pl}%, RTA = {rta:.2} ms|{perf}")
        }
        None => format!(
            "PING {status} - Packet loss = {pl}%| rta=U;{:.6};{:.6};;",
            warn.rta_ms, crit.rta_ms
        ),
    };
    // monitoring-plugins' integer `perfdata`: thresholds only when > 0.
    let int = |v: u32| if v > 0 { v.to_string() } else { String::new() };
    let text = format!("{text} pl={pl}%;{};{};0;", int(warn.pl), int(crit.pl));
    (status, text)
}

/// check_icmp's state and text for its one host, named as given.
pub fn icmp(host: &str, round: &Round, warn: Limits, crit: Limits) -> (Status, String) {
    let pl = round.loss();
    let received = round.rtts.len();
    let rta_us = if received == 0 {
        f64::NAN
    } else {
        round.micros().sum::<f64>() / received as f64
    };
    let status = if f64::from(pl) >= f64::from(crit.pl) || rta_us >= crit.rta_ms * 1000.0 {
        Status::Critical
    } else if pl >= warn.pl || rta_us >= warn.rta_ms * 1000.0 {
        Status::Warning
    } else {
        Status::Ok
    };
    let ms = |us: f64| if us.is_finite() { us / 1000.0 } else { 0.0 };
    let rta = ms(rta_us);
    let rtmax = ms(round.micros().fold(f64::NAN, f64::max));
    let rtmin = ms(round.micros().fold(f64::NAN, f64::min));
    let shown = if received == 0 {
        match round.icmp_error {
            // The plugin prints 100 here whatever the loss.
            Some((why, from)) => format!("{why} @ {from}. rta nan, lost 100%"),
            None => format!("rta nan, lost {pl}%"),
        }
    } else {
        format!("rta {rta:.3}ms, lost {pl}%")
    };
    let text = format!(
        "{status} - {host}: {shown}|rta={rta:.3}ms;{:.3};{:.3};0; pl={pl}%;{};{};; \
         rtmax={rtmax:.3}ms;;;; rtmin={rtmin:.3}ms;;;; ",
        warn.rta_ms, crit.rta_ms, warn.pl, crit.pl
    );
    (status, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: Limits = Limits {
        rta_ms: 200.0,
        pl: 20,
    };
    const C: Limits = Limits {
        rta_ms: 500.0,
        pl: 60,
    };

    fn round(sent: u32, rtts_us: &[u64]) -> Round {
        Round {
            sent,
            rtts: rtts_us.iter().map(|&u| Duration::from_micros(u)).collect(),
            ping_error: None,
            icmp_error: None,
        }
    }

    #[test]
    fn prints_like_check_ping() {
        let table: &[(Round, Status, &str)] = &[
            (
                round(3, &[200, 205, 210]),
                Status::Ok,
                "PING OK - Packet loss = 0%, RTA = 0.20 ms|rta=0.205000ms;200.000000;500.000000;0.000000 pl=0%;20;60;0;",
            ),
            (
                round(3, &[]),
                Status::Critical,
                "PING CRITICAL - Packet loss = 100%| rta=U;200.000000;500.000000;; pl=100%;20;60;0;",
            ),
            (
                round(30, &[78; 8]),
                Status::Critical,
                "PING CRITICAL - Packet loss = 73%, RTA = 0.08 ms|rta=0.078000ms;200.000000;500.000000;0.000000 pl=73%;20;60;0;",
            ),
            (
                round(2, &[300_000, 300_000]),
                Status::Warning,
                "PING WARNING - Packet loss = 0%, RTA = 300.00 ms|rta=300.000000ms;200.000000;500.000000;0.000000 pl=0%;20;60;0;",
            ),
        ];
        for (r, status, text) in table {
            assert_eq!(ping("h", r, W, C), (*status, text.to_string()));
        }
        let mut unreachable = round(3, &[200]);
        unreachable.ping_error = Some("Host Unreachable");
        assert_eq!(
            ping("10.0.0.9", &unreachable, W, C),
            (
                Status::Critical,
                "CRITICAL - Host Unreachable (10.0.0.9)".to_string()
            )
        );
    }

    #[test]
    fn prints_like_check_icmp() {
        let table: &[(Round, Status, &str)] = &[
            (
                round(5, &[6, 10, 20, 25, 49]),
                Status::Ok,
                "OK - h: rta 0.022ms, lost 0%|rta=0.022ms;200.000;500.000;0; pl=0%;20;60;; rtmax=0.049ms;;;; rtmin=0.006ms;;;; ",
            ),
            (
                round(5, &[]),
                Status::Critical,
                "CRITICAL - h: rta nan, lost 100%|rta=0.000ms;200.000;500.000;0; pl=100%;20;60;; rtmax=0.000ms;;;; rtmin=0.000ms;;;; ",
            ),
            (
                round(5, &[10, 10, 10, 10]),
                Status::Warning,
                "WARNING - h: rta 0.010ms, lost 20%|rta=0.010ms;200.000;500.000;0; pl=20%;20;60;; rtmax=0.010ms;;;; rtmin=0.010ms;;;; ",
            ),
        ];
        for (r, status, text) in table {
            assert_eq!(icmp("h", r, W, C), (*status, text.to_string()));
        }
        let mut refused = round(2, &[]);
        refused.icmp_error = Some(("Host unreachable", IpAddr::from([10, 0, 0, 1])));
        assert_eq!(
            icmp("h", &refused, W, C).1,
            "CRITICAL - h: Host unreachable @ 10.0.0.1. rta nan, lost 100%|rta=0.000ms;200.000;500.000;0; pl=100%;20;60;; rtmax=0.000ms;;;; rtmin=0.000ms;;;; "
        );
    }
}
