//! The agent's own small scheduler for the checks the engine assigns.
//!
//! Ground rules:
//! - one task per assigned check; it sleeps until its next run, runs the
//!   check, hands the result over ([`Done`]) and works out the next run;
//! - the first run of each check lands at a fixed point in its interval
//!   picked by a hash of the service name, so an agent restart or a
//!   reassignment does not run everything at once and the same service
//!   keeps its phase;
//! - while a problem has not been seen `max_attempts` times in a row it is
//!   retried after `retry_interval_s` (the engine's SOFT state), otherwise
//!   the check runs every `interval_s`;
//! - [`Scheduler::assign`] replaces the whole set at once. A check assigned
//!   again unchanged (the engine re-sends the set on every connect) keeps
//!   its task, phase and state (cpu, net and diskio compare with their
//!   previous sample). Tasks of checks no longer assigned, or changed, stop
//!   when they are next asleep: a check that is running finishes and its
//!   result is still handed over.

use std::collections::HashMap;
use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use vedette_proto::check::{CheckResult, Status};
use vedette_proto::wire::AssignedCheck;

/// Shortest interval the agent runs a check at, whatever it is sent: a
/// guard against a zero or negative interval spinning the agent.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// Something that runs a check once; [`crate::runner::Runner`] in the
/// agent, a script in tests.
pub trait Job: Send + 'static {
    /// Runs the check once.
    fn run(&mut self) -> impl Future<Output = CheckResult> + Send;
}

/// A finished check, for the spool.
#[derive(Debug, Clone, PartialEq)]
pub struct Done {
    /// The assigned service name.
    pub service: String,
    /// The result.
    pub result: CheckResult,
    /// Unix seconds when it finished.
    pub at: f64,
    /// How long it ran.
    pub execution_ms: u32,
}

/// Runs the assigned checks; see the module documentation.
pub struct Scheduler<F> {
    make: F,
    done: mpsc::UnboundedSender<Done>,
    /// The running checks by service name, each with the sender whose drop
    /// stops its task.
    running: HashMap<String, (AssignedCheck, watch::Sender<()>)>,
}

impl<F, J> Scheduler<F>
where
    F: Fn(&AssignedCheck) -> J,
    J: Job,
{
    /// A scheduler that builds each check's job with `make` and sends
    /// results to `done`. Nothing runs until [`Scheduler::assign`].
    pub fn new(make: F, done: mpsc::UnboundedSender<Done>) -> Scheduler<F> {
        Scheduler {
            make,
            done,
            running: HashMap::new(),
        }
    }

    /// Replaces the running set with `checks` (a service named twice: the
    /// last one counts). Must be called within a tokio runtime.
    pub fn assign(&mut self, checks: &[AssignedCheck]) {
        let mut old = std::mem::take(&mut self.running);
        for check in checks {
            if let Some(same) = old.remove(&check.service).filter(|(c, _)| c == check) {
                self.running.insert(check.service.clone(), same);
                continue;
            }
            let (stop, stopped) = watch::channel(());
            let job = (self.make)(check);
            let timing = Timing::new(check);
            let first = splay(&check.service, timing.interval);
            tokio::spawn(drive(
                check.service.clone(),
                job,
                timing,
                first,
                self.done.clone(),
                stopped,
            ));
            // Replacing an entry drops its sender, stopping that task.
            self.running
                .insert(check.service.clone(), (check.clone(), stop));
        }
        // `old` now holds only what is no longer assigned; dropping it
        // stops those tasks.
    }

    /// Stops every check (running ones finish).
    pub fn stop(&mut self) {
        self.running.clear();
    }

    /// How many checks are assigned.
    pub fn len(&self) -> usize {
        self.running.len()
    }

    /// Whether no check is assigned.
    pub fn is_empty(&self) -> bool {
        self.running.is_empty()
    }
}

async fn drive<J: Job>(
    service: String,
    mut job: J,
    mut timing: Timing,
    first: Duration,
    done: mpsc::UnboundedSender<Done>,
    mut stopped: watch::Receiver<()>,
) {
    let mut next = Instant::now() + first;
    loop {
        tokio::select! {
            biased;
            // Err (the sender is gone) is the stop signal.
            _ = stopped.changed() => return,
            () = tokio::time::sleep_until(next) => {}
        }
        let started = Instant::now();
        let result = job.run().await;
        let execution_ms = u32::try_from(started.elapsed().as_millis()).unwrap_or(u32::MAX);
        let delay = timing.after(result.status);
        let finished = Done {
            service: service.clone(),
            result,
            at: unix_now(),
            execution_ms,
        };
        if done.send(finished).is_err() {
            return;
        }
        // From the start of the run, so a check keeps its phase; a run
        // longer than the interval starts the next one at once.
        next = (started + delay).max(Instant::now());
    }
}

/// A check's intervals and its count of problems in a row.
#[derive(Debug, Clone, PartialEq)]
pub struct Timing {
    interval: Duration,
    retry: Duration,
    max_attempts: u32,
    problems: u32,
}

impl Timing {
    /// The intervals of `check`, made sane (at least [`MIN_INTERVAL`]; a
    /// bad retry interval is the normal one).
    pub fn new(check: &AssignedCheck) -> Timing {
        let secs = |s: f64| {
            Duration::try_from_secs_f64(s)
                .ok()
                .map(|d| d.max(MIN_INTERVAL))
        };
        let interval = secs(check.interval_s).unwrap_or(Duration::from_secs(60));
        Timing {
            interval,
            retry: secs(check.retry_interval_s).unwrap_or(interval),
            max_attempts: check.max_attempts.max(1),
            problems: 0,
        }
    }

    /// The delay before the next run after a result with `status`.
    pub fn after(&mut self, status: Status) -> Duration {
        if status == Status::Ok {
            self.problems = 0;
            return self.interval;
        }
        self.problems = self.problems.saturating_add(1);
        if self.problems < self.max_attempts {
            self.retry
        } else {
            self.interval
        }
    }
}

/// Where in its interval a service's first run falls: FNV-1a of the name
/// (stable across builds, unlike the standard hasher) modulo the interval.
pub fn splay(service: &str, interval: Duration) -> Duration {
    let hash = service.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let millis = u64::try_from(interval.as_millis())
        .unwrap_or(u64::MAX)
        .max(1);
    Duration::from_millis(hash % millis)
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn check(service: &str, interval_s: f64, retry_s: f64, max_attempts: u32) -> AssignedCheck {
        AssignedCheck {
            service: service.into(),
            command: String::new(),
            interval_s,
            retry_interval_s: retry_s,
            max_attempts,
            timeout_s: 10.0,
            timeout_status: 3,
        }
    }

    #[test]
    fn retries_until_hard_then_interval() {
        let mut t = Timing::new(&check("x", 60.0, 10.0, 3));
        let s = Duration::from_secs;
        let seq = [
            (Status::Ok, s(60)),
            (Status::Critical, s(10)),
            (Status::Warning, s(10)),
            (Status::Critical, s(60)),
            (Status::Critical, s(60)),
            (Status::Ok, s(60)),
            (Status::Unknown, s(10)),
        ];
        for (status, want) in seq {
            assert_eq!(t.after(status), want, "{status:?}");
        }
        let mut t = Timing::new(&check("x", 0.0, f64::NAN, 0));
        assert_eq!(t.after(Status::Critical), MIN_INTERVAL);
    }

    #[test]
    fn splay_is_stable_and_within_the_interval() {
        let i = Duration::from_secs(60);
        assert_eq!(splay("disk /", i), splay("disk /", i));
        assert!(splay("disk /", i) < i);
        let spread: std::collections::BTreeSet<_> =
            (0..20).map(|n| splay(&format!("svc{n}"), i)).collect();
        assert!(spread.len() > 15, "{spread:?}");
    }

    /// Returns scripted statuses, records when it ran, takes `busy` to run.
    struct Scripted {
        statuses: Vec<Status>,
        ran: Arc<Mutex<Vec<Instant>>>,
        busy: Duration,
    }

    impl Job for Scripted {
        async fn run(&mut self) -> CheckResult {
            self.ran.lock().expect("lock").push(Instant::now());
            tokio::time::sleep(self.busy).await;
            let status = if self.statuses.is_empty() {
                Status::Ok
            } else {
                self.statuses.remove(0)
            };
            CheckResult::new(status, "x")
        }
    }

    /// When each of a [`scripted`] scheduler's jobs ran.
    type Ran = Arc<Mutex<Vec<Instant>>>;

    /// A scheduler whose every check answers `statuses` in turn (then OK)
    /// and takes `busy` to run; its results and when each job ran.
    fn scripted(
        statuses: Vec<Status>,
        busy: Duration,
    ) -> (
        Scheduler<impl Fn(&AssignedCheck) -> Scripted>,
        mpsc::UnboundedReceiver<Done>,
        Ran,
    ) {
        let (tx, rx) = mpsc::unbounded_channel();
        let ran = Ran::default();
        let r = ran.clone();
        let s = Scheduler::new(
            move |_: &AssignedCheck| Scripted {
                statuses: statuses.clone(),
                ran: r.clone(),
                busy,
            },
            tx,
        );
        (s, rx, ran)
    }

    #[tokio::test(start_paused = true)]
    async fn runs_on_splay_interval_and_retry() {
        let (mut s, mut rx, ran) = scripted(
            vec![Status::Ok, Status::Critical, Status::Critical],
            Duration::ZERO,
        );
        let t0 = Instant::now();
        let c = check("load", 60.0, 10.0, 2);
        s.assign(std::slice::from_ref(&c));
        assert_eq!(s.len(), 1);
        for _ in 0..5 {
            let done = rx.recv().await.expect("result");
            assert_eq!(done.service, "load");
        }
        let first = splay("load", Duration::from_secs(60));
        let offsets: Vec<Duration> = ran.lock().expect("lock").iter().map(|t| *t - t0).collect();
        // OK -> 60 s, CRITICAL (1st) -> retry 10 s, CRITICAL (2nd, HARD) -> 60 s.
        let s60 = Duration::from_secs(60);
        let s10 = Duration::from_secs(10);
        let want = vec![
            first,
            first + s60,
            first + s60 + s10,
            first + 2 * s60 + s10,
            first + 3 * s60 + s10,
        ];
        assert_eq!(offsets, want);
    }

    #[tokio::test(start_paused = true)]
    async fn unchanged_reassignment_keeps_the_phase() {
        let (mut s, mut rx, ran) = scripted(Vec::new(), Duration::ZERO);
        let t0 = Instant::now();
        let c = check("mem", 60.0, 60.0, 1);
        let first = splay("mem", Duration::from_secs(60));
        // Re-sent every few seconds (a flapping connection): still runs on
        // its own schedule, not pushed back each time.
        for _ in 0..40 {
            s.assign(std::slice::from_ref(&c));
            tokio::time::sleep(Duration::from_secs(3)).await;
        }
        let mut changed = c.clone();
        changed.command = "other".into();
        s.assign(&[changed, check("new", 60.0, 60.0, 1)]);
        assert_eq!(s.len(), 2);
        while rx.try_recv().is_ok() {}
        let offsets: Vec<Duration> = ran.lock().expect("lock").iter().map(|t| *t - t0).collect();
        let s60 = Duration::from_secs(60);
        assert_eq!(offsets, vec![first, first + s60]);
    }

    #[tokio::test(start_paused = true)]
    async fn reassignment_replaces_and_lets_running_checks_finish() {
        let (mut s, mut rx, ran) = scripted(Vec::new(), Duration::from_secs(5));
        let old = check("old", 60.0, 60.0, 1);
        s.assign(std::slice::from_ref(&old));
        let start = splay("old", Duration::from_secs(60));
        // Let the old check start its 5 s run, then replace the set.
        tokio::time::sleep(start + Duration::from_secs(1)).await;
        assert_eq!(ran.lock().expect("lock").len(), 1);
        let new = check("new", 60.0, 60.0, 1);
        s.assign(std::slice::from_ref(&new));
        let done = rx.recv().await.expect("old result still comes");
        assert_eq!(done.service, "old");
        assert_eq!(done.execution_ms, 5000);
        // From now on only the new check runs.
        for _ in 0..3 {
            assert_eq!(rx.recv().await.expect("result").service, "new");
        }
        s.stop();
        assert!(s.is_empty());
        tokio::time::sleep(Duration::from_secs(600)).await;
        assert!(rx.try_recv().is_err(), "stopped set still runs");
    }
}
