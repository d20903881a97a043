//! `vedette agent token|list|revoke`: enrolment tokens and agent
//! certificates, on the files in the state directory (no running engine
//! needed; a running one sees the changes).

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use vedette::hub::ca::Ca;
use vedette::hub::registry::Registry;
use vedette::hub::tokens::TokenStore;
use vedette::hub::unix_utc;

/// Prints a one-time token enrolling `host`; the token is the last line, so
/// scripts can take it with `tail -n1`.
pub fn token(state_dir: &Path, host: &str, ttl: Duration) -> anyhow::Result<ExitCode> {
    // The token is only useful against this CA, so make sure it exists.
    let ca = Ca::open(state_dir)?;
    let issued = TokenStore::new(state_dir).issue(host, ttl)?;
    println!(
        "Enrolment token for host {host}, usable once, until {}.",
        unix_utc(issued.expires_at)
    );
    println!(
        "CA {} (SHA-256 {}).",
        ca.dir().join("ca.crt").display(),
        ca.fingerprint()
    );
    // The agent pins the CA by this fingerprint before it sends the secret.
    println!("{}.{}", issued.token, ca.fingerprint());
    Ok(ExitCode::SUCCESS)
}

/// Prints every issued agent certificate: host, issued, revoked, serial.
pub fn list(state_dir: &Path) -> anyhow::Result<ExitCode> {
    let certs = Registry::new(state_dir).list()?;
    if certs.is_empty() {
        println!("No agent certificates issued.");
        return Ok(ExitCode::SUCCESS);
    }
    let width = certs.iter().map(|c| c.host.len()).max().unwrap_or(4).max(4);
    println!(
        "{:width$}  {:20}  {:20}  SERIAL",
        "HOST", "ISSUED", "REVOKED"
    );
    for c in &certs {
        let revoked = c.revoked_at.map_or_else(|| "-".to_string(), unix_utc);
        println!(
            "{:width$}  {:20}  {:20}  {}",
            c.host,
            unix_utc(c.issued_at),
            revoked,
            c.serial
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Marks every certificate of `host` revoked.
pub fn revoke(state_dir: &Path, host: &str) -> anyhow::Result<ExitCode> {
    let n = Registry::new(state_dir)
        .revoke(host)
        .with_context(|| format!("cannot revoke {host}"))?;
    if n == 0 {
        println!("Agent {host} was already revoked.");
    } else {
        println!("Revoked {n} certificate(s) of agent {host}.");
    }
    Ok(ExitCode::SUCCESS)
}
