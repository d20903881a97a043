//! A bounded, crash-safe, on-disk queue of results waiting for the engine's
//! acknowledgement.
//!
//! # Brief overview
//!
//! [`Spool`] is the queue. Every [`Spool::push`] gets the next sequence
//! number; [`Spool::pending`] lists what the engine has not acknowledged yet
//! (replayed after a reconnect); [`Spool::ack`] forgets everything up to a
//! sequence number. When the records waiting would exceed the cap, the
//! oldest are dropped and counted ([`Spool::dropped`]).
//!
//! # On disk
//!
//! One directory per spool, owned by one process at a time (nothing locks
//! it: the agent opens it once):
//!
//! - `<first seq>.seg`: append-only segments of length-prefixed, CRC32
//!   checked records (see `record.rs`), rolled at [`SEGMENT_BYTES`];
//! - `spool.state`: the sequence numbers reserved so far, ack floor and
//!   drop count, replaced atomically. It is what keeps sequence numbers from
//!   being reused after every record was acked and its file deleted, or
//!   after a record cut at open had already been sent.
//!
//! At open the segments are scanned; a torn or corrupt tail (a partial
//! record, a bad CRC, a sequence number out of order) is cut away and
//! reported in [`Spool::recovery`]. Records before it survive.
//!
//! # Durability contract
//!
//! - [`Spool::push`] hands the record to the operating system in one
//!   write: it survives the process being killed, not a power loss.
//! - [`Spool::sync`] fsyncs the segment being written and the state: every
//!   record pushed before it survives a power loss.
//! - Sequence numbers are reserved durably, [`SEQ_RESERVE`] at a time,
//!   before one is handed out: none is ever reused, even after a power
//!   loss. After a crash the rest of the reservation is skipped, so the
//!   engine must accept gaps (a clean close leaves none).
//! - [`Spool::ack`] is durable when it returns: acked records never come
//!   back.
//! - Drops are persisted before any file holding the dropped records is
//!   deleted, and at the next ack, sync or close. If the process dies
//!   before that, the dropped records that are still on disk are pending
//!   again and the count goes back with them: nothing is lost or counted
//!   twice.

mod error;
mod record;
mod segment;
mod state;

use std::collections::VecDeque;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

pub use error::SpoolError;

use error::io_at;
use state::State;

/// Size at which the segment being written is closed and a new one begun.
/// 1 MiB holds a few hundred check results and makes deleting acked ones a
/// single unlink.
pub const SEGMENT_BYTES: u64 = 1 << 20;

/// Sequence numbers reserved in the state file at a time. A record cut
/// at open (torn by a crash) may already have been sent, so its number must
/// not come back; reserving ahead keeps that true without a state write
/// per push. The price: after a crash, up to this many numbers are skipped.
pub const SEQ_RESERVE: u64 = 1024;

/// Options for [`Spool::open_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpoolOptions {
    /// Cap on the encoded size (16 header bytes per record plus its payload)
    /// of the records waiting. Disk use can exceed it by one segment of
    /// already acknowledged records plus the segment headers and state file.
    pub max_bytes: u64,
    /// Roll size of a segment ([`SEGMENT_BYTES`] by default); small values
    /// are for tests.
    pub segment_bytes: u64,
}

/// What [`Spool::open`] found damaged and cut away.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Segments that had a torn or corrupt tail (or were not segments at all).
    pub segments_cut: u64,
    /// Bytes cut from them.
    pub bytes_cut: u64,
}

/// A segment file and the records in it that are still waiting.
#[derive(Debug)]
struct Segment {
    path: PathBuf,
    /// File length, magic included.
    size: u64,
    /// The records at or above the floor, in sequence order.
    live: VecDeque<Live>,
}

/// Where one waiting record is: replay seeks straight to it, so sending a
/// full spool costs its size once, not once per batch.
#[derive(Debug, Clone, Copy)]
struct Live {
    seq: u64,
    /// Encoded size, header included.
    size: u64,
    /// Byte offset in the segment file.
    offset: u64,
}

/// The on-disk result queue. See the module documentation.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    opts: SpoolOptions,
    /// Oldest first; the last one is the one being written.
    segments: VecDeque<Segment>,
    /// Append handle on the last segment; `None` until the next push makes one.
    writer: Option<File>,
    state: State,
    /// The sequence number the next push gets; at most `state.next_seq`.
    /// 0 until the segments are loaded.
    next_seq: u64,
    /// `state` has drops the state file does not have yet.
    state_dirty: bool,
    live_bytes: u64,
    live_count: usize,
    recovery: Recovery,
}

impl Spool {
    /// Opens (or creates) the spool in `dir` with a cap of `max_bytes` and
    /// segments of [`SEGMENT_BYTES`].
    pub fn open(dir: impl AsRef<Path>, max_bytes: u64) -> Result<Spool, SpoolError> {
        Spool::open_with(
            dir,
            SpoolOptions {
                max_bytes,
                segment_bytes: SEGMENT_BYTES,
            },
        )
    }

    /// Opens (or creates) the spool in `dir`: scans the segments, cuts torn
    /// or corrupt tails, and drops the oldest records if a smaller cap than
    /// last time no longer holds them.
    pub fn open_with(dir: impl AsRef<Path>, opts: SpoolOptions) -> Result<Spool, SpoolError> {
        let min = record::HEADER_LEN;
        if opts.max_bytes < min {
            return Err(SpoolError::InvalidCap {
                max_bytes: opts.max_bytes,
                min,
            });
        }
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(&dir).map_err(io_at(&dir))?;
        let stored = state::load(&dir)?;
        let mut spool = Spool {
            state: stored.unwrap_or(State::FRESH),
            next_seq: 0,
            dir,
            opts,
            segments: VecDeque::new(),
            writer: None,
            state_dirty: false,
            live_bytes: 0,
            live_count: 0,
            recovery: Recovery::default(),
        };
        spool.load_segments(stored.is_none())?;
        state::store(&spool.dir, &spool.state)?;
        spool.reclaim()?;
        spool.make_room(0)?;
        spool.persist_drops()?;
        if let Some(last) = spool.segments.back() {
            spool.writer = Some(segment::reopen(&last.path)?);
        }
        Ok(spool)
    }

    /// Scans every segment in order, cutting damaged tails, and builds the
    /// index of live records. Without a state file (first open, or it was
    /// deleted) the floor is the oldest record found.
    fn load_segments(&mut self, no_state: bool) -> Result<(), SpoolError> {
        let mut found = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(io_at(&self.dir))? {
            let entry = entry.map_err(io_at(&self.dir))?;
            if let Some(first) = entry.file_name().to_str().and_then(segment::parse_name) {
                found.push((first, entry.path()));
            }
        }
        found.sort_unstable_by_key(|(first, _)| *first);

        let mut last_seq = 0;
        for (_, path) in found {
            let scanned = segment::scan(&path, last_seq)?;
            if scanned.valid_len < scanned.file_len {
                self.recovery.segments_cut += 1;
                self.recovery.bytes_cut += scanned.file_len - scanned.valid_len;
            }
            // A segment without a single record (or without our magic) holds
            // nothing worth keeping; dropping it also keeps a later roll from
            // colliding with its name.
            if scanned.records.is_empty() {
                segment::remove(&path)?;
                continue;
            }
            if scanned.valid_len < scanned.file_len {
                segment::truncate(&path, scanned.valid_len)?;
            }
            if no_state && last_seq == 0 {
                self.state.floor = scanned.records[0].0;
            }
            // Valid records follow the magic back to back.
            let mut offset = segment::MAGIC.len() as u64;
            let mut live = VecDeque::new();
            for &(seq, size) in &scanned.records {
                if seq >= self.state.floor {
                    live.push_back(Live { seq, size, offset });
                }
                offset += size;
            }
            self.live_count += live.len();
            self.live_bytes += live.iter().map(|l| l.size).sum::<u64>();
            last_seq = scanned.records.last().map_or(last_seq, |(seq, _)| *seq);
            self.segments.push_back(Segment {
                path,
                size: scanned.valid_len,
                live,
            });
        }
        // Records can be ahead of the state file only if it was lost: pushes
        // stay below the reservation in it.
        self.next_seq = self.state.next_seq.max(last_seq.saturating_add(1));
        self.state.next_seq = self.next_seq;
        self.state.floor = self.state.floor.min(self.next_seq);
        state::sync_dir(&self.dir)
    }

    /// Appends a record and returns its sequence number. Drops the oldest
    /// records first if the cap would be exceeded.
    pub fn push(&mut self, payload: &[u8]) -> Result<u64, SpoolError> {
        let size = record::HEADER_LEN + payload.len() as u64;
        let limit = self
            .opts
            .max_bytes
            .min(record::HEADER_LEN + record::MAX_PAYLOAD);
        if size > limit {
            return Err(SpoolError::TooLarge { len: size, limit });
        }
        self.make_room(size)?;
        let seq = self.next_seq;
        if seq >= self.state.next_seq {
            self.state.next_seq = seq.saturating_add(SEQ_RESERVE);
            state::store(&self.dir, &self.state)?;
            self.state_dirty = false;
        }
        let mut buf = Vec::with_capacity(size as usize);
        record::encode(seq, payload, &mut buf);
        self.ensure_writer(seq)?;
        let (Some(writer), Some(seg)) = (self.writer.as_mut(), self.segments.back_mut()) else {
            return Err(SpoolError::Corrupt {
                path: self.dir.clone(),
                reason: "no segment to write to after roll",
            });
        };
        if let Err(e) = writer.write_all(&buf) {
            // Take a partial write back so the next record does not land
            // behind a torn one (and get cut at the next open). If even that
            // fails, the next push starts a fresh segment instead.
            if writer.set_len(seg.size).is_err() {
                self.writer = None;
            }
            return Err(io_at(&seg.path)(e));
        }
        seg.live.push_back(Live {
            seq,
            size,
            offset: seg.size,
        });
        seg.size += size;
        self.live_bytes += size;
        self.live_count += 1;
        self.next_seq += 1;
        Ok(seq)
    }

    /// Makes sure there is an append handle for record `seq`, rolling to a
    /// new segment when the current one is full or there is none.
    fn ensure_writer(&mut self, seq: u64) -> Result<(), SpoolError> {
        let full = self
            .segments
            .back()
            .is_none_or(|s| s.size >= self.opts.segment_bytes);
        if self.writer.is_none() || full {
            if let Some(old) = self.writer.take() {
                // Finished segments are durable, so sync() only has the
                // current one to flush.
                let path = self.segments.back().map(|s| s.path.clone());
                old.sync_data().map_err(io_at(path.unwrap_or_default()))?;
            }
            // A segment left without records by a failed write carries the
            // name the new one needs.
            if self.segments.back().is_some_and(|s| s.live.is_empty()) {
                if let Some(dead) = self.segments.pop_back() {
                    segment::remove(&dead.path)?;
                }
            }
            let (path, file) = segment::create(&self.dir, seq)?;
            self.segments.push_back(Segment {
                path,
                size: segment::MAGIC.len() as u64,
                live: VecDeque::new(),
            });
            self.writer = Some(file);
        }
        Ok(())
    }

    /// Drops the oldest records until `incoming` more bytes fit the cap.
    fn make_room(&mut self, incoming: u64) -> Result<(), SpoolError> {
        while self.live_bytes + incoming > self.opts.max_bytes {
            let Some(Live { seq, size, .. }) = self.pop_oldest() else {
                break;
            };
            self.live_bytes -= size;
            self.live_count -= 1;
            self.state.floor = seq + 1;
            self.state.dropped += 1;
            self.state_dirty = true;
        }
        self.reclaim()
    }

    fn pop_oldest(&mut self) -> Option<Live> {
        self.segments.iter_mut().find_map(|s| s.live.pop_front())
    }

    /// Deletes the oldest segments that hold no waiting records, after the
    /// state saying why is on disk.
    fn reclaim(&mut self) -> Result<(), SpoolError> {
        let dead = self
            .segments
            .iter()
            .take_while(|s| s.live.is_empty())
            .count();
        if dead == 0 {
            return Ok(());
        }
        self.persist_drops()?;
        for _ in 0..dead {
            if let Some(seg) = self.segments.pop_front() {
                segment::remove(&seg.path)?;
            }
        }
        if self.segments.is_empty() {
            self.writer = None;
        }
        Ok(())
    }

    fn persist_drops(&mut self) -> Result<(), SpoolError> {
        if self.state_dirty {
            state::store(&self.dir, &self.state)?;
            self.state_dirty = false;
        }
        Ok(())
    }

    /// The records not acknowledged yet, oldest first, read back from disk.
    /// Holds the whole spool in memory; replay with [`Spool::pending_after`]
    /// when the cap is large.
    pub fn pending(&self) -> Result<Vec<(u64, Vec<u8>)>, SpoolError> {
        self.pending_after(0, u64::MAX)
    }

    /// The waiting records with a sequence number above `after`, oldest
    /// first, as many as fit in `max_bytes` of encoded size (always at
    /// least one if any is waiting): replay in batches, passing the last
    /// sequence number of one batch as `after` of the next.
    pub fn pending_after(
        &self,
        after: u64,
        max_bytes: u64,
    ) -> Result<Vec<(u64, Vec<u8>)>, SpoolError> {
        let from = after.saturating_add(1).max(self.state.floor);
        let mut out = Vec::new();
        let mut budget = max_bytes;
        for seg in self
            .segments
            .iter()
            .filter(|s| s.live.back().is_some_and(|l| l.seq >= from))
        {
            let first = seg.live.partition_point(|l| l.seq < from);
            let mut want = 0;
            let mut full = false;
            for l in seg.live.range(first..) {
                // The first record goes out whatever its size, or a budget
                // below one record would never make progress.
                if l.size > budget && !(out.is_empty() && want == 0) {
                    full = true;
                    break;
                }
                budget = budget.saturating_sub(l.size);
                want += 1;
            }
            if want > 0 {
                let l = seg.live[first];
                out.extend(segment::read_from(&seg.path, (l.offset, l.seq), want)?);
            }
            if full {
                break;
            }
        }
        Ok(out)
    }

    /// Forgets every record with a sequence number up to and including
    /// `up_to`, durably, and deletes the segments that held only those.
    /// Acks below what was already acked are no-ops; an ack above the last
    /// issued sequence number is refused and changes nothing.
    pub fn ack(&mut self, up_to: u64) -> Result<(), SpoolError> {
        let last = self.next_seq - 1;
        if up_to > last {
            return Err(SpoolError::AckBeyondEnd { seq: up_to, last });
        }
        if up_to < self.state.floor {
            return Ok(());
        }
        for seg in self.segments.iter_mut() {
            while let Some(&Live { seq, size, .. }) = seg.live.front() {
                if seq > up_to {
                    break;
                }
                seg.live.pop_front();
                self.live_bytes -= size;
                self.live_count -= 1;
            }
        }
        self.state.floor = up_to + 1;
        self.state_dirty = true;
        self.persist_drops()?;
        self.reclaim()
    }

    /// Moves the numbering past `seq`, for when the engine has applied
    /// sequence numbers this spool never issued (the spool was lost, or the
    /// host was enrolled again on a fresh install): the engine would count
    /// every number up to `seq` as a duplicate. Waiting records are
    /// forgotten (they are all at or below `seq`), and the next push gets
    /// `seq + 1`. Returns how many records were forgotten; a no-op when
    /// `seq` is below the next sequence number.
    pub fn skip_past(&mut self, seq: u64) -> Result<usize, SpoolError> {
        if seq < self.next_seq {
            return Ok(0);
        }
        let forgotten = self.live_count;
        self.ack(self.next_seq - 1)?;
        self.next_seq = seq.saturating_add(1);
        self.state.floor = self.next_seq;
        self.state.next_seq = self.next_seq.saturating_add(SEQ_RESERVE);
        state::store(&self.dir, &self.state)?;
        self.state_dirty = false;
        Ok(forgotten)
    }

    /// Makes every record pushed so far, and the drop count, survive a power
    /// loss.
    pub fn sync(&mut self) -> Result<(), SpoolError> {
        if let (Some(w), Some(seg)) = (self.writer.as_ref(), self.segments.back()) {
            w.sync_data().map_err(io_at(&seg.path))?;
        }
        if self.state_dirty {
            self.persist_drops()
        } else {
            state::sync_dir(&self.dir)
        }
    }

    /// Records discarded because the spool was full, over the spool's life.
    pub fn dropped(&self) -> u64 {
        self.state.dropped
    }

    /// Number of records waiting.
    pub fn len(&self) -> usize {
        self.live_count
    }

    /// Whether no record is waiting.
    pub fn is_empty(&self) -> bool {
        self.live_count == 0
    }

    /// Encoded size of the records waiting (what the cap limits).
    pub fn bytes(&self) -> u64 {
        self.live_bytes
    }

    /// The sequence number the next push will get.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// What the last open found damaged and cut away.
    pub fn recovery(&self) -> Recovery {
        self.recovery
    }

    /// Syncs and closes the spool, reporting errors that dropping it would
    /// swallow.
    pub fn close(mut self) -> Result<(), SpoolError> {
        self.sync()?;
        self.release_reservation()
    }

    /// Every push is on disk by now, so the state can say exactly which
    /// number comes next and the reserved ones are not skipped.
    fn release_reservation(&mut self) -> Result<(), SpoolError> {
        // An open that failed before the segments were read knows no
        // number to write down; the state file stays as it was.
        if self.next_seq == 0 {
            return Ok(());
        }
        if self.state.next_seq != self.next_seq || self.state_dirty {
            self.state.next_seq = self.next_seq;
            state::store(&self.dir, &self.state)?;
            self.state_dirty = false;
        }
        Ok(())
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        // Best effort: if this fails the drops are not recorded (the records
        // still on disk are pending again at the next open) and the
        // reserved sequence numbers are skipped; nothing is reused.
        let _ = self.release_reservation();
    }
}

#[cfg(test)]
mod tests;
