//! `vedette run`: the daemon in the foreground.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use tokio::signal::unix::{signal, SignalKind};

use vedette::engine::Engine;
use vedette::hub::listener::Hub;
use vedette::model::AgentListen;

/// Loads the config, starts the shards and the API, and serves until
/// SIGTERM/SIGINT. SIGHUP reloads the config in the background.
pub fn run(
    config: &Path,
    api: SocketAddr,
    state_dir: &Path,
    agent_listen: Option<AgentListen>,
) -> anyhow::Result<ExitCode> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let model = match vedette::config::load(config) {
        Ok(m) => m,
        Err(errors) => {
            for e in &errors.0 {
                eprintln!("{e}");
            }
            anyhow::bail!(
                "config {} has {} error(s); not starting",
                config.display(),
                errors.0.len()
            );
        }
    };
    for w in &model.warnings {
        tracing::warn!("{w}");
    }
    match vedette::limits::raise_open_files() {
        Ok(n) => tracing::debug!(open_files = n, "Open files limit"),
        Err(e) => tracing::warn!(error = %e, "Cannot raise the open files limit"),
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the API runtime")?;
    let agent_listen = agent_listen.unwrap_or(model.settings.agent_listen);
    let agent_names = model.settings.agent_names.clone();
    rt.block_on(async move {
        let listener = vedette::api::bind(api).await?;
        let engine = Arc::new(Engine::start(model, config, state_dir)?);
        tracing::info!(api = %api, "API listening");
        let has_agents = !engine.assignments().borrow().hosts.is_empty();
        let hub = match agent_listen.address(has_agents) {
            Some(addr) => {
                let hub = Hub::start(Arc::clone(&engine), state_dir, addr, &agent_names)
                    .context("cannot start the agent endpoint (--agent-listen off disables it)")?;
                engine.set_agents(&hub.agents);
                Some(hub)
            }
            None => None,
        };
        let hub_running = hub.is_some();
        let mut hup = signal(SignalKind::hangup()).context("cannot handle SIGHUP")?;
        let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
        let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
        let reloader = Arc::clone(&engine);
        let reloads = tokio::spawn(async move {
            while hup.recv().await.is_some() {
                tracing::info!("SIGHUP: reloading the configuration");
                let e = Arc::clone(&reloader);
                match tokio::task::spawn_blocking(move || e.reload()).await {
                    Ok(Ok(_)) => {
                        if !hub_running && !reloader.assignments().borrow().hosts.is_empty() {
                            tracing::warn!(
                                "The config now has agent hosts, but the agent endpoint is not running; restart the engine to open it"
                            );
                        }
                    }
                    Ok(Err(errors)) => {
                        for err in &errors.0 {
                            tracing::error!("{err}");
                        }
                        tracing::error!(
                            errors = errors.0.len(),
                            "Reload rejected; the running config is unchanged"
                        );
                    }
                    Err(e) => tracing::error!(error = %e, "Reload task failed"),
                }
            }
        });
        let retainer = Arc::clone(&engine);
        let retention = tokio::spawn(async move {
            let Some(every) = retainer.retention_interval() else {
                return;
            };
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            loop {
                tick.tick().await;
                let e = Arc::clone(&retainer);
                match tokio::task::spawn_blocking(move || e.save_state()).await {
                    Ok(Ok(n)) => tracing::debug!(checks = n, "States retained"),
                    Ok(Err(e)) => tracing::error!(error = %e, "Cannot retain states"),
                    Err(e) => tracing::error!(error = %e, "Retention task failed"),
                }
            }
        });
        let stopping = Arc::clone(&engine);
        let shutdown = async move {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM: stopping"),
                _ = int.recv() => tracing::info!("SIGINT: stopping"),
            }
            stopping.begin_shutdown();
        };
        let listener = vedette::api::listener::Logged::new(listener);
        axum::serve(listener, vedette::api::router(Arc::clone(&engine)))
            .with_graceful_shutdown(shutdown)
            .await
            .context("API server failed")?;
        reloads.abort();
        let _ = reloads.await;
        retention.abort();
        let _ = retention.await;
        if let Some(hub) = hub {
            hub.stop();
        }
        match Arc::try_unwrap(engine) {
            Ok(engine) => engine.stop(),
            Err(_) => tracing::warn!("API connections still open at shutdown"),
        }
        tracing::info!("Stopped");
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}
