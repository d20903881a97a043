//! Debian's check_nrpe against our server: the same matrix as against the
//! Debian daemon, and, where the two daemons should agree, the same answers
//! from both.

use crate::support::{check_nrpe, check_nrpe_unbroken, Certs, Daemon, Run, Setup};

const OK_OUT: &str = "OK - all fine|load=0.5;1;2 \n";
const UNDERFLOW: &str =
    "CHECK_NRPE: Receive header underflow - only 0 bytes received (4 expected).\n";

fn expect(run: &Run, code: i32, stdout: &str) {
    assert_eq!((run.code, run.stdout.as_str()), (code, stdout), "{run:?}");
}

/// check_nrpe's version flags: default (v4, v2 fallback), v2 only, v3.
const VERSIONS: [&[&str]; 3] = [&[], &["-2"], &["-3"]];

fn matrix(tls: bool) {
    let setup = Setup {
        tls,
        ..Setup::default()
    };
    let ours = Daemon::ours(&setup);
    let debian = Daemon::debian(&setup);
    let n: &[&str] = if tls { &[] } else { &["-n"] };
    for v in VERSIONS {
        let args = |x: &[&'static str]| -> Vec<&'static str> {
            n.iter().chain(v).chain(x).copied().collect()
        };
        for case in [
            &["-c", "ok"][..],
            &["-c", "crit"],
            &["-c", "nope"],
            &["-c", "slow"],
            &["-c", "ok", "-a", "x"],
            &["-c", "slow", "-t", "1"],
        ] {
            let a = args(case);
            let mine = check_nrpe(ours.port, &a);
            // nrpe 4 drops v3 queries, and check_nrpe then prints that
            // failure before the v2 answer; ours answers v3 directly.
            if v != ["-3"] {
                let theirs = check_nrpe(debian.port, &a);
                assert_eq!(
                    mine,
                    theirs,
                    "ours vs Debian's daemon, check_nrpe {a:?}\n{}",
                    ours.stderr()
                );
            }
            match case {
                ["-c", "ok"] => expect(&mine, 0, OK_OUT),
                ["-c", "crit"] => expect(&mine, 2, "CRITICAL - disk full\nsecond line\n"),
                ["-c", "nope"] => expect(&mine, 3, "NRPE: Command 'nope' not defined\n"),
                ["-c", "slow"] => expect(&mine, 3, "NRPE: Command timed out after 2 seconds\n"),
                // With -3, check_nrpe prints the v3 failure, then the v2 one.
                ["-c", "ok", "-a", "x"] if v == ["-3"] => {
                    assert_eq!(mine.code, 3);
                    assert!(
                        mine.stdout.lines().all(|l| l == UNDERFLOW.trim_end()),
                        "{mine:?}"
                    );
                }
                ["-c", "ok", "-a", "x"] => expect(&mine, 3, UNDERFLOW),
                _ => expect(
                    &mine,
                    2,
                    "CHECK_NRPE STATE CRITICAL: Socket timeout after 1 seconds.\n",
                ),
            }
        }
    }
}

#[test]
fn tls_matrix() {
    matrix(true);
}

#[test]
fn plain_matrix() {
    matrix(false);
}

#[test]
fn arguments_when_allowed_and_metacharacters_never_in_any_version() {
    let d = Daemon::ours(&Setup {
        arguments: true,
        ..Setup::default()
    });
    for v in VERSIONS {
        let with =
            |x: &[&'static str]| -> Vec<&'static str> { v.iter().chain(x).copied().collect() };
        expect(
            &check_nrpe(d.port, &with(&["-c", "ok", "-a", "x", "y z"])),
            0,
            "OK - all fine|load=0.5;1;2 x y z\n",
        );
        for nasty in ["x;reboot", "`id`", "a|b", "$(id)>f"] {
            let r = check_nrpe(d.port, &with(&["-c", "ok", "-a", nasty]));
            // "$(" is not among NRPE's metacharacters but '>' is.
            expect(&r, 3, UNDERFLOW);
        }
    }
    let version = check_nrpe(d.port, &[]);
    assert_eq!(version.code, 0);
    assert!(
        version.stdout.starts_with("NRPE v4.1.0 (vedette-nrpe "),
        "{version:?}"
    );
}

#[test]
fn hosts_not_allowed_are_refused_like_nrpe_does() {
    for tls in [true, false] {
        let setup = Setup {
            tls,
            allowed: "10.9.9.9,192.0.2.0/24",
            ..Setup::default()
        };
        let ours = Daemon::ours(&setup);
        let debian = Daemon::debian(&setup);
        let args: &[&str] = if tls {
            &["-c", "ok"]
        } else {
            &["-n", "-c", "ok"]
        };
        // check_nrpe's message races with the reset ("Could not connect to
        // Unknown", "Error sending query", "Receive header underflow"), so
        // only the state is compared.
        let mine = check_nrpe_unbroken(ours.port, args);
        let theirs = check_nrpe_unbroken(debian.port, args);
        assert_eq!(mine.code, theirs.code, "tls={tls}: {mine:?} vs {theirs:?}");
        assert_eq!(mine.code, if tls { 2 } else { 3 }, "{mine:?}");
        assert!(mine.stdout.starts_with("CHECK_NRPE: "), "{mine:?}");
    }
}

#[test]
fn certificates_checked_like_nrpe_does() {
    let certs = Certs::new();
    let setup = Setup {
        certs: Some(&certs),
        ..Setup::default()
    };
    let ours = Daemon::ours(&setup);
    let debian = Daemon::debian(&setup);
    let (cert, key, ca) = (
        certs.path("client.pem"),
        certs.path("client.key"),
        certs.path("ca.pem"),
    );
    let with_cert = ["-c", "crit", "-C", &cert, "-K", &key, "-A", &ca];
    let mine = check_nrpe(ours.port, &with_cert);
    expect(&mine, 2, "CRITICAL - disk full\nsecond line\n");
    assert_eq!(mine, check_nrpe(debian.port, &with_cert));
    // No client certificate, or a server certificate from another CA.
    for args in [&["-c", "crit"][..], &["-c", "crit", "-A", &cert]] {
        let mine = check_nrpe_unbroken(ours.port, args);
        let theirs = check_nrpe_unbroken(debian.port, args);
        assert_ne!(mine.code, 0, "{mine:?}");
        assert_eq!(mine.code, theirs.code, "{args:?}: {mine:?} vs {theirs:?}");
    }
}

#[test]
fn exit_codes_and_output_read_as_debians_daemon_reads_them() {
    let setup = Setup {
        tls: false,
        ..Setup::default()
    };
    let ours = Daemon::ours(&setup);
    let debian = Daemon::debian(&setup);
    let no_output = "NRPE: Unable to read output\n";
    let table: &[(&str, i32, &str)] = &[
        // Out of range: UNKNOWN, also a plugin killed by a signal (the
        // shell popen runs it with exits 128 + signal).
        ("exit5", 3, "five\n"),
        ("killed", 3, "killed\n"),
        // One newline dropped, a CR kept; output ends at a NUL.
        ("newlines", 0, "a\r\n\n"),
        ("nul", 0, "a\n"),
        // stderr is never read; a missing plugin only writes there.
        ("stderr", 3, no_output),
        ("missing", 3, no_output),
        ("builtin", 3, no_output),
        ("assign", 0, "bar\n"),
        ("blank", 3, no_output),
    ];
    for version in VERSIONS {
        for &(command, code, stdout) in table {
            let args: Vec<&str> = ["-n"]
                .iter()
                .chain(version)
                .chain(&["-c", command])
                .copied()
                .collect();
            let mine = check_nrpe(ours.port, &args);
            if version != ["-3"] {
                let theirs = check_nrpe(debian.port, &args);
                assert_eq!(mine, theirs, "ours vs Debian's daemon, check_nrpe {args:?}");
            }
            expect(&mine, code, stdout);
        }
    }
}
