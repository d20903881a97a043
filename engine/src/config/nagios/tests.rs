//! Fixture tests of the whole Nagios front end: the good and broken
//! configs under `engine/tests/fixtures/nagios/`, Debian's stock
//! `/etc/nagios4/nagios.cfg`, and a generated 600,000-service config.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::load;
use crate::check::Status;
use crate::model::{Model, ObjectCounts};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/nagios")
}

fn ok(path: &Path) -> Model {
    match load(path) {
        Ok(m) => m,
        Err(e) => panic!("{} should load:\n{e}", path.display()),
    }
}

fn service<'m>(m: &'m Model, host: &str, name: &str) -> &'m crate::model::Service {
    m.services
        .iter()
        .find(|s| s.name == name && m.hosts.get(s.host as usize).is_some_and(|h| h.name == host))
        .unwrap_or_else(|| panic!("no service {name:?} on {host:?}"))
}

#[test]
fn good_fixture_loads_with_nagios_semantics() {
    let dir = fixtures().join("good");
    let m = ok(&dir.join("nagios.cfg"));
    // `nagios4 -v nagios.cfg` on this fixture: "Checked 8 services",
    // "Checked 4 hosts", "Checked 4 host groups", "Checked 1 service groups".
    let hosts: Vec<&str> = m.hosts.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(hosts, ["web1", "web2", "db1", "zeta"]);
    assert_eq!(m.services.len(), 8);
    let counts = ObjectCounts {
        commands: 4,
        hostgroups: 4,
        servicegroups: 1,
        timeperiods: 1,
        contacts: 1,
        contactgroups: 1,
    };
    assert_eq!(m.counts, counts);
    assert_eq!(m.settings.check_timeout, Duration::from_secs(20));
    assert_eq!(m.settings.timeout_status, Status::Critical);
    assert_eq!(m.warnings.len(), 1, "{:?}", m.warnings);
    assert!(
        m.warnings[0].ends_with("Vedette ignores these Nagios directives: log_file, use_syslog")
    );

    // web1 uses `linux,fast`: linux's chain (generic-host: 5 units) wins
    // over fast (0.5); the unit is interval_length=30.
    let web1 = &m.hosts[0];
    assert_eq!(web1.address, "192.0.2.10");
    assert_eq!(web1.schedule.check_interval, Duration::from_secs(150));
    assert_eq!(web1.schedule.retry_interval, Duration::from_secs(30));
    assert_eq!(web1.schedule.max_check_attempts, 3);
    assert_eq!(
        web1.groups,
        ["linux-servers", "all-hosts", "web", "everything"]
    );
    assert_eq!(web1.source.line, 38);
    let check = web1
        .check
        .as_ref()
        .map(|c| (c.command.as_str(), c.line.as_str()));
    let want = "/usr/lib/nagios/plugins/check_ping -H 192.0.2.10 -w 3000,80% -c 5000,100% -p 1";
    assert_eq!(check, Some(("check-host-alive", want)));

    let db1 = &m.hosts[2];
    assert_eq!(
        (
            db1.address.as_str(),
            db1.check.is_none(),
            db1.schedule.active
        ),
        ("db1", true, false)
    );
    assert_eq!(db1.groups, ["all-hosts", "everything"]);
    assert!(m.hosts[3].source.file.ends_with("conf.d/b.cfg"));

    let table = [
        (
            "web1",
            "SSH",
            "/usr/lib/nagios/plugins/check_tcp -H 192.0.2.10 -p 22 ",
        ),
        (
            "zeta",
            "SSH",
            "/usr/lib/nagios/plugins/check_tcp -H zeta -p 22 ",
        ),
        (
            "web1",
            "SNMP uptime",
            "/usr/lib/nagios/plugins/check_snmp -H 192.0.2.10 -C s3cret -o sysUpTime.0 \
             -l 'Web One SNMP uptime' -m HOST-RESOURCES-MIB -x 1.3.6.1\\;1",
        ),
        (
            "web2",
            "SNMP uptime",
            "/usr/lib/nagios/plugins/check_snmp -H 192.0.2.11 -C s3cret -o sysUpTime.0 \
             -l 'web2 SNMP uptime' -m IF-MIB -x 1.3.6.1\\;1",
        ),
        (
            "db1",
            "Postgres",
            "/usr/lib/nagios/plugins/check_tcp -H db1 -p 5432 -t /usr/lib/nagios/plugins",
        ),
    ];
    for (host, name, line) in table {
        let s = service(&m, host, name);
        assert_eq!(
            s.check.as_ref().map(|c| c.line.as_str()),
            Some(line),
            "{host}/{name}"
        );
        assert_eq!(s.check.as_ref().and_then(|c| c.timeout), None);
    }
    let pg = service(&m, "db1", "Postgres");
    assert!(!pg.schedule.active);
    assert_eq!(pg.schedule.check_interval, Duration::from_secs(300));
    assert_eq!(pg.schedule.max_check_attempts, 4);
    assert!(
        !m.services.iter().any(|s| s.name == "SSH" && s.host == 2),
        "db1 is excluded from SSH"
    );
    assert!(
        !m.services
            .iter()
            .any(|s| s.name == "Postgres" && s.host != 2),
        "web is excluded"
    );
}

#[test]
fn a_single_object_file_loads_alone() {
    let m = ok(&fixtures().join("broken/../good/conf.d/sub/a.cfg"));
    assert_eq!((m.hosts.len(), m.counts.commands), (0, 1));
}

#[test]
fn broken_fixtures_report_every_error_with_file_and_line() {
    let dir = fixtures().join("broken");
    let d = dir.display();
    let table: &[(&str, &[&str])] = &[
        (
            "unknown_directive.cfg",
            &["8: unknown host directive 'color'"],
        ),
        (
            "bad_number.cfg",
            &["8: bad number 'five' for check_interval"],
        ),
        (
            "unknown_template.cfg",
            &["6: unknown host template 'no-such-template'"],
        ),
        (
            "template_cycle.cfg",
            &["5: template cycle: a -> b -> a"],
        ),
        (
            "unknown_host.cfg",
            &["9: service 'X' references unknown host 'h2'"],
        ),
        (
            "unknown_command.cfg",
            &["9: service 'X' uses unknown command 'check_nothing'"],
        ),
        (
            "duplicate_host.cfg",
            &["9: duplicate host 'h1' (first defined at {d}/duplicate_host.cfg:5)"],
        ),
        (
            "missing_check_command.cfg",
            &["10: service 'S' has no check_command"],
        ),
        (
            "missing_description.cfg",
            &["9: service definition has no service_description"],
        ),
        (
            "missing_host_name.cfg",
            &["5: host definition has no host_name"],
        ),
        (
            "missing_cfg_file.cfg",
            &[
                "2: cannot read config file {d}/does-not-exist.cfg: No such file or directory (os error 2)",
                "3: cannot read config directory {d}/no-such-dir: No such file or directory (os error 2)",
            ],
        ),
        (
            "bad_main_line.cfg",
            &[
                "3: expected 'directive=value', found 'this is not a directive'",
                "4: unknown main config directive 'not_a_nagios_directive'",
                "5: bad service_check_timeout_state 'x': expected one of c, u, w, o",
            ],
        ),
        (
            "many_errors.cfg",
            &[
                "8: unknown host directive 'colour'",
                "7: bad number 'zero' for max_check_attempts",
                "10: service 'S' references unknown host 'h9'",
                "10: service 'S' uses unknown command 'nope'",
            ],
        ),
    ];
    for (file, want) in table {
        let got: Vec<String> = match load(&dir.join(file)) {
            Ok(_) => panic!("{file} should fail"),
            Err(e) => e.0.iter().map(ToString::to_string).collect(),
        };
        let want: Vec<String> = want
            .iter()
            .map(|w| format!("{d}/{file}:{}", w.replace("{d}", &d.to_string())))
            .collect();
        assert_eq!(got, want, "{file}");
    }
}

#[test]
fn a_duplicate_service_is_a_warning_and_the_first_one_stays() {
    // `nagios4 -v`: "Warning: Duplicate definition found for service 'D'
    // on host 'h1'", "Checked 1 services".
    let m = ok(&fixtures().join("good/duplicate_service.cfg"));
    assert_eq!(m.services.len(), 1);
    assert_eq!(m.services[0].source.line, 10);
    assert_eq!(m.warnings.len(), 1, "{:?}", m.warnings);
    assert!(
        m.warnings[0].ends_with(":16: duplicate service 'D' on host 'h1' ignored"),
        "{:?}",
        m.warnings
    );
}

#[test]
fn missing_main_config_is_an_error() {
    let p = fixtures().join("nope/nagios.cfg");
    let e = load(&p).err().map(|e| e.to_string());
    let want = format!(
        "{}: cannot read config: No such file or directory (os error 2)",
        p.display()
    );
    assert_eq!(e, Some(want));
}

/// Debian's stock configuration, as shipped by `nagios4-common` (objects),
/// `monitoring-plugins-common` (`/etc/nagios-plugins/config`, a `cfg_dir`).
/// Reading `resource.cfg` (mode 0640 root:nagios) needs root or the nagios
/// group, as it does for Nagios itself.
#[test]
fn debian_stock_config_matches_nagios4() {
    let main = Path::new("/etc/nagios4/nagios.cfg");
    assert!(
        main.exists(),
        "{} is missing: apt-get install nagios4-common monitoring-plugins-common",
        main.display()
    );
    let m = ok(main);
    // The counts Nagios itself reports for the same files (the set of
    // command files in the cfg_dir depends on which plugin packages are
    // installed, so they are read, not written down).
    let verify = std::process::Command::new("nagios4")
        .args(["-v", &main.to_string_lossy()])
        .output()
        .expect("nagios4 -v: apt-get install nagios4-core");
    let report = String::from_utf8_lossy(&verify.stdout);
    let checked = |what: &str| -> usize {
        report
            .lines()
            .find_map(|l| {
                let rest = l.trim().strip_prefix("Checked ")?;
                let (n, tail) = rest.split_once(' ')?;
                (tail == what).then(|| n.parse().ok()).flatten()
            })
            .unwrap_or_else(|| panic!("no 'Checked N {what}' in nagios4 -v:\n{report}"))
    };
    assert_eq!(
        (m.hosts.len(), m.services.len()),
        (checked("hosts."), checked("services."))
    );
    let counts = ObjectCounts {
        commands: checked("commands."),
        hostgroups: checked("host groups."),
        servicegroups: checked("service groups."),
        timeperiods: checked("time periods."),
        contacts: checked("contacts."),
        contactgroups: checked("contact groups."),
    };
    assert_eq!(m.counts, counts);
    assert_eq!(m.settings.timeout_status, Status::Critical);
    // retain_state_information=1, retention_update_interval=60 (minutes).
    assert!(m.settings.retain_state);
    assert_eq!(m.settings.retention_interval, Duration::from_secs(3600));
    let ping = service(&m, "localhost", "PING");
    let line = ping.check.as_ref().map(|c| c.line.as_str());
    assert_eq!(
        line,
        Some("/usr/lib/nagios/plugins/check_ping -H '127.0.0.1' -w '100.0,20%' -c '500.0,60%'")
    );
    assert_eq!(ping.schedule.check_interval, Duration::from_secs(300));
}

/// 20,000 hosts in one host group, 30 services on the group: 600,000
/// services. Release timing is quoted in the module docs of `build`; no
/// time is asserted here (debug builds and busy CI machines vary).
#[test]
fn loads_600k_services() {
    let dir = std::env::temp_dir().join(format!("vedette-nagios-600k-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut src = String::from(
        "define command {\n command_name check_tcp\n command_line $USER1$/check_tcp -H $HOSTADDRESS$ -p $ARG1$\n}\n\
         define host {\n name t\n check_interval 5\n max_check_attempts 3\n hostgroups all\n register 0\n}\n\
         define hostgroup {\n hostgroup_name all\n}\n",
    );
    for h in 0..20_000 {
        src.push_str(&format!(
            "define host {{\n use t\n host_name h{h}\n address 10.{}.{}.1\n}}\n",
            h / 256,
            h % 256
        ));
    }
    for s in 0..30 {
        src.push_str(&format!(
            "define service {{\n hostgroup_name all\n service_description svc{s}\n check_command check_tcp!{}\n max_check_attempts 3\n}}\n",
            1000 + s
        ));
    }
    let objects = dir.join("objects.cfg");
    let main = dir.join("nagios.cfg");
    let written = std::fs::write(&objects, src)
        .and_then(|()| std::fs::write(&main, "cfg_file=objects.cfg\nresource_file=resource.cfg\n"))
        .and_then(|()| std::fs::write(dir.join("resource.cfg"), "$USER1$=/p\n"));
    let started = Instant::now();
    let result = written.map(|()| load(&main));
    let elapsed = started.elapsed();
    let _ = std::fs::remove_dir_all(&dir);
    let m = match result {
        Ok(Ok(m)) => m,
        Ok(Err(e)) => panic!("{e}"),
        Err(e) => panic!("cannot write the config: {e}"),
    };
    println!("600K services loaded in {elapsed:?}");
    assert_eq!((m.hosts.len(), m.services.len()), (20_000, 600_000));
    let last = m
        .services
        .last()
        .and_then(|s| s.check.as_ref())
        .map(|c| c.line.as_str());
    assert_eq!(last, Some("/p/check_tcp -H 10.78.31.1 -p 1029"));
}
