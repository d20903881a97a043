//! Which checks each agent runs: built from the model at start and on every
//! reload, handed to the hub's sessions through a watch channel.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use vedette_proto::wire::AssignedCheck;

use crate::model::{Model, SilenceState};

/// One agent host's part of the configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentHost {
    /// The checks its agent runs, sorted by service name.
    pub checks: Arc<[AssignedCheck]>,
    /// The same services' names, to refuse results for anything else.
    pub services: HashSet<Arc<str>>,
    /// Whether the host's own state follows its agent's liveness (an agent
    /// host without a check of its own).
    pub liveness_host: bool,
}

/// Every agent host's assignment, and how silence is judged.
#[derive(Debug, Clone, Default)]
pub struct Assignments {
    /// Agent hosts by name.
    pub hosts: HashMap<Arc<str>, AgentHost>,
    /// Increases with each reload, so sessions can tell a new assignment.
    pub generation: u64,
    /// An agent silent this long is taken as gone.
    pub silence: std::time::Duration,
    /// What silence does.
    pub silence_state: SilenceState,
}

impl Assignments {
    /// The agent hosts of `model`: hosts marked `agent` and hosts with at
    /// least one agent service.
    pub fn from_model(model: &Model, generation: u64) -> Assignments {
        // Host name -> (state follows the agent, checks).
        let mut lists: HashMap<&str, (bool, Vec<AssignedCheck>)> = HashMap::new();
        for h in model.hosts.iter().filter(|h| h.agent) {
            lists.insert(&h.name, (h.check.is_none(), Vec::new()));
        }
        for s in model.services.iter().filter(|s| s.agent) {
            let (Some(check), Some(h)) = (&s.check, model.hosts.get(s.host as usize)) else {
                continue;
            };
            let timeout = check.timeout.unwrap_or(model.settings.check_timeout);
            lists
                .entry(&h.name)
                .or_insert_with(|| (h.agent && h.check.is_none(), Vec::new()))
                .1
                .push(AssignedCheck {
                    service: s.name.clone(),
                    command: check.line.clone(),
                    interval_s: s.schedule.check_interval.as_secs_f64(),
                    retry_interval_s: s.schedule.retry_interval.as_secs_f64(),
                    max_attempts: s.schedule.max_check_attempts,
                    timeout_s: timeout.as_secs_f64(),
                    timeout_status: model.settings.timeout_status as u8,
                });
        }
        let hosts = lists
            .into_iter()
            .map(|(name, (liveness_host, mut list))| {
                list.sort_by(|a, b| a.service.cmp(&b.service));
                let services = list.iter().map(|c| c.service.as_str().into()).collect();
                let host = AgentHost {
                    checks: list.into(),
                    services,
                    liveness_host,
                };
                (Arc::from(name), host)
            })
            .collect();
        Assignments {
            hosts,
            generation,
            silence: model.settings.agent_silence,
            silence_state: model.settings.agent_silence_state,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_hosts_and_services() {
        let dir = crate::hub::TestDir::new("assign");
        std::fs::create_dir_all(&*dir).expect("dir");
        let path = dir.join("a.toml");
        std::fs::write(
            &path,
            r#"
[engine]
agent_silence = "90s"
[commands.load]
line = "check_load -w $ARG1$ -c $ARG2$"
[commands.ping]
line = "/usr/lib/nagios/plugins/check_ping -H $HOSTADDRESS$ -w 1,1% -c 2,2%"
[hosts.web]
agent = true
[hosts.db]
check = "ping"
[hosts.plain]
check = "ping"
[[services]]
name = "load"
hosts = ["web", "plain"]
check = "load!5!10"
timeout = "7s"
[[services]]
name = "ping"
host = "web"
check = "ping"
agent = false
[[services]]
name = "load"
host = "db"
check = "load!1!2"
agent = true
"#,
        )
        .expect("write");
        let model = crate::config::load(&path).expect("config");
        let a = Assignments::from_model(&model, 3);
        assert_eq!(a.generation, 3);
        assert_eq!(a.silence.as_secs(), 90);
        let mut names: Vec<_> = a.hosts.keys().map(|k| k.to_string()).collect();
        names.sort();
        assert_eq!(names, ["db", "web"]);
        let web = &a.hosts["web"];
        assert!(web.liveness_host);
        assert_eq!(web.checks.len(), 1, "{:?}", web.checks);
        assert_eq!(web.checks[0].command, "check_load -w 5 -c 10");
        assert_eq!(web.checks[0].timeout_s, 7.0);
        let db = &a.hosts["db"];
        assert!(!db.liveness_host, "db has its own host check");
        assert!(db.services.contains("load"));
        // The engine does not schedule what agents run.
        for s in &model.services {
            let host = &model.hosts[s.host as usize].name;
            let agent = host == "db" || (host == "web" && s.name == "load");
            assert_eq!(s.agent, agent, "{host}/{}", s.name);
            assert_eq!(s.schedule.active, !agent, "{host}/{}", s.name);
        }
        let web_host = model.hosts.iter().find(|h| h.name == "web").expect("web");
        assert!(web_host.check.is_none(), "no hostalive for an agent host");
    }

    #[test]
    fn nagios_custom_variable_marks_agent_checks() {
        let dir = crate::hub::TestDir::new("assign-nagios");
        std::fs::create_dir_all(&*dir).expect("dir");
        let path = dir.join("objects.cfg");
        let objects = |value: &str| {
            format!(
                "define command {{\n command_name check_load\n command_line check_load -w $ARG1$ -c $ARG2$\n}}\n\
                 define host {{\n host_name web\n address 127.0.0.1\n max_check_attempts 3\n check_command check_load!1!2\n _VEDETTE_AGENT {value}\n}}\n\
                 define service {{\n host_name web\n service_description load\n check_command check_load!5!10\n max_check_attempts 3\n check_interval 1\n retry_interval 1\n}}\n"
            )
        };
        std::fs::write(&path, objects("1")).expect("write");
        let model = crate::config::load(&path).expect("config");
        let a = Assignments::from_model(&model, 1);
        let web = &a.hosts["web"];
        assert_eq!(web.checks.len(), 1);
        assert_eq!(web.checks[0].command, "check_load -w 5 -c 10");
        assert!(!web.liveness_host, "the host keeps its own check");
        std::fs::write(&path, objects("perhaps")).expect("write");
        let errors = crate::config::load(&path).expect_err("bad value");
        let text = errors.to_string();
        assert!(text.contains("_VEDETTE_AGENT 'perhaps'"), "{text}");
    }

    #[test]
    fn engine_agent_settings_are_checked() {
        let dir = crate::hub::TestDir::new("assign-settings");
        std::fs::create_dir_all(&*dir).expect("dir");
        let path = dir.join("a.toml");
        for (engine, want) in [
            ("agent_listen = \"7661\"", "agent listen address '7661'"),
            (
                "agent_silence_state = \"sideways\"",
                "expected down or unknown",
            ),
            ("agent_silence = \"0s\"", "at least 1s"),
        ] {
            std::fs::write(&path, format!("[engine]\n{engine}\n")).expect("write");
            let text = crate::config::load(&path).expect_err(engine).to_string();
            assert!(text.contains(want), "{engine}: {text}");
        }
        std::fs::write(&path, "[engine]\nagent_listen = \"off\"\n").expect("write");
        let m = crate::config::load(&path).expect("off");
        assert_eq!(m.settings.agent_listen.address(true), None);
    }
}
