//! Our client (the `vedette-nrpe` CLI and the library) against Debian's
//! nrpe daemon: every case is run with the real check_nrpe too, and both
//! must print and exit the same, besides what each case expects.

use crate::support::{check_nrpe_unbroken, free_port, ours, Certs, Daemon, Run, Setup};
use vedette_nrpe::client::{query, ClientError, Options, Versions};
use vedette_nrpe::packet::Version;
use vedette_nrpe::tls::Security;

const OK_OUT: &str = "OK - all fine|load=0.5;1;2 \n";
const CRIT_OUT: &str = "CRITICAL - disk full\nsecond line\n";
const UNDERFLOW: &str =
    "CHECK_NRPE: Receive header underflow - only 0 bytes received (4 expected).\n";

/// Runs check_nrpe and our CLI with the same arguments; they must agree.
fn same(port: u16, args: &[&str]) -> Run {
    let theirs = check_nrpe_unbroken(port, args);
    let mine = ours(port, args);
    assert_eq!(mine, theirs, "vedette-nrpe vs check_nrpe {args:?}");
    mine
}

fn expect(run: &Run, code: i32, stdout: &str) {
    assert_eq!((run.code, run.stdout.as_str()), (code, stdout), "{run:?}");
}

fn matrix(tls: bool) {
    let d = Daemon::debian(&Setup {
        tls,
        ..Setup::default()
    });
    let n: &[&str] = if tls { &[] } else { &["-n"] };
    let with =
        |extra: &[&str]| -> Vec<String> { n.iter().chain(extra).map(|s| s.to_string()).collect() };
    let go = |extra: &[&str]| {
        let args = with(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        same(d.port, &args)
    };
    for v in [&[][..], &["-2"][..]] {
        let cat =
            |x: &[&'static str]| -> Vec<&'static str> { v.iter().chain(x).copied().collect() };
        expect(&go(&cat(&["-c", "ok"])), 0, OK_OUT);
        expect(&go(&cat(&["-c", "crit"])), 2, CRIT_OUT);
        expect(
            &go(&cat(&["-c", "nope"])),
            3,
            "NRPE: Command 'nope' not defined\n",
        );
        // Arguments while dont_blame_nrpe=0: the daemon hangs up unanswered.
        expect(&go(&cat(&["-c", "ok", "-a", "x"])), 3, UNDERFLOW);
        expect(
            &go(&cat(&["-c", "slow"])),
            3,
            "NRPE: Command timed out after 2 seconds\n",
        );
    }
    expect(&go(&[]), 0, "NRPE v4.1.0\n");
    expect(
        &go(&["-c", "slow", "-t", "1"]),
        2,
        "CHECK_NRPE STATE CRITICAL: Socket timeout after 1 seconds.\n",
    );
    expect(
        &go(&["-c", "slow", "-t", "1:3"]),
        3,
        "CHECK_NRPE STATE UNKNOWN: Socket timeout after 1 seconds.\n",
    );
    expect(
        &go(&["-c", "slow", "-t", "1", "-u"]),
        3,
        "CHECK_NRPE STATE UNKNOWN: Socket timeout after 1 seconds.\n",
    );
}

#[test]
fn tls_matrix_matches_check_nrpe() {
    matrix(true);
}

#[test]
fn plain_matrix_matches_check_nrpe() {
    matrix(false);
}

#[test]
fn arguments_are_refused_by_debians_build_even_with_dont_blame_nrpe() {
    // Debian builds nrpe without --enable-command-args: dont_blame_nrpe=1
    // changes nothing. Our server does take them (server_from_check_nrpe).
    let d = Daemon::debian(&Setup {
        arguments: true,
        ..Setup::default()
    });
    expect(&same(d.port, &["-c", "ok", "-a", "x", "y"]), 3, UNDERFLOW);
    expect(&same(d.port, &["-c", "ok"]), 0, OK_OUT);
}

#[test]
fn a_daemon_that_refuses_us_and_one_that_is_not_there() {
    // check_nrpe's own message races with the daemon's reset (see
    // server_from_check_nrpe), so the refusal compares states.
    let tls = Daemon::debian(&Setup {
        allowed: "10.9.9.9",
        ..Setup::default()
    });
    let (mine, theirs) = (
        ours(tls.port, &["-c", "ok"]),
        check_nrpe_unbroken(tls.port, &["-c", "ok"]),
    );
    assert_eq!((mine.code, theirs.code), (2, 2), "{mine:?} {theirs:?}");
    assert!(
        mine.stdout
            .starts_with("CHECK_NRPE: Error - Could not connect to 127.0.0.1: "),
        "{mine:?}"
    );
    let plain = Daemon::debian(&Setup {
        allowed: "10.9.9.9",
        tls: false,
        ..Setup::default()
    });
    let (mine, theirs) = (
        ours(plain.port, &["-n", "-c", "ok"]),
        check_nrpe_unbroken(plain.port, &["-n", "-c", "ok"]),
    );
    assert_eq!((mine.code, theirs.code), (3, 3), "{mine:?} {theirs:?}");
    let port = free_port();
    let r = same(port, &["-c", "ok"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("Connection refused"), "{r:?}");
    // One side plain, the other TLS.
    let open = Daemon::debian(&Setup::default());
    let r = same(open.port, &["-n", "-c", "ok"]);
    assert_eq!(r.code, 3, "{r:?}");
}

#[tokio::test]
async fn answers_v4_and_v2_never_v3() {
    let d = Daemon::debian(&Setup::default());
    let opts = |versions| Options {
        versions,
        ..Options::default()
    };
    let r = query("127.0.0.1", d.port, "crit", &opts(Versions::AUTO))
        .await
        .unwrap();
    assert_eq!((r.result, r.version), (2, Version::V4));
    assert_eq!(r.text, CRIT_OUT.trim_end());
    let r = query("127.0.0.1", d.port, "crit", &opts(Versions::V2_ONLY))
        .await
        .unwrap();
    assert_eq!((r.result, r.version), (2, Version::V2));
    let v3 = Versions {
        first: Version::V3,
        fall_back_to_v2: false,
    };
    let e = query("127.0.0.1", d.port, "crit", &opts(v3))
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::Receive(_)), "{e}");
    let v3_then_v2 = Versions {
        first: Version::V3,
        fall_back_to_v2: true,
    };
    let r = query("127.0.0.1", d.port, "ok", &opts(v3_then_v2))
        .await
        .unwrap();
    assert_eq!(r.version, Version::V2);
    let plain = Options {
        security: Security::Plain,
        ..Options::default()
    };
    assert!(query("127.0.0.1", d.port, "ok", &plain).await.is_err());
}

#[test]
fn certificates_both_ways() {
    let certs = Certs::new();
    let d = Daemon::debian(&Setup {
        certs: Some(&certs),
        ..Setup::default()
    });
    let (cert, key, ca) = (
        certs.path("client.pem"),
        certs.path("client.key"),
        certs.path("ca.pem"),
    );
    let r = same(d.port, &["-c", "crit", "-C", &cert, "-K", &key, "-A", &ca]);
    assert_eq!((r.code, r.stdout.as_str()), (2, CRIT_OUT));
    // Without a client certificate the daemon hangs up; the message races
    // with the hang-up in check_nrpe itself, the state does not.
    let (mine, theirs) = (
        ours(d.port, &["-c", "crit"]),
        check_nrpe_unbroken(d.port, &["-c", "crit"]),
    );
    assert_eq!((mine.code, theirs.code), (3, 3), "{mine:?} {theirs:?}");
}
