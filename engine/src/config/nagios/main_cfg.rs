//! The Nagios main config (`nagios.cfg`) and its resource files.
//!
//! Only a few directives matter to Vedette: where the objects are
//! (`cfg_file`, `cfg_dir`), the `$USERn$` macros (`resource_file`), the time
//! unit of intervals (`interval_length`) and the check timeout
//! (`service_check_timeout`, `service_check_timeout_state`). Every other
//! directive Nagios 4 knows is accepted and named in one warning; a line
//! Nagios would reject (no `=`, an unknown name) is an error, as in
//! `read_main_config_file`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::check::Status;
use crate::config::error::{ConfigError, ConfigErrors};

/// Main-config directives Nagios 4.4 knows and Vedette has no use for
/// (`base/config.c`, `read_main_config_file`, including the obsolete ones it
/// still accepts).
const IGNORED: &[&str] = &[
    "log_file",
    "debug_level",
    "debug_verbosity",
    "debug_file",
    "max_debug_file_size",
    "command_file",
    "temp_file",
    "temp_path",
    "check_result_path",
    "max_check_result_file_age",
    "lock_file",
    "global_host_event_handler",
    "global_service_event_handler",
    "ocsp_command",
    "ochp_command",
    "nagios_user",
    "nagios_group",
    "admin_email",
    "admin_pager",
    "use_syslog",
    "log_notifications",
    "log_service_retries",
    "log_host_retries",
    "log_event_handlers",
    "log_external_commands",
    "log_passive_checks",
    "log_initial_states",
    "log_current_states",
    "use_retained_program_state",
    "use_retained_scheduling_info",
    "retention_scheduling_horizon",
    "additional_freshness_latency",
    "retained_host_attribute_mask",
    "retained_service_attribute_mask",
    "retained_process_host_attribute_mask",
    "retained_process_service_attribute_mask",
    "retained_contact_host_attribute_mask",
    "retained_contact_service_attribute_mask",
    "obsess_over_services",
    "obsess_over_hosts",
    "translate_passive_host_checks",
    "passive_host_checks_are_soft",
    "host_check_timeout",
    "event_handler_timeout",
    "notification_timeout",
    "ocsp_timeout",
    "ochp_timeout",
    "perfdata_timeout",
    "use_agressive_host_checking",
    "use_aggressive_host_checking",
    "cached_host_check_horizon",
    "enable_predictive_host_dependency_checks",
    "cached_service_check_horizon",
    "enable_predictive_service_dependency_checks",
    "soft_state_dependencies",
    "log_rotation_method",
    "log_archive_path",
    "enable_event_handlers",
    "enable_notifications",
    "execute_service_checks",
    "accept_passive_service_checks",
    "execute_host_checks",
    "accept_passive_host_checks",
    "service_inter_check_delay_method",
    "max_service_check_spread",
    "host_inter_check_delay_method",
    "max_host_check_spread",
    "service_interleave_factor",
    "max_concurrent_checks",
    "check_result_reaper_frequency",
    "service_reaper_frequency",
    "max_check_result_reaper_time",
    "sleep_time",
    "check_external_commands",
    "command_check_interval",
    "check_for_orphaned_services",
    "check_for_orphaned_hosts",
    "check_service_freshness",
    "check_host_freshness",
    "service_freshness_check_interval",
    "host_freshness_check_interval",
    "auto_reschedule_checks",
    "auto_rescheduling_interval",
    "auto_rescheduling_window",
    "status_update_interval",
    "process_performance_data",
    "enable_flap_detection",
    "enable_failure_prediction",
    "low_service_flap_threshold",
    "high_service_flap_threshold",
    "low_host_flap_threshold",
    "high_host_flap_threshold",
    "date_format",
    "use_timezone",
    "p1_file",
    "event_broker_options",
    "illegal_object_name_chars",
    "illegal_macro_output_chars",
    "broker_module",
    "use_regexp_matching",
    "use_true_regexp_matching",
    "daemon_dumps_core",
    "use_large_installation_tweaks",
    "enable_environment_macros",
    "free_child_process_memory",
    "child_processes_fork_twice",
    "enable_embedded_perl",
    "use_embedded_perl_implicitly",
    "external_command_buffer_slots",
    "check_for_updates",
    "bare_update_check",
    "query_socket",
    "check_workers",
    "allow_empty_hostgroup_assignment",
    "host_down_disable_service_checks",
    "service_skip_check_dependency_status",
    "service_skip_check_parent_status",
    "service_skip_check_host_down_status",
    "host_skip_check_dependency_status",
    "status_file",
    "object_cache_file",
    "precached_object_file",
    "state_retention_file",
    "host_perfdata_command",
    "service_perfdata_command",
    "host_perfdata_file",
    "service_perfdata_file",
    "host_perfdata_file_template",
    "service_perfdata_file_template",
    "host_perfdata_file_mode",
    "service_perfdata_file_mode",
    "host_perfdata_file_processing_interval",
    "service_perfdata_file_processing_interval",
    "host_perfdata_file_processing_command",
    "service_perfdata_file_processing_command",
    "host_perfdata_process_empty_results",
    "service_perfdata_process_empty_results",
    "loadctl_options",
    "website_url",
    "auth_file",
    "time_change_threshold",
];

/// What `nagios.cfg` contributes to the model.
#[derive(Debug, Clone, PartialEq)]
pub struct MainConfig {
    /// Object files and directories, in the order they were named.
    pub sources: Vec<Source>,
    /// `$USERn$` values, index 0 = `$USER1$`.
    pub user_macros: Vec<Option<String>>,
    /// Seconds in one interval unit (`interval_length`).
    pub interval_length: f64,
    /// `service_check_timeout`.
    pub check_timeout: Option<Duration>,
    /// `service_check_timeout_state`.
    pub timeout_status: Option<Status>,
    /// `retain_state_information`.
    pub retain_state: Option<bool>,
    /// `retention_update_interval` (minutes; 0: only at shutdown, which
    /// Vedette reads as its longest interval).
    pub retention_interval: Option<Duration>,
    /// Directives accepted and ignored, in first-seen order.
    pub ignored: Vec<String>,
}

/// Where object definitions come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `cfg_file=`: one file, with the main config's line naming it.
    File(PathBuf, u32),
    /// `cfg_dir=`: every `*.cfg` below it.
    Dir(PathBuf, u32),
}

/// The most `$USERn$` macros Nagios has (`MAX_USER_MACROS`).
const MAX_USER_MACROS: usize = 256;

/// True when `src` looks like a main config rather than an object file.
pub fn is_main_config(src: &str) -> bool {
    let mut has_define = false;
    for line in src.lines().map(str::trim) {
        if ["cfg_file=", "cfg_dir=", "resource_file="]
            .iter()
            .any(|p| line.starts_with(p))
        {
            return true;
        }
        has_define |= line.starts_with("define");
    }
    !has_define
}

/// Resolves `p` against the main config's directory.
fn resolve(base: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

/// Parses `nagios.cfg` (already read into `src`) and the resource files it
/// names, pushing every error.
pub fn parse(path: &Path, src: &str, errors: &mut ConfigErrors) -> MainConfig {
    let base = path.parent().unwrap_or(Path::new("."));
    let mut cfg = MainConfig {
        sources: Vec::new(),
        user_macros: vec![None; MAX_USER_MACROS],
        interval_length: 60.0,
        check_timeout: None,
        timeout_status: None,
        retain_state: None,
        retention_interval: None,
        ignored: Vec::new(),
    };
    for (idx, raw) in src.lines().enumerate() {
        let n = u32::try_from(idx + 1).unwrap_or(u32::MAX);
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            errors.push(ConfigError::at(
                path,
                n,
                format!("expected 'directive=value', found '{line}'"),
            ));
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        let bad = |what: &str| ConfigError::at(path, n, format!("bad {key} '{value}': {what}"));
        match key {
            "cfg_file" => cfg.sources.push(Source::File(resolve(base, value), n)),
            "cfg_dir" => cfg.sources.push(Source::Dir(resolve(base, value), n)),
            "resource_file" => {
                read_resource(&resolve(base, value), path, n, &mut cfg.user_macros, errors)
            }
            "interval_length" => match value.parse::<f64>() {
                Ok(v) if v.is_finite() && v > 0.0 => cfg.interval_length = v,
                _ => errors.push(bad("expected a positive number of seconds")),
            },
            "service_check_timeout" => match value.parse::<u64>() {
                Ok(v) if v > 0 => cfg.check_timeout = Some(Duration::from_secs(v)),
                _ => errors.push(bad("expected a positive number of seconds")),
            },
            "retain_state_information" => match value {
                "0" => cfg.retain_state = Some(false),
                "1" => cfg.retain_state = Some(true),
                _ => errors.push(bad("expected 0 or 1")),
            },
            "retention_update_interval" => match value.parse::<u64>() {
                // 0 means no periodic saves in Nagios; a day is close enough
                // (states are always saved at shutdown).
                Ok(0) => cfg.retention_interval = Some(Duration::from_secs(86_400)),
                Ok(m) if m <= 10_080 => cfg.retention_interval = Some(Duration::from_secs(m * 60)),
                _ => errors.push(bad("expected minutes, 0 to 10080")),
            },
            "service_check_timeout_state" => match value {
                "c" => cfg.timeout_status = Some(Status::Critical),
                "u" => cfg.timeout_status = Some(Status::Unknown),
                "w" => cfg.timeout_status = Some(Status::Warning),
                "o" => cfg.timeout_status = Some(Status::Ok),
                _ => errors.push(bad("expected one of c, u, w, o")),
            },
            // Nagios 4 skips every directive starting with `x`: options of
            // the old external data modules (`xrddefault_retention_file`).
            _ if IGNORED.contains(&key) || key.starts_with('x') => {
                if !cfg.ignored.iter().any(|k| k == key) {
                    cfg.ignored.push(key.to_string());
                }
            }
            _ => errors.push(ConfigError::at(
                path,
                n,
                format!("unknown main config directive '{key}'"),
            )),
        }
    }
    cfg
}

/// Reads a resource file: `$USERn$=value` lines, `#` comments.
fn read_resource(
    file: &Path,
    main: &Path,
    main_line: u32,
    macros: &mut [Option<String>],
    errors: &mut ConfigErrors,
) {
    let src = match std::fs::read_to_string(file) {
        Ok(s) => s,
        Err(e) => {
            let msg = format!("cannot read resource file {}: {e}", file.display());
            errors.push(ConfigError::at(main, main_line, msg));
            return;
        }
    };
    for (idx, raw) in src.lines().enumerate() {
        let n = u32::try_from(idx + 1).unwrap_or(u32::MAX);
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let slot = line
            .split_once('=')
            .and_then(|(k, v)| Some((user_index(k.trim())?, v.trim())))
            .and_then(|(i, v)| Some((macros.get_mut(i)?, v)));
        match slot {
            Some((slot, v)) => *slot = Some(v.to_string()),
            None => errors.push(ConfigError::at(
                file,
                n,
                format!("expected '$USERn$=value' with n in 1..=256, found '{line}'"),
            )),
        }
    }
}

/// `$USER12$` → 11.
fn user_index(name: &str) -> Option<usize> {
    let n: usize = name
        .strip_prefix("$USER")?
        .strip_suffix('$')?
        .parse()
        .ok()?;
    n.checked_sub(1).filter(|&i| i < MAX_USER_MACROS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_main_config_from_object_file() {
        let table = [
            ("cfg_file=x.cfg\n", true),
            ("log_file=/x\n", true),
            ("define host {\n}\n", false),
            ("# define host\ninterval_length=60\n", true),
        ];
        for (src, want) in table {
            assert_eq!(is_main_config(src), want, "src {src:?}");
        }
    }

    #[test]
    fn user_macro_index() {
        let table = [
            ("$USER1$", Some(0)),
            ("$USER256$", Some(255)),
            ("$USER0$", None),
            ("$USER257$", None),
            ("USER1", None),
        ];
        for (name, want) in table {
            assert_eq!(user_index(name), want, "name {name}");
        }
    }

    #[test]
    fn reads_settings_and_reports_bad_lines() {
        let src = "interval_length=0.5\nservice_check_timeout=30\nservice_check_timeout_state=c\nlog_file=/x\nuse_syslog=1\nlog_file=/y\ngarbage\nfoo=1\ninterval_length=x\ncfg_dir=objs\nretain_state_information=0\nretention_update_interval=15\nretain_state_information=yes\n";
        let mut errors = ConfigErrors::default();
        let cfg = parse(Path::new("/etc/n/nagios.cfg"), src, &mut errors);
        assert_eq!(cfg.interval_length, 0.5);
        assert_eq!(cfg.check_timeout, Some(Duration::from_secs(30)));
        assert_eq!(cfg.timeout_status, Some(Status::Critical));
        assert_eq!(cfg.retain_state, Some(false));
        assert_eq!(cfg.retention_interval, Some(Duration::from_secs(900)));
        assert_eq!(
            cfg.ignored,
            vec!["log_file".to_string(), "use_syslog".to_string()]
        );
        assert_eq!(
            cfg.sources,
            vec![Source::Dir(PathBuf::from("/etc/n/objs"), 10)]
        );
        let errs: Vec<String> = errors.0.iter().map(ToString::to_string).collect();
        assert_eq!(
            errs,
            vec![
                "/etc/n/nagios.cfg:7: expected 'directive=value', found 'garbage'",
                "/etc/n/nagios.cfg:8: unknown main config directive 'foo'",
                "/etc/n/nagios.cfg:9: bad interval_length 'x': expected a positive number of seconds",
                "/etc/n/nagios.cfg:13: bad retain_state_information 'yes': expected 0 or 1",
            ]
        );
    }
}
