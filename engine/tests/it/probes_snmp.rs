//! Differential tests: the native `snmp` probe against the real
//! `/usr/lib/nagios/plugins/check_snmp` (which runs net-snmp's snmpget),
//! same command line, same real snmpd; then a hostile agent only the
//! native probe is pointed at, for what no real agent sends.
//!
//! Both must agree on the exit status, the output, the long output and
//! the perfdata, byte for byte (digits masked only where the value moves
//! between the two runs: rates).

use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use vedette::check::{CheckResult, Status};
use vedette::model::Settings;
use vedette::plugin_output;
use vedette::probes::exec::argv;
use vedette::probes::{build, ProbeContext};

use crate::support::probes as support;
use crate::support::snmpd::{
    free_udp_port, Hostile, Misbehaviour, Snmpd, AUTH_USER, BASE, DES_USER, PRIV_USER, TWO_LINES,
};
use crate::support::{plugin, TempDir};

fn show(r: &CheckResult) -> String {
    format!(
        "{} | output {:?} | long {:?} | perf {:?}",
        r.status, r.output, r.long_output, r.perfdata
    )
}

/// Every run of digits as `#`.
fn mask(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut digits = false;
    for c in text.chars() {
        if c.is_ascii_digit() {
            if !digits {
                out.push('#');
            }
            digits = true;
        } else {
            out.push(c);
            digits = false;
        }
    }
    out
}

/// Runs the real plugin on `args`, in a private state directory.
fn real(args: &str, state: &TempDir) -> CheckResult {
    let line = format!("{} {args}", plugin("check_snmp").display());
    let words = argv::split(&line).expect("test lines need no shell");
    let out = Command::new(&words[0])
        .args(&words[1..])
        .env("MP_STATE_DIRECTORY", state.path())
        .output()
        .expect("run check_snmp");
    let code = out.status.code().expect("check_snmp exited");
    plugin_output::parse(
        Status::from_exit_code(code),
        &String::from_utf8_lossy(&out.stdout),
    )
}

/// Runs `check_snmp ARGS` natively, insisting it compiled to `snmp`.
fn native(args: &str) -> CheckResult {
    let line = format!("check_snmp {args}");
    let (probe, result) = support::run(&line, None, &Settings::default());
    assert_eq!(probe, "snmp", "{line} must run natively");
    result
}

/// Runs `check_snmp ARGS` both ways and compares; returns the native result.
fn differential(args: &str) -> CheckResult {
    let state = TempDir::new("snmp-state");
    let real = real(args, &state);
    let native = native(args);
    assert_eq!(show(&native), show(&real), "native vs real for {args}");
    native
}

#[test]
fn matrix_against_snmpd() {
    let snmpd = Snmpd::start();
    let at = format!("-H 127.0.0.1 -p {}", snmpd.port());
    let (au, aa, ap) = AUTH_USER;
    let (pu, pa, pap, pp, ppp) = PRIV_USER;
    let (du, da, dap, dp, dpp) = DES_USER;
    let sys_name = "1.3.6.1.2.1.1.5.0";
    let table: Vec<(String, Status)> = vec![
        // Versions and security levels.
        (format!("{at} -o {sys_name}"), Status::Ok),
        (format!("{at} -P 1 -C public -o {sys_name},{BASE}.2"), Status::Ok),
        (format!("{at} -P 2c -o {sys_name} -o {BASE}.1,{BASE}.2"), Status::Ok),
        (format!("{at} -P 3 -L authNoPriv -U {au} -a {aa} -A {ap} -o {sys_name}"), Status::Ok),
        (
            format!("{at} -P 3 -L authPriv -U {pu} -a {pa} -A {pap} -x {pp} -X {ppp} -o {sys_name},{BASE}.6"),
            Status::Ok,
        ),
        (
            format!("{at} -P 3 -L authPriv -U {du} -a {da} -A {dap} -x {dp} -X {dpp} -o {sys_name}"),
            Status::Ok,
        ),
        // GETNEXT, as snmpgetnext.
        (format!("{at} -P 2c -n -o 1.3.6.1.2.1.1.5,1.3.6.1.2.1.1.4"), Status::Ok),
        (format!("{at} -P 2c -n -o 1.3.6.1.6.3.99"), Status::Ok),
        (format!("{at} -P 1 -n -o 1.3.6.1.6.3.99"), Status::Unknown),
        (format!("{at} -P 2c --next -o {BASE}.1 -w 5"), Status::Warning),
        // Host names resolve like snmpget's.
        (format!("-H localhost -p {} -P 2c -o {BASE}.2", snmpd.port()), Status::Ok),
        (format!("-H nosuch.invalid -p {} -P 2c -o {BASE}.2", snmpd.port()), Status::Unknown),
        // A v3 user below its required level: an error-status response.
        (format!("{at} -P 3 -U {au} -o {sys_name}"), Status::Unknown),
        // Every value type, as snmpget prints it.
        (
            format!("{at} -P 2c -o {BASE}.1,{BASE}.2,{BASE}.3,{BASE}.4,{BASE}.5,{BASE}.6,{BASE}.7"),
            Status::Ok,
        ),
        (
            format!("{at} -P 2c -o {BASE}.8,{BASE}.9,{BASE}.10,{BASE}.11,{BASE}.12,{BASE}.13"),
            Status::Ok,
        ),
        // Values snmpget prints over several lines.
        (format!("{at} -P 2c -o {TWO_LINES},{BASE}.2"), Status::Ok),
        (format!("{at} -P 2c -o {BASE}.2 -o .{TWO_LINES} -s x"), Status::Critical),
        (format!("{at} -P 2c -o {TWO_LINES} -w 5"), Status::Unknown),
        (format!("{at} -P 2c -o {BASE}.14,{BASE}.2 -w 1,2"), Status::Ok),
        // Thresholds, one range per OID.
        (format!("{at} -P 2c -o {BASE}.2 -w 80 -c 90"), Status::Ok),
        (format!("{at} -P 2c -o {BASE}.2 -w 50 -c 90 -l speed -u km/h"), Status::Warning),
        (format!("{at} -P 2c -o {BASE}.2 -w 50 -c 60"), Status::Critical),
        (format!("{at} -P 2c -o {BASE}.2,{BASE}.13 -w ,3 -c 80:70,"), Status::Critical),
        (format!("{at} -P 2c -o {BASE}.1 -w -50: -c -41:-30"), Status::Critical),
        (format!("{at} -P 2c -o {BASE}.6,{BASE}.12 -w 1 -l up,fruit"), Status::Warning),
        (format!("{at} -P 2c -o {BASE}.7,{BASE}.10 -c 10 -O -l a,b"), Status::Critical),
        (format!("{at} -P 2c -o {BASE}.2 --offset 10 -w 80"), Status::Warning),
        (format!("{at} -P 2c -o {BASE}.5 -w 10"), Status::Unknown),
        // String and regex matches.
        (format!("{at} -P 2c -o {sys_name} -s \"vedette-test\""), Status::Critical),
        // The last -s is the string every -s position compares with.
        (format!("{at} -P 2c -o {BASE}.2,{BASE}.4 -s 77 -s '\"42\"'"), Status::Critical),
        (format!("{at} -P 2c -o {BASE}.4 -s 42"), Status::Critical),
        (format!("{at} -P 2c -o {BASE}.4 -s 42 --invert-search"), Status::Ok),
        (format!("{at} -P 2c -o {sys_name} -r 'ved.*test'"), Status::Ok),
        (format!("{at} -P 2c -o {sys_name} -R '^ = string: \"VED'"), Status::Ok),
        (format!("{at} -P 2c -o {sys_name},{BASE}.2 -r nomatch -D ' / '"), Status::Critical),
        // Missing objects.
        (format!("{at} -P 2c -o {BASE}.2,{BASE}.100"), Status::Ok),
        (format!("{at} -P 2c -o 1.3.6.1.4.1.99998.1"), Status::Ok),
        (format!("{at} -P 2c -o {BASE}.100 -s x"), Status::Critical),
        (format!("{at} -P 2c -o {BASE}.100 -w 10"), Status::Unknown),
        (format!("{at} -P 1 -o {BASE}.2,{BASE}.100"), Status::Unknown),
    ];
    for (args, want) in &table {
        let r = differential(args);
        assert_eq!(r.status, *want, "{args}: {}", r.output);
    }
}

#[test]
fn silence_is_a_timeout() {
    let snmpd = Snmpd::start();
    // A wrong community gets no answer at all from snmpd.
    let wrong = format!(
        "-H 127.0.0.1 -p {} -P 2c -C wrong -o 1.3.6.1.2.1.1.5.0 -t 1 -e 1",
        snmpd.port()
    );
    let r = differential(&wrong);
    assert_eq!(r.status, Status::Unknown);
    assert_eq!(
        &*r.output,
        format!(
            "External command error: Timeout: No Response from 127.0.0.1:{}.",
            snmpd.port()
        )
    );
    // A -t over 5 s: check_snmp's own alarm (-t × -e + 5 s) comes first.
    let r = differential(&format!(
        "-H 127.0.0.1 -p {} -P 2c -C wrong -o 1.3.6.1.2.1.1.5.0 -t 6 -e 0",
        snmpd.port()
    ));
    assert_eq!(
        (r.status, &*r.output),
        (
            Status::Critical,
            "CRITICAL - Plugin timed out while executing system call"
        )
    );
    // Nothing listens: the same (net-snmp ignores port unreachable).
    let dead = free_udp_port();
    let r = differential(&format!(
        "-H 127.0.0.1 -p {dead} -o 1.3.6.1.2.1.1.5.0 -t 1 -e 0"
    ));
    assert_eq!(r.status, Status::Unknown);
}

/// Wrong v3 credentials: snmpd answers with an unauthenticated Report,
/// which snmpget reports at once and async-snmp (rightly, as anyone could
/// forge it) drops, so the native probe waits for its timeout. Same
/// state (UNKNOWN while `-t` is at most 5 s), different text.
#[test]
fn wrong_v3_credentials_are_unknown() {
    let snmpd = Snmpd::start();
    let (au, aa, ap) = AUTH_USER;
    let at = format!("-H 127.0.0.1 -p {} -t 1 -e 0", snmpd.port());
    let state = TempDir::new("snmp-v3");
    for args in [
        format!("{at} -P 3 -L authNoPriv -U {au} -a {aa} -A wrongpass1 -o 1.3.6.1.2.1.1.5.0"),
        format!("{at} -P 3 -L authNoPriv -U nosuchuser -a SHA -A {ap} -o 1.3.6.1.2.1.1.5.0"),
    ] {
        let real = real(&args, &state);
        assert_eq!(real.status, Status::Unknown, "{}", show(&real));
        assert!(real.output.starts_with("External command error: snmpget: "));
        let native = native(&args);
        assert_eq!(native.status, Status::Unknown, "{}", show(&native));
        assert_eq!(
            &*native.output,
            format!(
                "External command error: Timeout: No Response from 127.0.0.1:{}.",
                snmpd.port()
            )
        );
    }
}

/// How many SNMPv3 engine discoveries snmpd has seen
/// (usmStatsUnknownEngineIDs.0), read with the real snmpget.
fn discoveries(snmpd: &Snmpd) -> u64 {
    let out = Command::new("/usr/bin/snmpget")
        .args(["-v2c", "-c", "public", "-m", "", "-Oqv"])
        .arg(snmpd.addr.to_string())
        .arg("1.3.6.1.6.3.15.1.1.4.0")
        .output()
        .expect("run snmpget (Debian package snmp)");
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("usmStatsUnknownEngineIDs: {text:?}"))
}

/// v3 engine discovery happens once per agent and shard: later checks,
/// of any v3 user, are one round trip.
#[test]
fn v3_discovery_is_cached_per_shard() {
    let snmpd = Snmpd::start();
    let (au, aa, ap) = AUTH_USER;
    let (pu, pa, pap, pp, ppp) = PRIV_USER;
    let at = format!("-H 127.0.0.1 -p {}", snmpd.port());
    let lines = [
        format!("check_snmp {at} -P 3 -L authNoPriv -U {au} -a {aa} -A {ap} -o {BASE}.2"),
        format!("check_snmp {at} -P 3 -L authPriv -U {pu} -a {pa} -A {pap} -x {pp} -X {ppp} -o {BASE}.2"),
    ];
    let settings = Settings::default();
    let ctx = ProbeContext::new(&settings);
    let rt = support::runtime();
    let before = discoveries(&snmpd);
    for _ in 0..3 {
        for line in &lines {
            let probe = build(&support::spec(line, None), &settings);
            let r = rt.block_on(probe.run(&ctx));
            assert_eq!(r.status, Status::Ok, "{line}: {}", show(&r));
        }
    }
    assert_eq!(discoveries(&snmpd) - before, 1, "discoveries for 6 checks");
}

#[test]
fn counter_rate_over_two_runs() {
    let snmpd = Snmpd::start();
    let args = format!(
        "-H 127.0.0.1 -p {} -P 2c -o {BASE}.3,{BASE}.2 --rate --rate-multiplier 60 -w 1000000",
        snmpd.port()
    );
    let state = TempDir::new("snmp-rate");
    let settings = Settings::default();
    let probe = build(
        &support::spec(&format!("check_snmp {args}"), None),
        &settings,
    );
    assert_eq!(probe.name(), "snmp");
    // One runtime and context for all runs, as on a shard: the SNMP
    // socket lives on the runtime that opened it.
    let ctx = ProbeContext::new(&settings);
    let rt = support::runtime();
    let run_again =
        |probe: &vedette::probes::Probe, ctx: &ProbeContext| rt.block_on(probe.run(ctx));

    snmpd.set_counter(1000);
    let real_first = real(&args, &state);
    let native_first = run_again(&probe, &ctx);
    assert_eq!(show(&native_first), show(&real_first));
    assert_eq!(
        &*native_first.output,
        "No previous data to calculate rate - assume okay"
    );

    // The plugin counts whole seconds: start just after a second boundary,
    // at least one second later, so the next runs share one second.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970");
    std::thread::sleep(
        Duration::from_millis(2050) - Duration::from_nanos(u64::from(now.subsec_nanos())),
    );
    snmpd.set_counter(1300);
    let real_next = real(&args, &state);
    let native_next = run_again(&probe, &ctx);
    assert_eq!(mask(&show(&native_next)), mask(&show(&real_next)));
    assert_eq!(native_next.status, Status::Ok, "{}", native_next.output);
    assert!(
        native_next.output.starts_with("SNMP RATE OK - "),
        "{}",
        native_next.output
    );
    assert!(
        native_next
            .perfdata
            .contains(&format!("iso.{}.3=", &BASE[2..])),
        "{}",
        native_next.perfdata
    );
    // Immediately again: the plugin refuses a zero duration.
    let native_again = run_again(&probe, &ctx);
    assert_eq!(native_again.status, Status::Unknown);
    assert_eq!(
        &*native_again.output,
        "Time duration between plugin calls is invalid"
    );
}

#[test]
fn hostile_agent_is_unknown_within_the_timeout() {
    for how in [
        Misbehaviour::WrongId,
        Misbehaviour::Truncated,
        Misbehaviour::Garbage,
        Misbehaviour::Overlong,
    ] {
        let agent = Hostile::start(how);
        let args = format!(
            "-H 127.0.0.1 -p {} -P 2c -o 1.3.6.1.2.1.1.5.0 -t 1 -e 1",
            agent.addr.port()
        );
        let started = Instant::now();
        let r = native(&args);
        let took = started.elapsed();
        assert!(
            matches!(r.status, Status::Unknown | Status::Critical),
            "{how:?}: {}",
            show(&r)
        );
        assert!(
            r.output.starts_with("External command error: "),
            "{how:?}: {}",
            r.output
        );
        assert!(took < Duration::from_secs(4), "{how:?} took {took:?}");
    }
}

#[test]
fn engine_timeout_wins_when_shorter() {
    let agent = Hostile::start(Misbehaviour::WrongId);
    let line = format!(
        "check_snmp -H 127.0.0.1 -p {} -o 1.3.6.1.2.1.1.5.0",
        agent.addr.port()
    );
    let (probe, r) = support::run(
        &line,
        Some(Duration::from_millis(300)),
        &Settings::default(),
    );
    assert_eq!(probe, "snmp");
    assert_eq!(r.status, Status::Unknown);
    assert_eq!(&*r.output, "(Service check timed out after 0.30 seconds)");
}
