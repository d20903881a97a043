//! `vedette check-config`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use vedette::model::Model;
use vedette::probes;

/// Prints the summary (exit 0) or every error as `file:line: message`
/// (exit 1); with `explain`, how each command runs.
pub fn check_config(path: &Path, explain: bool) -> ExitCode {
    match vedette::config::load(path) {
        Ok(model) => {
            for w in &model.warnings {
                eprintln!("warning: {w}");
            }
            println!("{}", model.summary());
            if explain {
                print_explanation(&model);
            }
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for e in &errors.0 {
                eprintln!("{e}");
            }
            let n = errors.0.len();
            eprintln!("config has {n} error{}", if n == 1 { "" } else { "s" });
            ExitCode::from(1)
        }
    }
}

/// One line per (command, probe, reason): how many checks run that way.
fn print_explanation(model: &Model) {
    let mut rows: BTreeMap<(String, &'static str, String), usize> = BTreeMap::new();
    let specs = model
        .hosts
        .iter()
        .filter_map(|h| h.check.as_ref())
        .chain(model.services.iter().filter_map(|s| s.check.as_ref()));
    for spec in specs {
        let (probe, why) = probes::build_explained(spec, &model.settings);
        let why = why.map(|w| w.to_string()).unwrap_or_default();
        *rows
            .entry((spec.command.clone(), probe.name(), why))
            .or_default() += 1;
    }
    let width = rows
        .keys()
        .map(|k| k.0.len())
        .max()
        .unwrap_or(0)
        .max("COMMAND".len());
    println!(
        "{:width$}  {:6}  {:>7}  WHY FORKED",
        "COMMAND", "PROBE", "CHECKS"
    );
    for ((command, probe, why), n) in rows {
        println!("{command:width$}  {probe:6}  {n:>7}  {why}");
    }
}
