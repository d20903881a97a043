//! `vedette agent token|list|revoke` run as the real binary against a
//! temporary state directory, with the library's redeem and sign steps (the
//! hub's side) in between; certificates checked by rustls' webpki verifier
//! and by the `openssl verify` CLI.

use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;
use vedette::hub::ca::Ca;
use vedette::hub::registry::Registry;
use vedette::hub::tokens::{TokenError, TokenStore};

use crate::support::{vedette, TempDir};

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "vedette failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `vedette agent token` and returns the token from its last line.
fn token(dir: &TempDir, host: &str, ttl: &str) -> String {
    let state = dir.path().to_str().expect("utf-8 temp path");
    let out = ok(&vedette(&[
        "agent",
        "token",
        "--host",
        host,
        "--ttl",
        ttl,
        "--state-dir",
        state,
    ]));
    let last = out.lines().last().expect("token output has lines").trim();
    let token = vedette_proto::wire::Token::parse(last)
        .unwrap_or_else(|e| panic!("last line is the token ({e}): {out}"));
    let ca = vedette::hub::ca::Ca::open(dir.path()).expect("CA");
    assert_eq!(token.ca_pin, ca.fingerprint(), "the token pins the CA");
    last.to_string()
}

fn csr(asked_name: &str) -> String {
    let key = rcgen::KeyPair::generate().expect("key");
    let params = rcgen::CertificateParams::new(vec![asked_name.to_string()]).expect("params");
    params
        .serialize_request(&key)
        .expect("csr")
        .pem()
        .expect("pem")
}

fn der(pem: &str) -> Vec<u8> {
    x509_parser::pem::parse_x509_pem(pem.as_bytes())
        .expect("PEM")
        .1
        .contents
}

#[test]
fn agent_token_last_line_redeems_once() {
    let dir = TempDir::new("agent-token");
    let t = token(&dir, "web-01", "1h");
    let store = TokenStore::new(dir.path());
    assert_eq!(store.redeem(&t).expect("first redeem"), "web-01");
    match store.redeem(&t) {
        Err(TokenError::AlreadyUsed { host }) => assert_eq!(host, "web-01"),
        other => panic!("second redeem must fail as already used, got {other:?}"),
    }
    assert!(matches!(
        store.redeem(&"0".repeat(64)),
        Err(TokenError::Unknown)
    ));
}

#[test]
fn agent_token_expires() {
    let dir = TempDir::new("agent-expire");
    let t = token(&dir, "db", "1s");
    std::thread::sleep(Duration::from_millis(2100));
    match TokenStore::new(dir.path()).redeem(&t) {
        Err(TokenError::Expired { host }) => assert_eq!(host, "db"),
        other => panic!("an expired token must fail as expired, got {other:?}"),
    }
}

#[test]
fn agent_token_bad_host_and_ttl_fail_clearly() {
    let dir = TempDir::new("agent-bad");
    let state = dir.path().to_str().expect("utf-8 temp path");
    let out = vedette(&["agent", "token", "--host", "a b", "--state-dir", state]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid host name"));
    let out = vedette(&[
        "agent",
        "token",
        "--host",
        "ok",
        "--ttl",
        "soon",
        "--state-dir",
        state,
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--ttl"));
    for (ttl, says) in [
        ("99999999999d", "at most 30 days"),
        ("0.5s", "at least one second"),
    ] {
        let out = vedette(&[
            "agent",
            "token",
            "--host",
            "ok",
            "--ttl",
            ttl,
            "--state-dir",
            state,
        ]);
        assert_eq!(out.status.code(), Some(1), "{ttl}: an error, not a panic");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{ttl}: {err}");
    }
}

#[test]
fn agent_ca_is_reused_across_runs() {
    let dir = TempDir::new("agent-ca");
    token(&dir, "a", "1h");
    let crt = dir.path().join("agents/ca.crt");
    let first = std::fs::read_to_string(&crt).expect("ca.crt after first run");
    token(&dir, "b", "1h");
    assert_eq!(std::fs::read_to_string(&crt).expect("ca.crt"), first);
    assert_eq!(Ca::open(dir.path()).expect("open CA").cert_pem(), first);

    // The printed CA fingerprint is the one openssl computes.
    let state = dir.path().to_str().expect("utf-8 temp path");
    let out = ok(&vedette(&[
        "agent",
        "token",
        "--host",
        "c",
        "--state-dir",
        state,
    ]));
    let fp = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(&crt)
        .output()
        .expect("run openssl (Debian package openssl)");
    let fp = String::from_utf8_lossy(&fp.stdout);
    let hex: String = fp
        .split('=')
        .nth(1)
        .expect("openssl prints name=fingerprint")
        .trim()
        .replace(':', "")
        .to_lowercase();
    assert_eq!(hex.len(), 64, "{fp}");
    assert!(out.contains(&hex), "fingerprint {hex} in:\n{out}");

    std::fs::write(dir.path().join("agents/ca.key"), "broken").expect("write");
    let out = vedette(&["agent", "token", "--host", "c", "--state-dir", state]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ca.key") && err.contains("damaged"), "{err}");
}

#[test]
fn agent_csr_signed_for_token_host_and_verified() {
    let dir = TempDir::new("agent-sign");
    let t = token(&dir, "web-01", "1h");
    let host = TokenStore::new(dir.path()).redeem(&t).expect("redeem");
    let ca = Ca::open(dir.path()).expect("open CA");
    let cert_pem = ca.sign_csr(&csr("evil.example"), &host).expect("sign");

    let bytes = der(&cert_pem);
    let (_, cert) = x509_parser::parse_x509_certificate(&bytes).expect("x509");
    let cn = cert.subject().iter_common_name().next().expect("a CN");
    assert_eq!(cn.as_str().expect("CN text"), "web-01");
    assert!(!cert_pem.contains("evil"));
    let eku = cert.extended_key_usage().expect("eku").expect("has eku");
    assert!(eku.value.client_auth);

    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(der(ca.cert_pem())))
        .expect("CA root");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .expect("verifier");
    verifier
        .verify_client_cert(&CertificateDer::from(bytes), &[], UnixTime::now())
        .expect("webpki accepts the agent certificate as a client cert");

    let crt = dir.path().join("agent.crt");
    std::fs::write(&crt, &cert_pem).expect("write agent.crt");
    let out = Command::new("openssl")
        .arg("verify")
        .arg("-purpose")
        .arg("sslclient")
        .arg("-CAfile")
        .arg(dir.path().join("agents/ca.crt"))
        .arg(&crt)
        .output()
        .expect("run openssl (Debian package openssl)");
    assert!(
        out.status.success(),
        "openssl verify: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new("openssl")
        .args(["verify", "-purpose", "sslserver", "-CAfile"])
        .arg(dir.path().join("agents/ca.crt"))
        .arg(&crt)
        .output()
        .expect("run openssl");
    assert!(!out.status.success(), "an agent cert is no server cert");
}

#[test]
fn agent_revoke_shows_in_list() {
    let dir = TempDir::new("agent-revoke");
    let state = dir.path().to_str().expect("utf-8 temp path");
    let ca = Ca::open(dir.path()).expect("open CA");
    for host in ["web-01", "db-01"] {
        ca.sign_csr(&csr(host), host).expect("sign");
    }
    let list = ok(&vedette(&["agent", "list", "--state-dir", state]));
    let row = |list: &str, host: &str| -> Vec<String> {
        list.lines()
            .find(|l| l.starts_with(host))
            .unwrap_or_else(|| panic!("{host} listed:\n{list}"))
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    assert_eq!(row(&list, "web-01")[2], "-", "{list}");

    let out = ok(&vedette(&[
        "agent",
        "revoke",
        "web-01",
        "--state-dir",
        state,
    ]));
    assert!(out.contains("Revoked 1"), "{out}");
    let list = ok(&vedette(&["agent", "list", "--state-dir", state]));
    assert_ne!(row(&list, "web-01")[2], "-", "{list}");
    assert_eq!(row(&list, "db-01")[2], "-", "{list}");
    let reg = Registry::new(dir.path());
    assert!(reg.is_revoked("web-01").expect("registry"));
    assert!(!reg.is_revoked("db-01").expect("registry"));

    let out = vedette(&["agent", "revoke", "nobody", "--state-dir", state]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no agent certificate"));
}
