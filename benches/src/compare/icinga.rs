//! Icinga 2 (Debian's icinga2) on the workload: a generated icinga2.conf
//! (its own constants, zone and endpoint, the `checker` feature, a
//! perfdata writer for the figures) and every path Icinga writes to moved
//! into a scratch directory, run in the foreground (`icinga2 daemon -c`).

use std::ffi::OsString;
use std::fmt::Write;
use std::path::{Path, PathBuf};

use super::daemon::Spec;
use super::Services;

/// Debian's icinga2 wrapper, which execs the daemon.
pub const BIN: &str = "/usr/sbin/icinga2";

/// Icinga's default: at most this many checks run at once.
const MAX_CONCURRENT_CHECKS: usize = 512;

/// Writes `dir/icinga2.conf` for `services` and returns its path.
///
/// # Errors
/// When a file cannot be written.
pub fn write_config(dir: &Path, s: &Services) -> anyhow::Result<PathBuf> {
    for sub in ["perf", "lib", "log", "cache", "spool", "run"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    let d = dir.display();
    let mut t = String::with_capacity(s.hosts() * 80 + 4096);
    writeln!(
        t,
        "const NodeName = \"bench.vedette.test\"
const ZoneName = \"bench\"
const TicketSalt = \"\"
const MaxConcurrentChecks = {MAX_CONCURRENT_CHECKS}
object Endpoint NodeName {{ }}
object Zone ZoneName {{ endpoints = [ NodeName ] }}
object CheckerComponent \"checker\" {{ }}
object PerfdataWriter \"figures\" {{
  service_perfdata_path = \"{d}/perf/service\"
  service_temp_path = \"{d}/perf/service.tmp\"
  host_perfdata_path = \"{d}/perf/host\"
  host_temp_path = \"{d}/perf/host.tmp\"
  service_format_template = \"$icinga.timet$\\t$service.latency$\\t$service.state_id$\"
  host_format_template = \"\"
  rotation_interval = 1h
}}
object CheckCommand \"nop\" {{ command = [ \"/bin/true\" ] }}"
    )?;
    let argv: Vec<String> = s
        .line
        .split_whitespace()
        .map(|a| format!("{a:?}"))
        .collect();
    writeln!(
        t,
        "object CheckCommand \"c\" {{ command = [ {} ] }}",
        argv.join(", ")
    )?;
    let last = s.on_last_host();
    for h in 0..s.hosts() {
        let n = if h + 1 == s.hosts() {
            last
        } else {
            Services::PER_HOST
        };
        writeln!(
            t,
            "object Host \"h{h}\" {{ address = \"{}\"; check_command = \"nop\"; enable_active_checks = false; vars.n = {n} }}",
            super::PEER
        )?;
    }
    let secs = s.interval.as_secs().max(1);
    writeln!(
        t,
        "apply Service \"s\" for (i in range(host.vars.n)) {{
  check_command = \"c\"
  check_interval = {secs}s
  retry_interval = {secs}s
  max_check_attempts = 1
  enable_notifications = false
  enable_flapping = false
}}"
    )?;
    let path = dir.join("icinga2.conf");
    std::fs::write(&path, t)?;
    Ok(path)
}

/// The daemon's arguments: the config, and every directory it writes to
/// (state, logs, caches, PID file) inside `dir`, as root.
fn args(dir: &Path, cfg: &Path, validate: bool) -> Vec<OsString> {
    let d = dir.display();
    let mut a: Vec<OsString> = vec!["daemon".into()];
    if validate {
        a.push("-C".into());
    }
    a.extend(["-c".into(), cfg.into()]);
    for (name, path) in [
        ("DataDir", format!("{d}/lib")),
        ("LogDir", format!("{d}/log")),
        ("CacheDir", format!("{d}/cache")),
        ("SpoolDir", format!("{d}/spool")),
        ("InitRunDir", format!("{d}/run")),
        ("PidPath", format!("{d}/run/icinga2.pid")),
        ("StatePath", format!("{d}/lib/icinga2.state")),
        ("ObjectsPath", format!("{d}/cache/icinga2.debug")),
        ("VarsPath", format!("{d}/cache/icinga2.vars")),
        ("RunAsUser", "root".to_string()),
        ("RunAsGroup", "root".to_string()),
    ] {
        a.push(format!("-D{name}={path}").into());
    }
    a
}

/// How to run Icinga on the config [`write_config`] wrote in `dir`.
pub fn spec(dir: &Path, cfg: &Path) -> Spec {
    Spec {
        name: "icinga2",
        program: BIN.into(),
        args: args(dir, cfg, false),
        ready_file: dir.join("icinga2.out"),
        // Logged once every object, the checker included, is running.
        ready: "Activated all objects",
        perf_dir: dir.join("perf"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// The generated config passes `icinga2 daemon -C` and makes exactly
    /// the services asked for.
    #[test]
    fn icinga_accepts_the_generated_config() {
        assert!(
            Path::new(BIN).exists(),
            "{BIN} is missing: apt-get install icinga2 (or run .ci/deps)"
        );
        let count = 47;
        let dir = crate::scenario::scratch("icinga-cfg").expect("dir");
        let s = Services {
            line: "/usr/lib/nagios/plugins/check_http -I 127.54.0.1 -p 80 -u /index.html".into(),
            count,
            interval: Duration::from_secs(10),
        };
        let cfg = write_config(&dir, &s).expect("write");
        let out = std::process::Command::new(BIN)
            .args(args(&dir, &cfg, true))
            .output()
            .expect("run icinga2 daemon -C");
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        let _ = std::fs::remove_dir_all(&dir);
        assert!(out.status.success(), "icinga2 daemon -C failed:\n{text}");
        assert!(
            text.contains(&format!("Instantiated {count} Services")),
            "want {count} services:\n{text}"
        );
    }
}
