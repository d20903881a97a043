//! Every shipped agent-related file is loaded or checked: the example
//! config parses, and the systemd units name binaries and flags that exist
//! (checked with `--help`, and with `systemd-analyze verify` on a copy
//! whose ExecStart points at the built binary).

use std::path::{Path, PathBuf};
use std::process::Command;

use vedette_agent::config::{File, Overrides, Settings};

use crate::support::{agent_bin, vedette_bin, TempDir};

fn configs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs")
}

#[test]
fn example_agent_config_loads() {
    let file = File::load(&configs_dir().join("agent.toml")).expect("configs/agent.toml parses");
    let s = Settings::resolve(file, Overrides::default()).expect("and resolves");
    assert_eq!(s.server.to_string(), "127.0.0.1:7661");
    assert_eq!(s.spool_max_bytes, 64 << 20);
    assert_eq!(s.spool_dir, PathBuf::from("/var/lib/vedette-agent/spool"));
}

/// `ExecStart=` split into words.
fn exec_start(unit: &str) -> Vec<String> {
    let line = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("unit has ExecStart");
    line.split_whitespace().map(str::to_string).collect()
}

fn check_unit(name: &str, binary: &Path, must_have: &[&str]) {
    let text = std::fs::read_to_string(configs_dir().join(name)).expect("unit file");
    for want in must_have {
        assert!(text.contains(want), "{name} lacks {want}");
    }
    let words = exec_start(&text);
    let (program, args) = words.split_first().expect("a program");
    let base = Path::new(program).file_name().expect("file name");
    assert_eq!(base, binary.file_name().expect("file name"), "{name}");
    // The subcommand exists and knows every flag the unit passes.
    let sub = &args[0];
    let help = Command::new(binary)
        .args([sub.as_str(), "--help"])
        .output()
        .expect("run --help");
    assert!(help.status.success(), "{name}: `{sub} --help` failed");
    let help = String::from_utf8_lossy(&help.stdout);
    for flag in args.iter().filter(|a| a.starts_with("--")) {
        assert!(
            help.contains(flag.as_str()),
            "{name}: {sub} has no {flag}:\n{help}"
        );
    }
    // systemd's own check, on a copy that runs the binary we built.
    let dir = TempDir::new("unit");
    let copy = dir.join(name);
    let text = text.replace(program.as_str(), binary.to_str().expect("utf-8 path"));
    std::fs::write(&copy, text).expect("write unit copy");
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&copy)
        .output()
        .expect("systemd-analyze (package systemd) must be installed");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "systemd-analyze verify {name}:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn agent_unit() {
    check_unit(
        "vedette-agent.service",
        &agent_bin(),
        &["RestartPreventExitStatus=2", "Restart=on-failure"],
    );
}

#[test]
fn engine_unit() {
    check_unit(
        "vedette.service",
        &vedette_bin(),
        &[
            "--config /etc/vedette/vedette.toml",
            "--state-dir /var/lib/vedette",
            "Restart=on-failure",
        ],
    );
}
