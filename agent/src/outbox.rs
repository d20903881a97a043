//! Between the checks and the engine: every result goes into the spool
//! (with its sequence number, as the `WireResult` JSON the engine will
//! see) *before* anything tries to send it, and the session reads what to
//! send back out of the spool. So a result exists on disk from the moment
//! it is known until the engine has acknowledged it, whatever happens to
//! the connection or the process.
//!
//! The spool is behind a mutex only because the recorder and the session
//! are separate tasks; the lock is never held across an await.

use std::sync::{Mutex, MutexGuard};

use tokio::sync::Notify;
use vedette_proto::wire::{self, WireResult, MAX_TEXT_BYTES};

use crate::scheduler::Done;
use crate::spool::{Spool, SpoolError};

/// Room left in a batch for the frame around the results.
const FRAME_OVERHEAD: usize = 256;

/// The spool and a wake-up for the session when something new is in it.
#[derive(Debug)]
pub struct Outbox {
    spool: Mutex<Spool>,
    wake: Notify,
}

/// The next results to send.
#[derive(Debug, Default)]
pub struct Batch {
    /// The results, in sequence order.
    pub results: Vec<WireResult>,
    /// The last sequence number read from the spool (also when its record
    /// was unreadable and left out); 0 when nothing was waiting.
    pub last_seq: u64,
}

impl Outbox {
    /// Wraps an opened spool.
    pub fn new(spool: Spool) -> Outbox {
        Outbox {
            spool: Mutex::new(spool),
            wake: Notify::new(),
        }
    }

    fn spool(&self) -> MutexGuard<'_, Spool> {
        // A panic while holding the lock cannot leave the spool in a state
        // its own methods do not recover from (each write is one append).
        self.spool.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Spools a finished check and wakes the session. Returns its sequence
    /// number.
    pub fn record(&self, done: &Done) -> Result<u64, SpoolError> {
        let seq = {
            let mut spool = self.spool();
            let seq = spool.next_seq();
            let mut r = WireResult::from_check_result(
                seq,
                &done.service,
                &done.result,
                done.at,
                done.execution_ms,
            );
            for text in [&mut r.output, &mut r.perfdata, &mut r.long_output] {
                truncate(text, MAX_TEXT_BYTES);
            }
            spool.push(wire::encode(&r).as_bytes())?
        };
        self.wake.notify_one();
        Ok(seq)
    }

    /// Waits until something new was recorded (a wake-up that came while
    /// nobody waited is kept for the next call).
    pub async fn recorded(&self) {
        self.wake.notified().await;
    }

    /// The waiting results after `after`, at most about
    /// [`wire::MAX_BATCH_BYTES`] encoded.
    pub fn batch_after(&self, after: u64) -> Result<Batch, SpoolError> {
        let budget = (wire::MAX_BATCH_BYTES - FRAME_OVERHEAD) as u64;
        let records = self.spool().pending_after(after, budget)?;
        let mut batch = Batch {
            results: Vec::with_capacity(records.len()),
            last_seq: 0,
        };
        for (seq, payload) in records {
            batch.last_seq = seq;
            match serde_json::from_slice::<WireResult>(&payload) {
                Ok(mut r) => {
                    // The spool's number is the truth; the payload's only
                    // differs if a record was written by something else.
                    r.seq = seq;
                    batch.results.push(r);
                }
                Err(e) => tracing::warn!(seq, error = %e, "Unreadable spool record left out"),
            }
        }
        Ok(batch)
    }

    /// Takes in the engine's `Welcome`: forgets what it has applied. If it
    /// has applied numbers this spool never issued (spool lost, host
    /// enrolled again), numbering continues after them, or every new result
    /// would be a duplicate to the engine.
    pub fn welcome(&self, applied_seq: u64) -> Result<(), SpoolError> {
        let mut spool = self.spool();
        if applied_seq >= spool.next_seq() {
            let forgotten = spool.skip_past(applied_seq)?;
            tracing::warn!(
                applied_seq,
                forgotten,
                "Engine has applied sequence numbers this spool never issued; numbering continues after them"
            );
            Ok(())
        } else {
            spool.ack(applied_seq)
        }
    }

    /// Forgets everything up to `up_to` (acknowledged by the engine).
    pub fn ack(&self, up_to: u64) -> Result<(), SpoolError> {
        self.spool().ack(up_to)
    }

    /// Results the spool dropped because it was full, over its life.
    pub fn dropped(&self) -> u64 {
        self.spool().dropped()
    }

    /// Results waiting for an acknowledgement.
    pub fn waiting(&self) -> usize {
        self.spool().len()
    }

    /// The sequence number the next result will get.
    pub fn next_seq(&self) -> u64 {
        self.spool().next_seq()
    }

    /// Makes everything recorded so far survive a power loss.
    pub fn sync(&self) -> Result<(), SpoolError> {
        self.spool().sync()
    }
}

/// Cuts `text` to at most `max` bytes at a character boundary.
fn truncate(text: &mut String, max: usize) {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vedette_proto::check::{CheckResult, Status};

    fn done(service: &str, output: &str) -> Done {
        Done {
            service: service.into(),
            result: CheckResult::new(Status::Warning, output),
            at: 1.7e9,
            execution_ms: 4,
        }
    }

    #[test]
    fn records_then_batches_in_order_and_acks() {
        let dir = std::env::temp_dir().join(format!("vedette-outbox-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let outbox = Outbox::new(Spool::open(&dir, 1 << 20).expect("spool"));
        let long = "é".repeat(MAX_TEXT_BYTES);
        let mut seqs = Vec::new();
        for n in 0..300 {
            let text = if n == 7 {
                long.clone()
            } else {
                format!("r{n}")
            };
            seqs.push(outbox.record(&done("svc", &text)).expect("record"));
        }
        assert!(seqs.windows(2).all(|w| w[1] > w[0]));

        let mut after = 0;
        let mut seen = Vec::new();
        loop {
            let b = outbox.batch_after(after).expect("batch");
            if b.last_seq == 0 {
                break;
            }
            let frame = wire::encode(&wire::AgentMessage::Results {
                results: b.results.clone(),
                spool_dropped: 0,
            });
            assert!(
                frame.len() <= wire::MAX_BATCH_BYTES + MAX_TEXT_BYTES,
                "{}",
                frame.len()
            );
            // The engine's decoder accepts what we send.
            wire::decode_agent(frame.as_bytes()).expect("valid frame");
            seen.extend(b.results.iter().map(|r| r.seq));
            after = b.last_seq;
        }
        assert_eq!(seen, seqs);
        let r = &outbox.batch_after(seqs[6]).expect("batch").results[0];
        assert!(r.output.len() <= MAX_TEXT_BYTES && r.output.starts_with('é'));

        outbox.ack(seqs[149]).expect("ack");
        assert_eq!(outbox.waiting(), 150);
        assert_eq!(
            outbox.batch_after(0).expect("batch").results[0].seq,
            seqs[150]
        );
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
