//! Nagios 4 (Debian's nagios4-core) on the workload: a generated
//! nagios.cfg and object file in a scratch directory, the daemon run in the
//! foreground (`nagios4 CFG`).
//!
//! Intervals are in seconds (`interval_length=1`), checks unlimited
//! (`max_concurrent_checks=0`), results reaped every second, nothing
//! notifies, hosts are not checked. The one extra is the service perfdata
//! file the rates and latencies are read from.

use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::daemon::Spec;
use super::Services;

/// Debian's Nagios 4 daemon.
pub const BIN: &str = "/usr/sbin/nagios4";

/// Writes `dir/nagios.cfg` and `dir/objects.cfg` for `services` and
/// returns the main config's path.
///
/// # Errors
/// When a file cannot be written.
pub fn write_config(dir: &Path, services: &Services) -> anyhow::Result<PathBuf> {
    let d = dir.display();
    std::fs::create_dir_all(dir.join("perf"))?;
    std::fs::create_dir_all(dir.join("checkresults"))?;
    let main = format!(
        "cfg_file={d}/objects.cfg
log_file={d}/nagios.log
object_cache_file={d}/objects.cache
precached_object_file={d}/objects.precache
status_file={d}/status.dat
temp_file={d}/nagios.tmp
temp_path={d}
lock_file={d}/nagios.lock
state_retention_file={d}/retention.dat
retain_state_information=0
check_result_path={d}/checkresults
nagios_user=root
nagios_group=root
check_external_commands=0
interval_length=1
max_concurrent_checks=0
check_result_reaper_frequency=1
enable_notifications=0
enable_event_handlers=0
enable_flap_detection=0
execute_host_checks=0
use_syslog=0
log_initial_states=0
enable_environment_macros=0
illegal_macro_output_chars=`~$&|'\"<>
process_performance_data=1
service_perfdata_file={d}/perf/service.dat
service_perfdata_file_template=$TIMET$\\t$SERVICELATENCY$\\t$SERVICESTATEID$
service_perfdata_file_mode=a
"
    );
    let path = dir.join("nagios.cfg");
    std::fs::write(&path, main)?;
    std::fs::write(dir.join("objects.cfg"), objects(services)?)?;
    Ok(path)
}

/// The object file: one command, hosts in the `all` group (the last, when
/// it holds fewer services, in `rest`), services attached by host group.
fn objects(s: &Services) -> Result<String, std::fmt::Error> {
    let mut t = String::with_capacity(s.hosts() * 120 + 4096);
    let days = [
        "sunday",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
    ];
    writeln!(
        t,
        "define timeperiod {{\n  timeperiod_name always\n  alias always"
    )?;
    for day in days {
        writeln!(t, "  {day} 00:00-24:00")?;
    }
    writeln!(t, "}}")?;
    writeln!(
        t,
        "define command {{\n  command_name c\n  command_line {}\n}}",
        s.line
    )?;
    writeln!(
        t,
        "define command {{\n  command_name nop\n  command_line /bin/true\n}}"
    )?;
    writeln!(
        t,
        "define contact {{
  contact_name nobody
  host_notifications_enabled 0
  service_notifications_enabled 0
  host_notification_period always
  service_notification_period always
  host_notification_options n
  service_notification_options n
  host_notification_commands nop
  service_notification_commands nop
}}"
    )?;
    writeln!(
        t,
        "define hostgroup {{\n  hostgroup_name all\n  alias all\n}}"
    )?;
    writeln!(
        t,
        "define hostgroup {{\n  hostgroup_name rest\n  alias rest\n}}"
    )?;
    let last = s.on_last_host();
    for h in 0..s.hosts() {
        let g = if h + 1 == s.hosts() && last < Services::PER_HOST {
            "rest"
        } else {
            "all"
        };
        writeln!(
            t,
            "define host {{
  host_name h{h}
  address {}
  hostgroups {g}
  max_check_attempts 1
  check_period always
  active_checks_enabled 0
  notifications_enabled 0
  contacts nobody
  notification_period always
}}",
            super::PEER
        )?;
    }
    let secs = whole_seconds(s.interval);
    for i in 0..Services::PER_HOST.min(s.count) {
        let groups = if i < last { "all,rest" } else { "all" };
        writeln!(
            t,
            "define service {{
  hostgroup_name {groups}
  service_description s{i}
  check_command c
  check_interval {secs}
  retry_interval {secs}
  max_check_attempts 1
  check_period always
  notifications_enabled 0
  contacts nobody
  notification_period always
}}"
        )?;
    }
    Ok(t)
}

fn whole_seconds(d: Duration) -> u64 {
    d.as_secs().max(1)
}

/// How to run Nagios on the config [`write_config`] wrote in `dir`.
pub fn spec(dir: &Path, cfg: &Path) -> Spec {
    Spec {
        name: "nagios4",
        program: BIN.into(),
        args: vec![cfg.into()],
        ready_file: dir.join("nagios.log"),
        // Logged after the objects are loaded, as the event loop starts.
        ready: "Successfully launched command file worker",
        perf_dir: dir.join("perf"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The generated config passes Nagios's own pre-flight check with no
    /// warning, for a full and a partly filled last host.
    #[test]
    fn nagios_accepts_the_generated_config() {
        assert!(
            Path::new(BIN).exists(),
            "{BIN} is missing: apt-get install nagios4-core (or run .ci/deps)"
        );
        for count in [60, 47] {
            let dir = crate::scenario::scratch(&format!("nagios-cfg-{count}")).expect("dir");
            let s = Services {
                line: "/usr/lib/nagios/plugins/check_tcp -H 127.54.0.1 -p 80".into(),
                count,
                interval: Duration::from_secs(10),
            };
            let cfg = write_config(&dir, &s).expect("write");
            let out = std::process::Command::new(BIN)
                .arg("-v")
                .arg(&cfg)
                .output()
                .expect("run nagios4 -v");
            let text = String::from_utf8_lossy(&out.stdout);
            let _ = std::fs::remove_dir_all(&dir);
            assert!(out.status.success(), "nagios4 -v failed:\n{text}");
            assert!(text.contains("Total Warnings: 0"), "{text}");
            assert!(
                text.contains(&format!("Checked {count} services")),
                "want {count} services:\n{text}"
            );
        }
    }
}
