//! `vedette check-config`.

use std::path::Path;
use std::process::ExitCode;

/// Prints the summary (exit 0) or every error as `file:line: message`
/// (exit 1).
pub fn check_config(path: &Path) -> ExitCode {
    match vedette::config::load(path) {
        Ok(model) => {
            for w in &model.warnings {
                eprintln!("warning: {w}");
            }
            println!("{}", model.summary());
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
