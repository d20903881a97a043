//! Subcommands of `vedette`.

mod check_config;
mod run;
mod status;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Default API address (DESIGN.md).
pub const DEFAULT_API: &str = "127.0.0.1:7660";

/// Vedette: a monitoring check engine.
#[derive(Debug, Parser)]
#[command(name = "vedette", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the engine in the foreground (SIGHUP reloads, SIGTERM stops).
    Run {
        /// Config: a TOML file or directory, or a Nagios nagios.cfg / object file.
        #[arg(long, short)]
        config: PathBuf,
        /// Address of the HTTP API.
        #[arg(long, default_value = DEFAULT_API)]
        api: SocketAddr,
        /// Directory for the event log and other state.
        #[arg(long, default_value = "/var/lib/vedette")]
        state_dir: PathBuf,
    },
    /// Validate a config: exit 0 with a summary, or 1 with every error.
    CheckConfig {
        /// Config: a TOML file or directory, or a Nagios nagios.cfg / object file.
        #[arg(long, short)]
        config: PathBuf,
        /// Also list, per command, whether it runs natively (and which
        /// probe) or forks the plugin, and why.
        #[arg(long)]
        explain: bool,
    },
    /// Show the current states from a running engine.
    Status {
        /// Address of the engine's HTTP API.
        #[arg(long, default_value = DEFAULT_API)]
        api: SocketAddr,
        /// Only hosts that are not UP and services that are not OK.
        #[arg(long)]
        problems: bool,
    },
}

/// Runs the chosen subcommand.
pub fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run {
            config,
            api,
            state_dir,
        } => run::run(&config, api, &state_dir),
        Command::CheckConfig { config, explain } => {
            Ok(check_config::check_config(&config, explain))
        }
        Command::Status { api, problems } => status::status(api, problems),
    }
}
