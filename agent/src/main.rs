//! `vedette-agent`: the binary. Parses the command line, sets up logging
//! and a single-threaded runtime, and maps the outcome to the exit code:
//! 0 stopped by a signal, 1 an error of its own (bad config, unusable
//! state directory), 2 refused by the engine for good (systemd's
//! `RestartPreventExitStatus=2` keeps it from retrying in a loop).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use vedette_agent::config::{File, Overrides, Settings};
use vedette_agent::daemon::{self, Outcome};

/// Vedette agent: runs the checks the engine assigns and pushes the results.
#[derive(Parser, Debug)]
#[command(name = "vedette-agent", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run in the foreground (SIGTERM or SIGINT stops it).
    Run(RunArgs),
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    /// Config file (TOML, see configs/agent.toml); flags override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The engine's agent endpoint, HOST:PORT (port 7661 by default there).
    #[arg(long, value_name = "HOST:PORT")]
    server: Option<String>,
    /// Enrolment token from `vedette agent token --host NAME` (only needed
    /// until the agent has its certificate).
    #[arg(long, value_name = "TOKEN")]
    token: Option<String>,
    /// Name asked for in the certificate request (default: the hostname).
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// Keeps agent.key, agent.crt, ca.crt [default: /var/lib/vedette-agent].
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// The result spool [default: STATE_DIR/spool].
    #[arg(long, value_name = "DIR")]
    spool_dir: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // Colour codes only help a terminal; journald and log files get
        // plain text.
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let Command::Run(args) = cli.command;
    match run(args) {
        Ok(Outcome::Stopped) => ExitCode::SUCCESS,
        Ok(Outcome::Refused) => ExitCode::from(2),
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::from(1)
        }
    }
}

fn run(args: RunArgs) -> anyhow::Result<Outcome> {
    let file = match &args.config {
        Some(path) => File::load(path)?,
        None => File::default(),
    };
    let settings = Settings::resolve(
        file,
        Overrides {
            server: args.server,
            token: args.token,
            name: args.name,
            state_dir: args.state_dir,
            spool_dir: args.spool_dir,
        },
    )?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        // Built-in checks run here; a few threads are plenty, and a hung
        // mount cannot make the agent grow without bound.
        .max_blocking_threads(4)
        .thread_keep_alive(std::time::Duration::from_secs(10))
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
        let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
        let shutdown = async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        };
        daemon::run(settings, shutdown)
            .await
            .map_err(anyhow::Error::from)
    })
}
