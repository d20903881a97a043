//! The engine configurations the agent benchmarks run against.

use std::fmt::Write;
use std::path::{Path, PathBuf};

/// Writes `agents` hosts `a0..` with `agent = true`, each with `services`
/// services `s0..` (attached through one host group so the file stays
/// small), all checking `check_dummy 0`: the agent is simulated, the
/// command only has to be valid.
pub fn write_fleet(dir: &Path, agents: usize, services: usize) -> anyhow::Result<PathBuf> {
    let mut t = String::with_capacity(agents * 64 + 1024);
    engine_table(&mut t)?;
    writeln!(
        t,
        "[commands.c]\nline = \"/usr/lib/nagios/plugins/check_dummy 0\"\n[hostgroups.all]"
    )?;
    for h in 0..agents {
        writeln!(
            t,
            "[hosts.{}]\naddress = \"127.0.0.1\"\nagent = true\ngroups = [\"all\"]",
            host_name(h)
        )?;
    }
    for s in 0..services {
        writeln!(
            t,
            "[[services]]\nhostgroups = [\"all\"]\nname = \"s{s}\"\ncheck = \"c\"\ncheck_interval = \"60s\""
        )?;
    }
    let path = dir.join("hub-bench.toml");
    std::fs::write(&path, t)?;
    Ok(path)
}

/// The name of simulated agent `i`.
pub fn host_name(i: usize) -> String {
    format!("a{i}")
}

/// Writes one agent host `host` with the given `(name, command line)`
/// services at `interval`.
pub fn write_single(
    dir: &Path,
    host: &str,
    interval: &str,
    services: &[(String, String)],
) -> anyhow::Result<PathBuf> {
    let mut t = String::new();
    engine_table(&mut t)?;
    writeln!(t, "[hosts.{host}]\naddress = \"127.0.0.1\"\nagent = true")?;
    for (i, (name, line)) in services.iter().enumerate() {
        writeln!(
            t,
            "[commands.c{i}]\nline = \"{line}\"\n[[services]]\nhost = \"{host}\"\nname = \"{name}\"\ncheck = \"c{i}\"\ncheck_interval = \"{interval}\"\nretry_interval = \"{interval}\""
        )?;
    }
    let path = dir.join("footprint.toml");
    std::fs::write(&path, t)?;
    Ok(path)
}

/// No host checks of the engine's own (only the agents count) and no
/// state file written at the end.
fn engine_table(t: &mut String) -> std::fmt::Result {
    writeln!(
        t,
        "[engine]\ndefault_host_check = false\nretain_state = false"
    )
}
