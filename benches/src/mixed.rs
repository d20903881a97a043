//! `mixed`: issue 3's realistic load. 60,000 checks at a 60 s interval,
//! 30 per host in equal parts tcp, http, icmp, dns and dummy, against the
//! real peers on loopback; 5% of the hosts sit on an address that drops
//! everything and 5% on one that drops half ([`BenchNet`]) (`--bad-percent`
//! changes the 10%; 0 is the control run), so about a
//! tenth of the checks wait for their timeout. The figure that matters is
//! lateness: a check waiting on a dead host must not delay the others
//! (target p99 ≤ 10 ms).

use std::fmt::Write;
use std::net::Ipv4Addr;
use std::time::Duration;

use crate::netns::BenchNet;
use crate::peers::{self, DNS_NAME, HTTP_PATH, PEER_ADDR};
use crate::scenario::{measure, report, scratch, write_engine};
use crate::Load;

const PLUGINS: &str = "/usr/lib/nagios/plugins";

/// Services per host; each kind gets a fifth of them.
const PER_HOST: usize = 30;

/// Check timeout, seconds: the dead hosts' checks wait this long.
const TIMEOUT_S: u32 = 5;

/// Options of `mixed`.
#[derive(Debug, Clone, clap::Args)]
pub struct MixedArgs {
    /// Number of checks (rounded up to whole hosts of 30).
    #[arg(long, default_value_t = 60_000)]
    pub checks: usize,
    /// Check interval.
    #[arg(long, default_value = "60s", value_parser = crate::parse_duration)]
    pub interval: Duration,
    /// Measured time, after one interval of warm-up.
    #[arg(long, default_value = "30s", value_parser = crate::parse_duration)]
    pub duration: Duration,
    /// Scheduler shards (default: one per core).
    #[arg(long)]
    pub shards: Option<usize>,
    /// Share of hosts on the bad addresses, half dead, half lossy; 0 gives
    /// the control run (same load, nothing times out).
    #[arg(long, default_value_t = 10)]
    pub bad_percent: usize,
}

/// Runs the scenario.
///
/// # Errors
/// When the namespace, a peer or the engine cannot start.
pub fn run(args: &MixedArgs) -> anyhow::Result<()> {
    let net = BenchNet::create()?;
    let tcp = peers::tcp_listener(peers::Bind::Spread)?;
    let web = peers::nginx(peers::Bind::Spread)?;
    let _dns = peers::dnsmasq()?;
    let load = Load {
        checks: args.checks.div_ceil(PER_HOST) * PER_HOST,
        interval: args.interval,
        duration: args.duration,
        shards: args.shards,
        reload: false,
    };
    let dir = scratch("mixed")?;
    let cfg = dir.join("mixed.toml");
    std::fs::write(
        &cfg,
        config(
            &load,
            &[],
            [net.dead, net.lossy],
            args.bad_percent.min(100),
            tcp.addr.port(),
            web.addr.port(),
        )?,
    )?;
    eprintln!(
        "mixed: dead hosts at {}, lossy hosts at {} (network namespace)",
        net.dead, net.lossy
    );
    let outcome = measure(&cfg, &dir, &load);
    let _ = std::fs::remove_dir_all(&dir);
    let m = outcome?;
    report("mixed", &load, &m);
    let p99 = m.lateness_ms[1];
    println!(
        "mixed/lateness: p99 {p99:.3} ms with {}% of hosts dead or lossy (timeouts {TIMEOUT_S} s) \
         (target p99 <= 10 ms: {})",
        args.bad_percent,
        if p99 <= 10.0 { "met" } else { "MISSED" }
    );
    drop(net);
    Ok(())
}

/// The config: hosts h0.. of which the first `bad_percent / 2` % are dead
/// and as many lossy (`bad_addrs`: those two addresses), the rest on
/// [`peers::spread_addr`]'s addresses (the tcp and http peers listen on
/// all of them), every host in group `all`, which carries the 30 services;
/// `engine` holds extra `[engine]` settings.
pub(crate) fn config(
    load: &Load,
    engine: &[&str],
    bad_addrs: [Ipv4Addr; 2],
    bad_percent: usize,
    tcp_port: u16,
    http_port: u16,
) -> anyhow::Result<String> {
    let hosts = load.checks / PER_HOST;
    let bad = hosts * bad_percent / 200;
    let mut t = String::with_capacity(hosts * 60 + 4096);
    write_engine(&mut t, load, engine)?;
    let t_ = TIMEOUT_S;
    let commands = [
        (
            "tcp",
            format!("{PLUGINS}/check_tcp -H $HOSTADDRESS$ -p {tcp_port} -t {t_}"),
        ),
        (
            "http",
            format!("{PLUGINS}/check_http -I $HOSTADDRESS$ -p {http_port} -u {HTTP_PATH} -t {t_}"),
        ),
        (
            "icmp",
            format!("{PLUGINS}/check_icmp -H $HOSTADDRESS$ -n 1 -t {t_}"),
        ),
        (
            "dns",
            format!("{PLUGINS}/check_dns -H {DNS_NAME} -s $_HOSTDNS$ -t {t_}"),
        ),
        ("dummy", format!("{PLUGINS}/check_dummy 0 ok")),
    ];
    for (name, line) in &commands {
        writeln!(t, "[commands.{name}]\nline = \"{line}\"")?;
    }
    writeln!(t, "[hostgroups.all]")?;
    for h in 0..hosts {
        // Good hosts are spread over many loopback addresses (tcp and
        // http would otherwise share one address's ephemeral ports); the
        // one dnsmasq listens on PEER_ADDR only, so dns asks it there.
        let (address, dns) = if h < bad {
            (bad_addrs[0], bad_addrs[0].to_string())
        } else if h < 2 * bad {
            (bad_addrs[1], bad_addrs[1].to_string())
        } else {
            (peers::spread_addr(h), PEER_ADDR.to_string())
        };
        writeln!(
            t,
            "[hosts.h{h}]\naddress = \"{address}\"\ngroups = [\"all\"]\nvars = {{ dns = \"{dns}\" }}"
        )?;
    }
    let interval = load.interval.as_secs_f64();
    for s in 0..PER_HOST {
        let (command, _) = &commands[s % commands.len()];
        writeln!(
            t,
            "[[services]]\nhostgroups = [\"all\"]\nname = \"{command}{s}\"\ncheck = \"{command}\"\n\
             check_interval = \"{interval}s\"\nretry_interval = \"{interval}s\""
        )?;
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The generated config loads, and every check in it runs natively.
    #[test]
    fn every_mixed_command_is_native() {
        let load = Load {
            checks: 60,
            interval: Duration::from_secs(60),
            duration: Duration::from_secs(1),
            shards: Some(1),
            reload: false,
        };
        let bad = [Ipv4Addr::new(198, 18, 0, 2), Ipv4Addr::new(198, 18, 0, 3)];
        let text = config(&load, &[], bad, 10, 1, 2).expect("config");
        let dir = std::env::temp_dir().join(format!("vbench-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("m.toml");
        std::fs::write(&path, text).expect("write");
        let model = vedette::config::load(&path).expect("loads");
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(model.services.len(), 60);
        let mut lines = Vec::new();
        for s in &model.services {
            let line = &s.check.as_ref().expect("a check").line;
            let probe = vedette::probes::cmdline::compile(line);
            assert!(probe.is_ok(), "{line} runs forked: {:?}", probe.err());
            lines.push(line.as_str());
        }
        // Two hosts: 10% of them bad rounds down to none, so both are
        // good, on spread addresses, asking dnsmasq on its own address.
        let spread = |h| format!("-H {} ", peers::spread_addr(h));
        assert!(lines.iter().any(|l| l.contains(&spread(0))), "{lines:?}");
        assert!(lines.iter().any(|l| l.contains(&spread(1))), "{lines:?}");
        assert!(
            lines
                .iter()
                .filter(|l| l.contains("check_dns"))
                .all(|l| l.contains(&format!("-s {PEER_ADDR} "))),
            "{lines:?}"
        );
    }
}
