//! Config loading through the library and `vedette check-config`.

use std::time::Duration;

use vedette::config;

use crate::support::{configs_dir, fixture, vedette, TempDir};

#[test]
fn every_shipped_config_loads() {
    let mut n = 0;
    for entry in std::fs::read_dir(configs_dir()).expect("configs/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml")
            && path.file_name() != Some("agent.toml".as_ref())
        {
            config::load(&path)
                .unwrap_or_else(|e| panic!("{} does not load:\n{e}", path.display()));
            n += 1;
        }
    }
    assert!(n >= 1, "no shipped config found");
}

#[test]
fn broken_configs_fail_with_file_line_and_reason() {
    let table = [
        ("unknown_key.toml", 3, "unknown field `adress`"),
        (
            "bad_duration.toml",
            4,
            "check_interval: bad duration '5x': unknown unit 'x'",
        ),
        (
            "unknown_template.toml",
            1,
            "unknown template 'no-such-template'",
        ),
        (
            "unknown_host.toml",
            4,
            "service 'ping' references unknown host 'ghost'",
        ),
        ("template_cycle.toml", 1, "template cycle: a -> b -> a"),
        (
            "unknown_command.toml",
            3,
            "service 'ping': unknown command 'check_nothing'",
        ),
        ("syntax.toml", 2, "invalid basic string"),
        (
            "duplicate_service.toml",
            11,
            "duplicate service 'ping' on host 'web' (first defined at ",
        ),
    ];
    for (file, line, msg) in table {
        let path = fixture(&format!("toml/broken/{file}"));
        let errors = config::load(&path).expect_err(file);
        let want_prefix = format!("{}:{line}: ", path.display());
        assert!(
            errors.0.iter().any(|e| {
                let s = e.to_string();
                s.starts_with(&want_prefix) && s.contains(msg)
            }),
            "{file}: want `{want_prefix}…{msg}…`, got:\n{errors}"
        );
    }
}

#[test]
fn check_config_lists_every_error_and_exits_1() {
    let path = fixture("toml/broken/many.toml");
    let out = vedette(&["check-config", "--config", path.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    for want in [
        ":1: check_interval: bad duration 'soon'",
        ":4: max_check_attempts must be at least 1",
        ":7: service 'x' references unknown host 'c'",
        "config has 3 errors",
    ] {
        assert!(err.contains(want), "missing `{want}` in:\n{err}");
    }
}

#[test]
fn check_config_summary_and_missing_file() {
    let q = configs_dir().join("quickstart.toml");
    let out = vedette(&["check-config", "--config", q.to_str().expect("utf-8")]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("config OK: 1 hosts, 6 services, 4 commands"),
        "{stdout}"
    );

    let out = vedette(&["check-config", "--config", "/nonexistent/vedette.toml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("/nonexistent/vedette.toml: config not found"));
}

#[test]
fn templates_groups_includes_and_macros_resolve() {
    let m = config::load(&fixture("toml/good/main.toml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(m.hosts.len(), 2);
    let w1 = m.hosts.iter().find(|h| h.name == "w1").expect("w1");
    assert_eq!(
        w1.schedule.check_interval,
        Duration::from_secs(10),
        "first template wins"
    );
    assert_eq!(
        w1.schedule.max_check_attempts, 5,
        "second template fills the rest"
    );
    let w2 = m.hosts.iter().find(|h| h.name == "w2").expect("w2");
    assert_eq!(
        w2.schedule.check_interval,
        Duration::from_secs(3600),
        "own value overrides"
    );
    // No `check`: the built-in `hostalive` pings the address, natively.
    let alive = w2.check.as_ref().expect("hostalive");
    assert_eq!(
        (alive.command.as_str(), alive.line.as_str()),
        (
            "hostalive",
            "/usr/lib/nagios/plugins/check_ping -H w2 -w 3000.0,80% -c 5000.0,100% -p 5"
        )
    );
    assert!(w2.schedule.active);
    assert_eq!(vedette::probes::build(alive, &m.settings).name(), "icmp");

    // `http` attaches to both members of `web`: w1 by the group's members, w2 by its groups.
    let http: Vec<_> = m.services.iter().filter(|s| s.name == "http").collect();
    assert_eq!(http.len(), 2);
    let on_w1 = http
        .iter()
        .find(|s| m.hosts[s.host as usize].name == "w1")
        .expect("http on w1");
    let spec = on_w1.check.as_ref().expect("active");
    assert_eq!(spec.line, "/plugins/check_tcp -H 10.0.0.1 -p 80 -w w1");
    assert_eq!(on_w1.schedule.retry_interval, Duration::from_secs(15));
    assert!(on_w1.source.file.ends_with("conf.d/services.toml"));
    assert_eq!(on_w1.source.line, 1);

    let passive = m
        .services
        .iter()
        .find(|s| s.name == "passive")
        .expect("passive");
    assert!(passive.check.is_none() && !passive.schedule.active);
}

#[test]
fn the_default_host_check_can_be_replaced_or_switched_off() {
    let dir = TempDir::new("hostalive");
    let load = |text: &str| {
        let path = dir.path().join("v.toml");
        std::fs::write(&path, text).expect("write");
        config::load(&path).unwrap_or_else(|e| panic!("{e}"))
    };
    let own = load("[commands.hostalive]\nline = \"check_dummy 0 up $HOSTNAME$\"\n[hosts.a]\n");
    let check = own.hosts[0].check.as_ref().map(|c| c.line.as_str());
    assert_eq!(check, Some("check_dummy 0 up a"));

    let off = load("[engine]\ndefault_host_check = false\n[hosts.a]\n");
    assert!(off.hosts[0].check.is_none());
    assert!(!off.hosts[0].schedule.active, "no check, not scheduled");

    let passive = load("[hosts.a]\nactive = false\n");
    assert!(!passive.hosts[0].schedule.active);
}

#[test]
fn parents_resolve_share_a_shard_and_bad_ones_are_errors() {
    let dir = TempDir::new("parents");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        path
    };
    let good = write(
        "good.toml",
        "[engine]\ndefault_host_check = false\n\
         [hosts.core]\n[hosts.edge]\nparents = [\"core\"]\n\
         [hosts.web]\nparents = [\"edge\"]\n[hosts.lone]\n",
    );
    let m = config::load(&good).unwrap_or_else(|e| panic!("{e}"));
    let idx = |n: &str| m.hosts.iter().position(|h| h.name == n).expect(n) as u32;
    let web = &m.hosts[idx("web") as usize];
    assert_eq!(web.parents, vec![idx("edge")]);
    for shards in [2, 7, 64] {
        let plan = vedette::scheduler::plan::plan(&m, shards);
        let shard_of = |host: &str| {
            plan.shards
                .iter()
                .position(|p| p.checks.iter().any(|c| &*c.key.host == host))
                .expect(host)
        };
        assert_eq!(shard_of("web"), shard_of("core"), "{shards} shards");
        assert_eq!(shard_of("edge"), shard_of("core"), "{shards} shards");
    }

    let bad = write(
        "bad.toml",
        "[hosts.a]\nparents = [\"b\"]\n[hosts.b]\nparents = [\"a\"]\n[hosts.c]\nparents = [\"ghost\"]\n",
    );
    let errors = config::load(&bad).expect_err("bad parents").to_string();
    assert!(
        errors.contains("host 'c' has unknown parent 'ghost'"),
        "{errors}"
    );
    assert!(errors.contains("parent cycle: a -> b -> a"), "{errors}");

    let nagios = write(
        "objects.cfg",
        "define command {\n command_name c\n command_line /bin/true\n}\n\
         define host {\n host_name gw\n check_command c\n max_check_attempts 1\n}\n\
         define host {\n host_name srv\n parents gw\n check_command c\n max_check_attempts 1\n}\n\
         define host {\n host_name bad\n parents nowhere\n check_command c\n max_check_attempts 1\n}\n",
    );
    let errors = config::load(&nagios)
        .expect_err("unknown parent")
        .to_string();
    assert!(
        errors.contains(":18: host 'bad' has unknown parent 'nowhere'"),
        "{errors}"
    );
}

#[test]
fn a_large_generated_config_loads_with_the_right_counts() {
    let dir = TempDir::new("large");
    let mut text =
        String::from("[commands.d]\nline = \"check_dummy 0 ok\"\n[hostgroups.all]\nmembers = []\n");
    for h in 0..2000 {
        text.push_str(&format!("[hosts.h{h}]\ngroups = [\"all\"]\n"));
    }
    for s in 0..30 {
        text.push_str(&format!(
            "[[services]]\nhostgroups = [\"all\"]\nname = \"s{s}\"\ncheck = \"d\"\n"
        ));
    }
    let path = dir.path().join("large.toml");
    std::fs::write(&path, text).expect("write");
    let m = config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((m.hosts.len(), m.services.len()), (2000, 60_000));
}

#[test]
fn check_config_explain_says_how_each_command_runs() {
    let q = configs_dir().join("quickstart.toml");
    let out = vedette(&[
        "check-config",
        "--config",
        q.to_str().expect("utf-8"),
        "--explain",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let row = |cmd: &str| -> Vec<String> {
        stdout
            .lines()
            .find(|l| l.starts_with(&format!("{cmd} ")))
            .unwrap_or_else(|| panic!("no row for {cmd} in:\n{stdout}"))
            .split_whitespace()
            .map(String::from)
            .collect()
    };
    assert_eq!(row("check_tcp")[1..3], ["tcp", "3"], "{stdout}");
    assert_eq!(row("check_dummy")[1..3], ["dummy", "1"], "{stdout}");
    assert_eq!(
        row("check_load")[1..],
        ["exec", "1", "no", "native", "probe", "for", "'check_load'"],
        "{stdout}"
    );
}
