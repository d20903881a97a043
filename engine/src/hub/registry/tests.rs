use super::*;
use crate::hub::TestDir;

fn cert(host: &str, fp: &str) -> AgentCert {
    AgentCert {
        host: host.into(),
        serial: "01".into(),
        fingerprint: fp.into(),
        issued_at: 1,
        revoked_at: None,
    }
}

fn log_of(dir: &Path) -> PathBuf {
    dir.join("agents").join(LOG)
}

#[test]
fn revoke_is_persisted_and_answered() {
    let dir = TestDir::new("registry");
    let reg = Registry::new(&dir);
    assert!(reg.list().expect("test step").is_empty());
    assert!(!dir.exists(), "reading an empty registry creates nothing");
    reg.record(cert("web", "f1")).expect("test step");
    reg.record(cert("db", "f2")).expect("test step");
    assert_eq!(reg.path(), log_of(&dir));
    assert!(!reg.is_revoked("web").expect("test step"));
    assert_eq!(reg.revoke("web").expect("test step"), 1);
    assert_eq!(reg.revoke("web").expect("test step"), 0);
    let again = Registry::new(&dir);
    assert!(again.is_revoked("web").expect("test step"));
    assert!(again.is_revoked("f1").expect("test step"));
    assert!(!again.is_revoked("f2").expect("test step"));
    assert!(!again.is_revoked("unknown").expect("test step"));
    assert!(matches!(
        again.revoke("nobody"),
        Err(RegistryError::UnknownHost(_))
    ));
    // Enrolled again after the revocation: the host is trusted again,
    // the old certificate stays revoked.
    again.record(cert("web", "f3")).expect("test step");
    assert!(!again.is_revoked("web").expect("test step"));
    assert!(again.is_revoked("f1").expect("test step"));
    // A second revocation reaches only the new certificate; the first
    // keeps its time.
    let first = again.list().expect("test step")[0].revoked_at;
    assert_eq!(again.revoke("web").expect("test step"), 1);
    let certs = Registry::new(&dir).list().expect("test step");
    let fps: Vec<_> = certs.iter().map(|c| c.fingerprint.as_str()).collect();
    assert_eq!(fps, ["f1", "f2", "f3"]);
    assert_eq!(certs[0].revoked_at, first);
    assert!(certs[2].revoked_at.is_some() && certs[1].revoked_at.is_none());
    // Three issues and two revocations: five lines, nothing rewritten.
    let text = fs::read_to_string(log_of(&dir)).expect("test step");
    assert_eq!(text.lines().count(), 5, "{text}");
}

#[test]
fn legacy_registry_is_converted_once_with_equal_content() {
    let dir = TestDir::new("registry-migrate");
    let agents = dir.join("agents");
    files::ensure_dir(&agents).expect("test step");
    let mut old = vec![cert("web", "f1"), cert("db", "f2"), cert("web", "f3")];
    old[0].revoked_at = Some(100);
    old[1].revoked_at = Some(200);
    files::write_json(&agents.join(LEGACY), &old, PUBLIC).expect("test step");

    let reg = Registry::new(&dir);
    assert_eq!(reg.list().expect("test step"), old);
    assert!(!agents.join(LEGACY).exists());
    let kept: Vec<AgentCert> = files::read_json(&agents.join(MIGRATED)).expect("test step");
    assert_eq!(kept, old, "the old file is kept, renamed");
    assert_eq!(Registry::new(&dir).list().expect("test step"), old);

    // Appends go on after the converted lines.
    reg.record(cert("web", "f4")).expect("test step");
    assert_eq!(reg.revoke("web").expect("test step"), 2);
    let now = reg.list().expect("test step");
    assert_eq!(now.len(), 4);
    assert_eq!(now[0].revoked_at, Some(100), "its own time is kept");
    assert_eq!(now[1].revoked_at, Some(200));
    assert!(now[2].revoked_at.is_some_and(|t| t > 200));
    assert_eq!(now[2].revoked_at, now[3].revoked_at);
}

#[test]
fn legacy_registry_is_converted_by_a_write_too() {
    let dir = TestDir::new("registry-migrate-write");
    let agents = dir.join("agents");
    files::ensure_dir(&agents).expect("test step");
    files::write_json(&agents.join(LEGACY), &vec![cert("web", "f1")], PUBLIC).expect("test step");
    let reg = Registry::new(&dir);
    reg.record(cert("db", "f2")).expect("test step");
    let fps: Vec<_> = reg
        .list()
        .expect("test step")
        .into_iter()
        .map(|c| c.fingerprint)
        .collect();
    assert_eq!(fps, ["f1", "f2"]);
    assert!(agents.join(MIGRATED).exists() && !agents.join(LEGACY).exists());
}

#[test]
fn torn_last_line_is_ignored_then_cut() {
    let dir = TestDir::new("registry-torn");
    let reg = Registry::new(&dir);
    reg.record(cert("web", "f1")).expect("test step");
    reg.record(cert("db", "f2")).expect("test step");
    let whole = fs::read(reg.path()).expect("test step");
    // A crash in the middle of an append: part of a line, no newline.
    let mut torn = whole.clone();
    torn.extend_from_slice(b"{\"issued\":{\"host\":\"mail\",\"ser");
    fs::write(reg.path(), &torn).expect("test step");
    assert_eq!(reg.list().expect("test step").len(), 2);
    assert!(!reg.is_revoked("f2").expect("test step"));

    reg.record(cert("mail", "f3")).expect("test step");
    let after = fs::read(reg.path()).expect("test step");
    assert!(after.starts_with(&whole) && after.ends_with(b"\n"));
    let fps: Vec<_> = reg
        .list()
        .expect("test step")
        .into_iter()
        .map(|c| c.fingerprint)
        .collect();
    assert_eq!(fps, ["f1", "f2", "f3"]);

    // A log that is nothing but a torn line.
    fs::write(reg.path(), b"{\"iss").expect("test step");
    assert!(reg.list().expect("test step").is_empty());
    reg.record(cert("web", "f4")).expect("test step");
    assert_eq!(reg.list().expect("test step").len(), 1);
}

#[test]
fn damaged_line_is_an_error_naming_file_and_line() {
    let dir = TestDir::new("registry-damaged");
    let reg = Registry::new(&dir);
    reg.record(cert("web", "f1")).expect("test step");
    let good = fs::read_to_string(reg.path()).expect("test step");
    fs::write(reg.path(), format!("{good}garbage\n{good}")).expect("test step");
    for e in [
        reg.list().expect_err("must fail").to_string(),
        reg.record(cert("db", "f2"))
            .and_then(|()| reg.revoke("web").map(drop))
            .expect_err("must fail")
            .to_string(),
    ] {
        assert!(
            e.ends_with("registry.jsonl:2:1: damaged registry entry: expected value"),
            "{e}"
        );
    }
}

#[test]
fn ten_thousand_records_append_linearly() {
    const N: usize = 10_000;
    let dir = TestDir::new("registry-linear");
    let reg = Registry::new(&dir);
    let make = |i: usize| AgentCert {
        host: format!("agent-{i:05}"),
        serial: format!("{i:032x}"),
        fingerprint: format!("{i:064x}"),
        issued_at: 1_800_000_000,
        revoked_at: None,
    };
    use std::os::unix::fs::MetadataExt;
    reg.record(make(0)).expect("test step");
    let first = fs::metadata(reg.path()).expect("test step");
    let line = first.len();
    for i in 1..N {
        reg.record(make(i)).expect("test step");
        if i + 1 == N / 2 {
            let size = fs::metadata(reg.path()).expect("test step").len();
            assert_eq!(size, line * (N / 2) as u64);
        }
    }
    // The same file throughout (a rewrite renames a new one into place),
    // grown by exactly one line per record: N records wrote N lines, where
    // rewriting the whole list each time wrote ~N²/2.
    let last = fs::metadata(reg.path()).expect("test step");
    assert_eq!(last.ino(), first.ino());
    assert_eq!(last.len(), line * N as u64);
    let certs = reg.list().expect("test step");
    assert_eq!(certs.len(), N);
    assert_eq!(certs[N - 1], make(N - 1));
}
