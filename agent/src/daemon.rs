//! The agent's life: open the spool, start the scheduler (and NRPE when
//! configured), then connect to the engine for ever: enrol once if there
//! is no certificate, otherwise run sessions, waiting with backoff between
//! attempts, until shut down or refused for good.
//!
//! Results flow scheduler -> recorder task -> spool -> session; the
//! recorder writes each result to the spool whether or not a session is
//! up, so nothing depends on the connection to be kept.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Semaphore};

use crate::assignment;
use crate::backoff::Backoff;
use crate::config::Settings;
use crate::connection::{self, Ended};
use crate::identity::{Identity, IdentityError};
use crate::lock::{LockError, StateLock};
use crate::outbox::Outbox;
use crate::runner::{Runner, PLUGIN_SLOTS};
use crate::scheduler::{Done, Scheduler};
use crate::spool::{Spool, SpoolError};
use crate::tls::{self, TlsError};

/// How long a shutdown waits for results already produced to be spooled.
const DRAIN: Duration = Duration::from_secs(2);

/// How the agent stopped (without an error of its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Shut down on request.
    Stopped,
    /// The engine refused the agent for good (logged); exit code 2.
    Refused,
}

/// Why the agent cannot run at all.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The spool cannot be opened or synced.
    #[error("spool {0}: {1}")]
    Spool(PathBuf, #[source] SpoolError),
    /// The key, certificate or CA cannot be read or written.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// The stored certificate or key is unusable.
    #[error("{0} (delete agent.crt in the state directory to enrol again)")]
    Tls(#[from] TlsError),
    /// No certificate and no token to get one.
    #[error("no certificate in {0} and no enrolment token: run with --token (from `vedette agent token --host NAME`)")]
    NoToken(PathBuf),
    /// Another agent uses the state directory.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// The NRPE server cannot start.
    #[error(transparent)]
    Nrpe(#[from] crate::nrpe::NrpeError),
}

/// Runs the agent until `shutdown` completes or the engine refuses it.
pub async fn run(
    settings: Settings,
    shutdown: impl Future<Output = ()>,
) -> Result<Outcome, DaemonError> {
    crate::identity::prepare_dir(&settings.state_dir)?;
    let _lock = StateLock::acquire(&settings.state_dir)?;
    let spool = Spool::open(&settings.spool_dir, settings.spool_max_bytes)
        .map_err(|e| DaemonError::Spool(settings.spool_dir.clone(), e))?;
    let recovery = spool.recovery();
    if recovery.segments_cut > 0 {
        tracing::warn!(
            segments = recovery.segments_cut,
            bytes = recovery.bytes_cut,
            "Spool had torn records (crash); cut them"
        );
    }
    let outbox = Arc::new(Outbox::new(spool));
    let identity = Identity::load(&settings.state_dir)?;
    if identity.is_none() && settings.token.is_none() {
        return Err(DaemonError::NoToken(settings.state_dir));
    }
    if let Some(nrpe) = &settings.nrpe {
        crate::nrpe::start(nrpe).await?;
    }

    let (done_tx, done_rx) = mpsc::unbounded_channel();
    let recorder = tokio::spawn(record(done_rx, outbox.clone()));
    let slots = Arc::new(Semaphore::new(PLUGIN_SLOTS));
    let mut scheduler = Scheduler::new(move |c| Runner::new(c, slots.clone()), done_tx);
    match assignment::load(&settings.state_dir) {
        Ok(Some(checks)) => {
            tracing::info!(
                checks = checks.len(),
                "Running the last assignment until the engine sends one"
            );
            scheduler.assign(&checks);
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "Last assignment not used"),
    }

    let outcome = tokio::select! {
        r = connect_loop(&settings, identity, &outbox, &mut scheduler) => r?,
        () = shutdown => {
            tracing::info!("Stopping");
            Outcome::Stopped
        }
    };
    // Checks still running are abandoned (their processes killed when the
    // runtime ends); results already produced get spooled first.
    scheduler.stop();
    drop(scheduler);
    let _ = tokio::time::timeout(DRAIN, recorder).await;
    outbox
        .sync()
        .map_err(|e| DaemonError::Spool(settings.spool_dir.clone(), e))?;
    Ok(outcome)
}

/// Writes every finished check to the spool.
async fn record(mut done: mpsc::UnboundedReceiver<Done>, outbox: Arc<Outbox>) {
    while let Some(d) = done.recv().await {
        match outbox.record(&d) {
            Ok(seq) => {
                tracing::debug!(seq, service = %d.service, status = ?d.result.status, "Result spooled")
            }
            Err(e) => {
                tracing::error!(service = %d.service, error = %e, "Result lost: cannot spool it")
            }
        }
    }
}

async fn connect_loop<F, J>(
    settings: &Settings,
    mut identity: Option<Identity>,
    outbox: &Outbox,
    scheduler: &mut Scheduler<F>,
) -> Result<Outcome, DaemonError>
where
    F: Fn(&vedette_proto::wire::AssignedCheck) -> J,
    J: crate::scheduler::Job,
{
    let server = &settings.server;
    let mut backoff = Backoff::default();
    loop {
        let ended = match (&identity, &settings.token) {
            (Some(id), _) => {
                let config = Arc::new(tls::session_config(id)?);
                tracing::info!(%server, "Connecting");
                connection::session(
                    server,
                    config,
                    outbox,
                    &mut || backoff.reset(),
                    &mut |_, checks| {
                        scheduler.assign(checks);
                        if let Err(e) = assignment::save(&settings.state_dir, checks) {
                            tracing::warn!(error = %e, "Assignment not saved");
                        }
                    },
                )
                .await
            }
            (None, Some(token)) => {
                tracing::info!(%server, "Enrolling");
                let name = settings.name.clone().unwrap_or_else(hostname);
                match connection::enrol(server, token, &name).await {
                    Ok(id) => {
                        id.store(&settings.state_dir)?;
                        identity = Some(id);
                        backoff.reset();
                        continue;
                    }
                    Err(e) => e,
                }
            }
            (None, None) => return Err(DaemonError::NoToken(settings.state_dir.clone())),
        };
        match ended {
            Ended::Refused(message) => {
                tracing::error!(%server, "Agent refused by the engine: {message}");
                return Ok(Outcome::Refused);
            }
            Ended::Lost(why) => {
                let delay = backoff.next_delay();
                tracing::warn!(%server, retry_in_ms = delay.as_millis() as u64, "Connection failed: {why}");
                tokio::time::sleep(delay).await;
            }
        }
    }
}

/// This machine's name, for the certificate request.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "vedette-agent".into())
}
