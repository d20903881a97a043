//! The shard thread: drives a [`ShardCore`] with real time on a
//! single-threaded tokio runtime pinned to one core, and runs the probes the
//! core dispatches as local tasks on that runtime.
//!
//! One loop turn: take the core's write lock once, apply every completed
//! result, expire every due check, take the state-change events; release;
//! spawn the dispatched probes; sleep until the wheel's next expiration, a
//! completion, or a poke (reload, check-now, stop).

use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::RwLock;
use tokio::sync::{mpsc, Notify};

use super::core::{Completion, Dispatch, ShardCore};
use crate::clock::Clock;
use crate::events::Event;
use crate::model::TcpIo;
use crate::probes::{tcp, ProbeContext};

/// Longest sleep: the loop wakes at least this often to rotate statistics
/// and notice a stop even when no check is due.
const MAX_SLEEP: Duration = Duration::from_millis(250);

/// What the rest of the engine holds of a running shard.
pub struct ShardHandle {
    /// The shard's table; see the module docs for who locks it when.
    pub core: Arc<RwLock<ShardCore>>,
    /// Wakes the shard loop (after a reload, check-now or stop).
    pub notify: Arc<Notify>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ShardHandle {
    /// Asks the shard to stop and waits for its thread. Probes still
    /// running are dropped (their processes are killed by the exec probe).
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.notify.notify_one();
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                tracing::error!("A shard thread panicked");
            }
        }
    }
}

impl Drop for ShardHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts shard `id`, pinned to `core` when given.
pub fn spawn(
    id: usize,
    core_id: Option<core_affinity::CoreId>,
    core: ShardCore,
    clock: Clock,
    ctx: ProbeContext,
    events: crossbeam_channel::Sender<Event>,
) -> std::io::Result<ShardHandle> {
    let core = Arc::new(RwLock::new(core));
    let notify = Arc::new(Notify::new());
    let stop = Arc::new(AtomicBool::new(false));
    let (c, n, s) = (Arc::clone(&core), Arc::clone(&notify), Arc::clone(&stop));
    let thread = std::thread::Builder::new()
        .name(format!("vedette-shard-{id}"))
        .spawn(move || {
            if let Some(cid) = core_id {
                if !core_affinity::set_for_current(cid) {
                    tracing::warn!(
                        shard = id,
                        core = cid.id,
                        "Cannot pin shard thread to its core"
                    );
                }
            }
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!(shard = id, error = %e, "Cannot start the shard runtime");
                    return;
                }
            };
            let local = tokio::task::LocalSet::new();
            local.block_on(&rt, run(c, n, s, clock, Rc::new(ctx), events));
        })?;
    Ok(ShardHandle {
        core,
        notify,
        stop,
        thread: Some(thread),
    })
}

async fn run(
    core: Arc<RwLock<ShardCore>>,
    notify: Arc<Notify>,
    stop: Arc<AtomicBool>,
    clock: Clock,
    ctx: Rc<ProbeContext>,
    events: crossbeam_channel::Sender<Event>,
) {
    if ctx.tcp_io == TcpIo::Uring {
        if let Err(e) = tcp::uring::install() {
            tracing::warn!(error = %e, "No io_uring for tcp checks; they connect through tokio");
        }
    }
    let (tx, mut rx) = mpsc::unbounded_channel::<Completion>();
    let mut dispatch: Vec<Dispatch> = Vec::new();
    let mut done: Vec<Completion> = Vec::new();
    let mut changes: Vec<Event> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let next_wake = {
            let mut core = core.write();
            for c in done.drain(..) {
                core.complete(c);
            }
            core.due(clock.now_us(), &mut dispatch);
            core.take_events(&mut changes);
            core.next_wake()
        };
        for e in changes.drain(..) {
            // The sink only goes away at shutdown; losing events then is fine.
            let _ = events.send(e);
        }
        for d in dispatch.drain(..) {
            let (tx, ctx) = (tx.clone(), Rc::clone(&ctx));
            tokio::task::spawn_local(async move {
                let started_us = clock.now_us();
                // Boxed: `Probe::run`'s future is as large as the largest
                // probe's (9 KB, http); unboxed, every spawn copied all of
                // it, which was the shard's largest user-space cost.
                let result = Box::pin(d.probe.run(&ctx)).await;
                let _ = tx.send(Completion {
                    id: d.id,
                    generation: d.generation,
                    due_ms: d.due_ms,
                    started_us,
                    finished_us: clock.now_us(),
                    result,
                });
            });
        }
        let cap = tokio::time::Instant::now() + MAX_SLEEP;
        let wake = next_wake
            .map(|ms| tokio::time::Instant::from_std(clock.instant_ms(ms)).min(cap))
            .unwrap_or(cap);
        tokio::select! {
            _ = tokio::time::sleep_until(wake) => {}
            _ = notify.notified() => {}
            Some(c) = rx.recv() => {
                done.push(c);
                while let Ok(c) = rx.try_recv() {
                    done.push(c);
                }
            }
        }
    }
    tcp::uring::uninstall();
}
