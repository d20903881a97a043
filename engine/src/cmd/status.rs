//! `vedette status`: a table of current states from a running engine.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context;
use serde_json::Value;

use vedette::api::client;

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

fn get(api: SocketAddr, path: &str) -> anyhow::Result<Vec<Value>> {
    let answer = client::request(api, "GET", path, None)?;
    if answer.status != 200 {
        anyhow::bail!("API answered {} on {path}: {}", answer.status, answer.body);
    }
    serde_json::from_str(&answer.body).with_context(|| format!("bad JSON from {path}"))
}

/// Prints hosts then services; with `problems`, only what is not UP/OK.
pub fn status(api: SocketAddr, problems: bool) -> anyhow::Result<ExitCode> {
    let hosts = get(api, "/v1/hosts")?;
    let services = get(api, "/v1/services")?;
    let mut rows: Vec<[String; 5]> = Vec::new();
    for h in hosts.iter().filter(|h| !problems || s(h, "state") != "UP") {
        rows.push([
            s(h, "name").into(),
            String::new(),
            state(h),
            attempt(h),
            s(h, "output").into(),
        ]);
    }
    for v in services
        .iter()
        .filter(|v| !problems || s(v, "state") != "OK")
    {
        rows.push([
            s(v, "host").into(),
            s(v, "name").into(),
            state(v),
            attempt(v),
            s(v, "output").into(),
        ]);
    }
    let header = ["HOST", "SERVICE", "STATE", "ATTEMPT", "OUTPUT"].map(String::from);
    let mut widths = [0usize; 4];
    for r in std::iter::once(&header).chain(&rows) {
        for (w, c) in widths.iter_mut().zip(r.iter()) {
            *w = (*w).max(c.chars().count());
        }
    }
    for r in std::iter::once(&header).chain(&rows) {
        println!(
            "{:w0$}  {:w1$}  {:w2$}  {:w3$}  {}",
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3]
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn state(v: &Value) -> String {
    if v.get("checked").and_then(Value::as_bool) == Some(false) {
        return "PENDING".into();
    }
    format!("{} {}", s(v, "state"), s(v, "state_type"))
}

fn attempt(v: &Value) -> String {
    let a = v.get("attempt").and_then(Value::as_u64).unwrap_or(0);
    let m = v.get("max_attempts").and_then(Value::as_u64).unwrap_or(0);
    format!("{a}/{m}")
}
