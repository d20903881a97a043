//! Subcommands of `vedette`.

mod agent;
mod check_config;
mod run;
mod status;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use vedette::config::duration;
use vedette::model::AgentListen;

/// Default state directory (`run` and `agent`).
pub const DEFAULT_STATE_DIR: &str = "/var/lib/vedette";

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
        #[arg(long, default_value = DEFAULT_STATE_DIR)]
        state_dir: PathBuf,
        /// Agent endpoint: ADDRESS:PORT, `off`, or `auto` (0.0.0.0:7661
        /// when the config has agent hosts). Overrides `[engine] agent_listen`.
        #[arg(long, value_parser = AgentListen::parse)]
        agent_listen: Option<AgentListen>,
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
    /// Enrol and manage agents (tokens, certificates).
    Agent {
        #[command(subcommand)]
        command: AgentCommand,
    },
}

#[derive(Debug, Subcommand)]
enum AgentCommand {
    /// Print a one-time enrolment token for a host (the last line).
    Token {
        /// The host the agent will report for; its certificate names it.
        #[arg(long)]
        host: String,
        /// How long the token can be used (e.g. 30m, 1h, 2d).
        #[arg(long, default_value = "1h", value_parser = duration::parse)]
        ttl: Duration,
        /// The engine's state directory (holds the agent CA).
        #[arg(long, default_value = DEFAULT_STATE_DIR)]
        state_dir: PathBuf,
    },
    /// List issued agent certificates: host, issued, revoked.
    List {
        /// The engine's state directory (holds the agent CA).
        #[arg(long, default_value = DEFAULT_STATE_DIR)]
        state_dir: PathBuf,
    },
    /// Revoke an agent's certificates; the hub refuses it from then on.
    Revoke {
        /// The agent's host name.
        name: String,
        /// The engine's state directory (holds the agent CA).
        #[arg(long, default_value = DEFAULT_STATE_DIR)]
        state_dir: PathBuf,
    },
}

/// Runs the chosen subcommand.
pub fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run {
            config,
            api,
            state_dir,
            agent_listen,
        } => run::run(&config, api, &state_dir, agent_listen),
        Command::CheckConfig { config, explain } => {
            Ok(check_config::check_config(&config, explain))
        }
        Command::Status { api, problems } => status::status(api, problems),
        Command::Agent { command } => match command {
            AgentCommand::Token {
                host,
                ttl,
                state_dir,
            } => agent::token(&state_dir, &host, ttl),
            AgentCommand::List { state_dir } => agent::list(&state_dir),
            AgentCommand::Revoke { name, state_dir } => agent::revoke(&state_dir, &name),
        },
    }
}
