//! Crash recovery: damaged files on disk, checked against the exact bytes.
#![allow(clippy::unwrap_used)] // a test may unwrap: a panic is its failure

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use super::*;

/// A directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "vedette-spool-unit-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&path);
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    out.sort();
    out
}

fn payloads(spool: &Spool) -> Vec<(u64, Vec<u8>)> {
    spool.pending().unwrap()
}

/// Three records of 16 + 10 bytes each in one segment.
fn three_records(dir: &Path) -> PathBuf {
    let mut spool = Spool::open(dir, 1 << 20).unwrap();
    for p in [b"record-one", b"record-two", b"record-3rd"] {
        spool.push(p).unwrap();
    }
    spool.close().unwrap();
    let segs = segments(dir);
    assert_eq!(segs.len(), 1);
    assert_eq!(fs::metadata(&segs[0]).unwrap().len(), 8 + 3 * 26);
    segs[0].clone()
}

#[test]
fn truncated_last_record_is_cut_and_reported() {
    let tmp = TempDir::new("torn");
    let seg = three_records(&tmp.0);
    let file = OpenOptions::new().write(true).open(&seg).unwrap();
    file.set_len(8 + 2 * 26 + 5).unwrap();
    drop(file);

    let mut spool = Spool::open(&tmp.0, 1 << 20).unwrap();
    assert_eq!(
        spool.recovery(),
        Recovery {
            segments_cut: 1,
            bytes_cut: 5
        }
    );
    assert_eq!(
        payloads(&spool),
        vec![(1, b"record-one".to_vec()), (2, b"record-two".to_vec())]
    );
    assert_eq!(fs::metadata(&seg).unwrap().len(), 8 + 2 * 26);
    // The torn record's number was never acknowledged by anyone, but it may
    // have been sent: it is not handed out again.
    assert_eq!(spool.push(b"after").unwrap(), 4);
    assert_eq!(payloads(&spool).len(), 3);
}

#[test]
fn flipped_byte_cuts_from_that_record_on() {
    let tmp = TempDir::new("flip");
    let seg = three_records(&tmp.0);
    let mut bytes = fs::read(&seg).unwrap();
    bytes[8 + 26 + 20] ^= 0x01; // inside record 2's payload
    fs::write(&seg, &bytes).unwrap();

    let spool = Spool::open(&tmp.0, 1 << 20).unwrap();
    assert_eq!(spool.recovery().bytes_cut, 2 * 26);
    assert_eq!(payloads(&spool), vec![(1, b"record-one".to_vec())]);
    assert_eq!(spool.len(), 1);
    assert_eq!(spool.bytes(), 26);
    assert_eq!(spool.next_seq(), 4);
}

#[test]
fn garbage_segment_is_removed_and_reported() {
    let tmp = TempDir::new("garbage-seg");
    let seg = three_records(&tmp.0);
    let garbage: Vec<u8> = (0..5000u32).map(|i| (i * 7919 % 251) as u8).collect();
    fs::write(&seg, &garbage).unwrap();
    // Not a segment name: left alone.
    fs::write(tmp.0.join("notes.txt"), b"hello").unwrap();

    let mut spool = Spool::open(&tmp.0, 1 << 20).unwrap();
    assert_eq!(
        spool.recovery(),
        Recovery {
            segments_cut: 1,
            bytes_cut: 5000
        }
    );
    assert!(spool.is_empty());
    assert!(!seg.exists());
    assert!(tmp.0.join("notes.txt").exists());
    assert_eq!(spool.push(b"x").unwrap(), 4);
}

#[test]
fn garbage_behind_valid_magic_is_cut() {
    let tmp = TempDir::new("garbage-tail");
    let seg = three_records(&tmp.0);
    let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
    f.write_all(&[0xff; 100]).unwrap();
    drop(f);
    let spool = Spool::open(&tmp.0, 1 << 20).unwrap();
    assert_eq!(spool.recovery().bytes_cut, 100);
    assert_eq!(spool.len(), 3);
}

#[test]
fn out_of_order_sequence_is_cut() {
    let tmp = TempDir::new("order");
    let seg = three_records(&tmp.0);
    // Append a well-formed record that reuses sequence number 2.
    let mut buf = Vec::new();
    record::encode(2, b"replayed", &mut buf);
    let mut f = OpenOptions::new().append(true).open(&seg).unwrap();
    f.write_all(&buf).unwrap();
    drop(f);
    let spool = Spool::open(&tmp.0, 1 << 20).unwrap();
    assert_eq!(spool.recovery().bytes_cut, buf.len() as u64);
    assert_eq!(spool.len(), 3);
}

#[test]
fn garbage_state_file_is_a_clear_error() {
    let tmp = TempDir::new("garbage-state");
    three_records(&tmp.0);
    fs::write(tmp.0.join(state::FILE_NAME), b"not a state file at all").unwrap();
    let err = Spool::open(&tmp.0, 1 << 20).unwrap_err();
    assert!(
        matches!(err, SpoolError::CorruptState { .. }),
        "unexpected: {err}"
    );
    assert!(err.to_string().contains("spool.state"), "{err}");
}

#[test]
fn lost_state_file_recovers_from_segments() {
    let tmp = TempDir::new("lost-state");
    three_records(&tmp.0);
    fs::remove_file(tmp.0.join(state::FILE_NAME)).unwrap();
    let mut spool = Spool::open(&tmp.0, 1 << 20).unwrap();
    assert_eq!(spool.len(), 3);
    assert_eq!(spool.push(b"four").unwrap(), 4);
}

#[test]
fn unsynced_drops_come_back_after_a_crash() {
    let tmp = TempDir::new("crash-drop");
    let opts = SpoolOptions {
        max_bytes: 3 * 26,
        segment_bytes: 1 << 20,
    };
    let mut spool = Spool::open_with(&tmp.0, opts).unwrap();
    for p in [b"record-one", b"record-two", b"record-3rd", b"record-4th"] {
        spool.push(p).unwrap();
    }
    assert_eq!(spool.dropped(), 1);
    // A crash: no Drop, so the drop is never written down.
    std::mem::forget(spool);
    let spool = Spool::open_with(&tmp.0, opts).unwrap();
    // Four records on disk, three fit: the oldest is dropped again and
    // counted once.
    assert_eq!(spool.dropped(), 1);
    assert_eq!(
        payloads(&spool).iter().map(|r| r.0).collect::<Vec<_>>(),
        [2, 3, 4]
    );
}

#[test]
fn numbers_of_records_lost_in_a_crash_are_not_reused() {
    let tmp = TempDir::new("crash-seq");
    let mut spool = Spool::open(&tmp.0, 1 << 20).unwrap();
    assert_eq!(spool.push(b"one").unwrap(), 1);
    assert_eq!(spool.push(b"two").unwrap(), 2);
    std::mem::forget(spool);
    // Record 2 was torn (and may have been sent before the crash).
    let seg = &segments(&tmp.0)[0];
    let file = OpenOptions::new().write(true).open(seg).unwrap();
    file.set_len(8 + 19 + 3).unwrap();
    drop(file);
    let mut spool = Spool::open(&tmp.0, 1 << 20).unwrap();
    assert_eq!(payloads(&spool), vec![(1, b"one".to_vec())]);
    assert_eq!(spool.push(b"three").unwrap(), 1 + SEQ_RESERVE);
}

#[test]
fn failed_open_leaves_the_state_alone() {
    let tmp = TempDir::new("failed-open");
    three_records(&tmp.0);
    // Something named like a segment that cannot be read as one.
    let odd = tmp.0.join(segment::file_name(99));
    fs::create_dir(&odd).unwrap();
    let err = Spool::open(&tmp.0, 1 << 20).unwrap_err();
    assert!(matches!(err, SpoolError::Io { .. }), "unexpected: {err}");
    assert!(err.to_string().contains(&*odd.to_string_lossy()), "{err}");
    fs::remove_dir(&odd).unwrap();
    let mut spool = Spool::open(&tmp.0, 1 << 20).unwrap();
    assert_eq!(spool.len(), 3);
    assert_eq!(spool.push(b"four").unwrap(), 4);
}

#[test]
fn skip_past_numbers_the_engine_already_applied() {
    let dir = TempDir::new("skip");
    let mut spool = Spool::open(&dir.0, 1 << 20).unwrap();
    assert_eq!(spool.skip_past(0).unwrap(), 0);
    for _ in 0..3 {
        spool.push(b"x").unwrap();
    }
    assert_eq!(
        spool.skip_past(2).unwrap(),
        0,
        "below the next number: no-op"
    );
    assert_eq!(spool.len(), 3);
    assert_eq!(spool.skip_past(500).unwrap(), 3);
    assert!(spool.is_empty());
    assert_eq!(spool.push(b"y").unwrap(), 501);
    spool.close().unwrap();
    let spool = Spool::open(&dir.0, 1 << 20).unwrap();
    assert_eq!(spool.next_seq(), 502);
    assert_eq!(payloads(&spool), vec![(501, b"y".to_vec())]);
}

/// Replay in budgeted batches, as the outbox does, across many segments,
/// an ack and a reopen: every waiting record once, in order, intact.
#[test]
fn batched_replay_reads_each_waiting_record_once_in_order() {
    let dir = TempDir::new("replay");
    let opts = SpoolOptions {
        max_bytes: 1 << 20,
        segment_bytes: 256,
    };
    let payload = |n: u64| format!("result-{n:04}-{}", "x".repeat((n % 7) as usize)).into_bytes();
    let mut spool = Spool::open_with(&dir.0, opts).unwrap();
    for n in 1..=300 {
        assert_eq!(spool.push(&payload(n)).unwrap(), n);
    }
    spool.ack(41).unwrap();
    let replay = |spool: &Spool| {
        let (mut after, mut got) = (0, Vec::new());
        loop {
            let batch = spool.pending_after(after, 100).unwrap();
            let Some(&(last, _)) = batch.last() else {
                break;
            };
            got.extend(batch);
            after = last;
        }
        got
    };
    let want: Vec<(u64, Vec<u8>)> = (42..=300).map(|n| (n, payload(n))).collect();
    assert!(
        segments(&dir.0).len() > 10,
        "the records span many segments"
    );
    assert_eq!(replay(&spool), want);
    spool.close().unwrap();
    let spool = Spool::open_with(&dir.0, opts).unwrap();
    assert_eq!(replay(&spool), want, "after a reopen");
}
