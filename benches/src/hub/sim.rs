//! Many simulated agents in one process: each is a task holding one mTLS
//! WebSocket session to the hub, saying hello, then sending `Results`
//! frames at its share of the aggregate rate and counting the `Ack`s.
//!
//! Cheap by construction, so the engine and not the tool is measured: one
//! current-thread runtime per thread (no work stealing), small WebSocket
//! buffers, one shared key, results pipelined (an agent does not wait for
//! an ack before its next frame, up to [`MAX_IN_FLIGHT`] frames).
//!
//! The main thread steers every agent through [`Phase`]s and reads the
//! shared atomic [`Totals`]; each thread keeps its own latency histogram
//! and hands it back when it ends.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use tokio::net::TcpStream;
use tokio::sync::{watch, Semaphore};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;
use vedette_proto::wire::{self, AgentMessage, EngineMessage, WireResult, PROTOCOL_VERSION};

use super::certs::Identities;

/// Frames an agent may have unacknowledged; past it, results wait (as in
/// a spool) and go out in a bigger batch once acks come back.
const MAX_IN_FLIGHT: usize = 32;

/// Results in one frame at most (well under `wire::MAX_BATCH_BYTES`).
const MAX_BATCH: usize = 1000;

/// Handshakes in progress per thread: the hub admits 256 at once.
const HANDSHAKES_PER_THREAD: usize = 64;

/// WebSocket buffers of a simulated agent.
const WS_BUFFER: usize = 4 << 10;

/// Where the main thread has the agents be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Connect and say hello, then wait.
    Connect,
    /// Send results at the planned rate.
    Run,
    /// Stop sending; keep reading acks.
    Drain,
    /// Disconnect.
    Close,
}

/// Counters every agent adds to.
#[derive(Default)]
pub struct Totals {
    /// Sessions that got their `Welcome`.
    pub established: AtomicU64,
    /// Sessions open now.
    pub open: AtomicU64,
    /// Agents that could not connect.
    pub failed: AtomicU64,
    /// Results sent.
    pub sent: AtomicU64,
    /// Results acknowledged.
    pub acked: AtomicU64,
    /// `Error` frames received and sessions the engine ended.
    pub errors: AtomicU64,
    /// Whether acks count into the latency histograms now.
    pub measuring: AtomicBool,
    /// The first failure, for the report.
    pub first_error: Mutex<Option<String>>,
}

impl Totals {
    fn note(&self, what: String) {
        if let Ok(mut e) = self.first_error.lock() {
            e.get_or_insert(what);
        }
    }
}

/// What the simulated agents are to do.
pub struct Plan {
    /// The hub's address.
    pub addr: SocketAddr,
    /// Number of agents (hosts `a0`, `a1`, ...).
    pub agents: usize,
    /// Services per agent (`s0`, `s1`, ...), as assigned.
    pub services: usize,
    /// Aggregate results per second.
    pub rate: f64,
    /// How often an agent sends a frame with what it has.
    pub flush: Duration,
    /// Runtime threads.
    pub threads: usize,
}

/// The running agents.
pub struct Fleet {
    /// Shared counters.
    pub totals: Arc<Totals>,
    phase: watch::Sender<Phase>,
    threads: Vec<JoinHandle<anyhow::Result<Histogram<u64>>>>,
}

impl Fleet {
    /// Starts the threads; every agent connects at once (handshakes
    /// limited per thread).
    pub fn start(plan: Plan, ids: Arc<Identities>) -> anyhow::Result<Fleet> {
        let totals = Arc::new(Totals::default());
        let (phase, rx) = watch::channel(Phase::Connect);
        let plan = Arc::new(plan);
        let mut threads = Vec::new();
        for t in 0..plan.threads {
            let (plan, ids, totals, rx) = (
                Arc::clone(&plan),
                Arc::clone(&ids),
                Arc::clone(&totals),
                rx.clone(),
            );
            let h = std::thread::Builder::new()
                .name(format!("sim-{t}"))
                .spawn(move || thread_main(t, &plan, &ids, &totals, rx))
                .context("start a simulation thread")?;
            threads.push(h);
        }
        Ok(Fleet {
            totals,
            phase,
            threads,
        })
    }

    /// Moves every agent to `p`.
    pub fn set_phase(&self, p: Phase) {
        self.phase.send_replace(p);
    }

    /// Closes every session and returns the merged ack latency histogram
    /// (microseconds).
    pub fn finish(self) -> anyhow::Result<Histogram<u64>> {
        self.set_phase(Phase::Close);
        let mut all = new_histogram()?;
        for h in self.threads {
            let hist = h
                .join()
                .map_err(|_| anyhow::anyhow!("a simulation thread panicked"))??;
            all.add(&hist).context("merge histograms")?;
        }
        Ok(all)
    }
}

fn new_histogram() -> anyhow::Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, 600_000_000, 3).context("histogram")
}

fn thread_main(
    t: usize,
    plan: &Arc<Plan>,
    ids: &Arc<Identities>,
    totals: &Arc<Totals>,
    phase: watch::Receiver<Phase>,
) -> anyhow::Result<Histogram<u64>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("simulation runtime")?;
    let hist = Rc::new(RefCell::new(new_histogram()?));
    let local = tokio::task::LocalSet::new();
    let handshakes = Rc::new(Semaphore::new(HANDSHAKES_PER_THREAD));
    for i in (t..plan.agents).step_by(plan.threads) {
        let agent = Agent {
            i,
            plan: Arc::clone(plan),
            totals: Arc::clone(totals),
            hist: Rc::clone(&hist),
        };
        let (ids, phase, handshakes) = (Arc::clone(ids), phase.clone(), Rc::clone(&handshakes));
        local.spawn_local(async move { agent.run(&ids, phase, &handshakes).await });
    }
    rt.block_on(local);
    let h = hist.borrow().clone();
    Ok(h)
}

type Ws = WebSocketStream<tokio_rustls::client::TlsStream<TcpStream>>;

struct Agent {
    i: usize,
    plan: Arc<Plan>,
    totals: Arc<Totals>,
    hist: Rc<RefCell<Histogram<u64>>>,
}

/// A frame sent and not yet acknowledged.
struct InFlight {
    last_seq: u64,
    results: u64,
    sent_at: Instant,
}

impl Agent {
    async fn run(
        self,
        ids: &Identities,
        mut phase: watch::Receiver<Phase>,
        handshakes: &Semaphore,
    ) {
        let ws = {
            let Ok(_permit) = handshakes.acquire().await else {
                return;
            };
            match self.open(ids).await {
                Ok(ws) => ws,
                Err(e) => {
                    self.totals.failed.fetch_add(1, Ordering::Relaxed);
                    self.totals
                        .note(format!("agent a{} connect: {e:#}", self.i));
                    return;
                }
            }
        };
        self.totals.established.fetch_add(1, Ordering::Relaxed);
        self.totals.open.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = self.session(ws, &mut phase).await {
            self.totals.errors.fetch_add(1, Ordering::Relaxed);
            self.totals.note(format!("agent a{}: {e:#}", self.i));
        }
        self.totals.open.fetch_sub(1, Ordering::Relaxed);
        // Stay off the wire until the end: a session that ended early
        // shows as not held.
        while *phase.borrow_and_update() != Phase::Close {
            if phase.changed().await.is_err() {
                break;
            }
        }
    }

    /// TLS with this agent's certificate, the WebSocket upgrade, hello
    /// and welcome.
    async fn open(&self, ids: &Identities) -> anyhow::Result<Ws> {
        let config = ids.client_config(self.i)?;
        let tcp = TcpStream::connect(self.plan.addr).await.context("TCP")?;
        tcp.set_nodelay(true)?;
        let name = rustls::pki_types::ServerName::from(self.plan.addr.ip());
        let tls = TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .context("TLS")?;
        let url = format!("wss://{}{}", self.plan.addr, wire::PATH);
        let config = WebSocketConfig::default()
            .read_buffer_size(WS_BUFFER)
            .write_buffer_size(WS_BUFFER)
            .max_message_size(Some(wire::MAX_FRAME_BYTES));
        let (mut ws, _) = tokio_tungstenite::client_async_with_config(url, tls, Some(config))
            .await
            .context("WebSocket upgrade")?;
        let hello = AgentMessage::Hello {
            version: PROTOCOL_VERSION,
            agent_version: "bench".into(),
            spool_dropped: 0,
        };
        ws.send(Message::text(wire::encode(&hello))).await?;
        match next_message(&mut ws).await? {
            EngineMessage::Welcome { .. } => Ok(ws),
            other => bail!("expected welcome, got {other:?}"),
        }
    }

    /// Sends and counts until told to close.
    async fn session(&self, mut ws: Ws, phase: &mut watch::Receiver<Phase>) -> anyhow::Result<()> {
        let plan = &self.plan;
        let per_tick = plan.rate / plan.agents as f64 * plan.flush.as_secs_f64();
        // Agents' ticks spread evenly over one flush period.
        let offset = plan.flush.mul_f64(self.i as f64 / plan.agents as f64);
        let mut tick = tokio::time::interval_at(Instant::now() + offset, plan.flush);
        tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let mut credit = 0.0f64;
        let mut seq = 0u64;
        let mut in_flight: VecDeque<InFlight> = VecDeque::new();
        let mut now_phase = *phase.borrow_and_update();
        loop {
            tokio::select! {
                _ = tick.tick(), if now_phase == Phase::Run => {
                    credit = (credit + per_tick).min(MAX_BATCH as f64);
                    let n = credit.floor() as usize;
                    if n == 0 || in_flight.len() >= MAX_IN_FLIGHT {
                        continue;
                    }
                    credit -= n as f64;
                    let frame = self.results(&mut seq, n);
                    ws.send(Message::text(frame)).await.context("send results")?;
                    self.totals.sent.fetch_add(n as u64, Ordering::Relaxed);
                    in_flight.push_back(InFlight { last_seq: seq, results: n as u64, sent_at: Instant::now() });
                }
                msg = next_message(&mut ws) => match msg? {
                    EngineMessage::Ack { up_to } => self.acked(&mut in_flight, up_to),
                    EngineMessage::Ping { nonce } => {
                        let pong = wire::encode(&AgentMessage::Pong { nonce });
                        ws.send(Message::text(pong)).await.context("send pong")?;
                    }
                    EngineMessage::Assign { checks, .. } => {
                        if checks.len() != plan.services {
                            bail!("assigned {} checks, expected {}", checks.len(), plan.services);
                        }
                    }
                    EngineMessage::Error { code, message } => {
                        self.totals.errors.fetch_add(1, Ordering::Relaxed);
                        self.totals.note(format!("agent a{}: engine error {code:?}: {message}", self.i));
                    }
                    other => bail!("unexpected {other:?}"),
                },
                changed = phase.changed() => {
                    if changed.is_err() {
                        return Ok(());
                    }
                    now_phase = *phase.borrow_and_update();
                    if now_phase == Phase::Close {
                        let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
                        return Ok(());
                    }
                }
            }
        }
    }

    /// One `Results` frame of `n` results, numbering on from `seq`.
    fn results(&self, seq: &mut u64, n: usize) -> String {
        let at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let results = (0..n)
            .map(|_| {
                *seq += 1;
                WireResult {
                    seq: *seq,
                    service: format!("s{}", *seq % self.plan.services as u64),
                    host: None,
                    status: 0,
                    output: "OK - simulated agent result".into(),
                    perfdata: "value=1;5;10".into(),
                    long_output: String::new(),
                    at,
                    execution_ms: 1,
                }
            })
            .collect();
        wire::encode(&AgentMessage::Results {
            results,
            spool_dropped: 0,
        })
    }

    fn acked(&self, in_flight: &mut VecDeque<InFlight>, up_to: u64) {
        let measuring = self.totals.measuring.load(Ordering::Relaxed);
        let mut hist = self.hist.borrow_mut();
        while in_flight.front().is_some_and(|f| f.last_seq <= up_to) {
            let Some(f) = in_flight.pop_front() else {
                break;
            };
            self.totals.acked.fetch_add(f.results, Ordering::Relaxed);
            if measuring {
                let us = f.sent_at.elapsed().as_micros() as u64;
                hist.saturating_record(us.max(1));
            }
        }
    }
}

/// The next engine message (control frames skipped).
async fn next_message(ws: &mut Ws) -> anyhow::Result<EngineMessage> {
    loop {
        match ws.next().await {
            None => bail!("connection closed by the engine"),
            Some(Err(e)) => bail!("connection: {e}"),
            Some(Ok(Message::Text(t))) => {
                return wire::decode_engine(t.as_bytes()).context("engine frame");
            }
            Some(Ok(Message::Close(c))) => bail!("closed by the engine: {c:?}"),
            Some(Ok(_)) => {}
        }
    }
}
