//! `vedette-nrpe`: check_nrpe's command line (`vedette-nrpe -H host -c cmd
//! …`), or an NRPE server (`vedette-nrpe serve --config nrpe.cfg`).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use vedette_nrpe::check::CheckNrpe;

/// `vedette-nrpe serve`'s arguments.
#[derive(Debug, Parser)]
#[command(
    name = "vedette-nrpe serve",
    about = "Serve NRPE commands from an nrpe.cfg"
)]
struct ServeArgs {
    /// The nrpe.cfg with `command[name]=…`, `server_address`, `server_port`.
    #[arg(long, short = 'c')]
    config: PathBuf,
    /// Plain TCP instead of TLS (as nrpe's `-n`).
    #[arg(long, short = 'n')]
    no_ssl: bool,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("serve") {
        return match serve(&args[1..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("vedette-nrpe serve: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    ExitCode::from(check(&args))
}

/// check_nrpe mode: prints what check_nrpe prints, exits with its state.
fn check(args: &[String]) -> u8 {
    if args.iter().any(|a| a == "-V") {
        println!(
            "vedette-nrpe {} (check_nrpe 4.1 compatible)",
            env!("CARGO_PKG_VERSION")
        );
        return 3;
    }
    let c = match CheckNrpe::parse(args) {
        Ok(c) => c,
        Err(e) => {
            println!("CHECK_NRPE: {e}");
            println!("Usage: vedette-nrpe -H <host> [-2] [-3] [-n] [-u] [-E] [-p <port>] [-t <secs>[:<state>]] [-C <cert>] [-K <key>] [-A <ca>] [-c <command>] [-a <arg>...]");
            println!("       vedette-nrpe serve --config <nrpe.cfg> [--no-ssl]");
            return 3;
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            println!("CHECK_NRPE: cannot start the runtime: {e}");
            return 3;
        }
    };
    let report = runtime.block_on(c.run());
    let _ = std::io::stdout().write_all(report.stdout.as_bytes());
    let _ = std::io::stderr().write_all(report.stderr.as_bytes());
    report.state
}

fn serve(args: &[String]) -> anyhow::Result<()> {
    let a = ServeArgs::try_parse_from(
        std::iter::once("serve".to_string()).chain(args.iter().cloned()),
    )?;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let config = vedette_nrpe::server::config::load(&a.config)
        .with_context(|| format!("reading {}", a.config.display()))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
        let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
        // On a signal the runtime is dropped with its tasks, which kills
        // the commands still running (kill_on_drop).
        tokio::select! {
            r = vedette_nrpe::server::run(config, a.no_ssl) => r.map_err(anyhow::Error::from),
            _ = term.recv() => Ok(()),
            _ = int.recv() => Ok(()),
        }
    })?;
    tracing::info!("Stopped");
    Ok(())
}
