//! The spool through its public API: across reopen, at the cap, and against
//! a `VecDeque` model.
#![allow(clippy::unwrap_used)] // a test may unwrap: a panic is its failure

use std::collections::VecDeque;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use proptest::prelude::*;
use vedette_agent::spool::{Spool, SpoolError, SpoolOptions};

/// Encoded bytes per record on top of its payload.
const HEADER: u64 = 16;

/// A directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "vedette-spool-it-{tag}-{}-{}",
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

fn segment_files(dir: &Path) -> usize {
    fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "seg")
        })
        .count()
}

fn seqs(spool: &Spool) -> Vec<u64> {
    spool.pending().unwrap().into_iter().map(|r| r.0).collect()
}

#[test]
fn push_pending_ack_across_reopen() {
    let tmp = TempDir::new("reopen");
    let mut spool = Spool::open(&tmp.0, 1 << 20).unwrap();
    assert!(spool.is_empty());
    for i in 1..=5u64 {
        assert_eq!(spool.push(format!("result {i}").as_bytes()).unwrap(), i);
    }
    drop(spool);

    let mut spool = Spool::open(&tmp.0, 1 << 20).unwrap();
    assert_eq!(spool.len(), 5);
    assert_eq!(spool.bytes(), 5 * (HEADER + 8));
    let pending = spool.pending().unwrap();
    assert_eq!(pending[0], (1, b"result 1".to_vec()));
    assert_eq!(pending[4], (5, b"result 5".to_vec()));
    spool.ack(3).unwrap();
    assert_eq!(seqs(&spool), [4, 5]);
    spool.close().unwrap();

    let spool = Spool::open(&tmp.0, 1 << 20).unwrap();
    assert_eq!(seqs(&spool), [4, 5]);
    assert_eq!(spool.recovery(), Default::default());
}

#[test]
fn sequence_continues_after_reopen_and_after_all_acked() {
    let tmp = TempDir::new("seq");
    let opts = SpoolOptions {
        max_bytes: 1 << 20,
        segment_bytes: 64,
    };
    let mut spool = Spool::open_with(&tmp.0, opts).unwrap();
    for _ in 0..10 {
        spool.push(b"0123456789abcdef").unwrap();
    }
    assert!(segment_files(&tmp.0) > 1, "small segments should roll");
    drop(spool);

    let mut spool = Spool::open_with(&tmp.0, opts).unwrap();
    assert_eq!(spool.push(b"eleven").unwrap(), 11);
    spool.ack(11).unwrap();
    assert!(spool.is_empty());
    assert_eq!(segment_files(&tmp.0), 0, "acked segments are deleted");
    drop(spool);

    let mut spool = Spool::open_with(&tmp.0, opts).unwrap();
    assert!(spool.is_empty());
    assert_eq!(spool.push(b"twelve").unwrap(), 12);
    assert_eq!(seqs(&spool), [12]);
}

#[test]
fn full_spool_drops_oldest_and_counts_across_reopen() {
    let tmp = TempDir::new("cap");
    let record = HEADER + 10;
    let opts = SpoolOptions {
        max_bytes: 4 * record,
        segment_bytes: 2 * record,
    };
    let mut spool = Spool::open_with(&tmp.0, opts).unwrap();
    for _ in 0..10 {
        spool.push(b"0123456789").unwrap();
    }
    assert_eq!(spool.dropped(), 6);
    assert_eq!(spool.bytes(), 4 * record);
    assert_eq!(seqs(&spool), [7, 8, 9, 10]);
    drop(spool);

    let spool = Spool::open_with(&tmp.0, opts).unwrap();
    assert_eq!(spool.dropped(), 6);
    assert_eq!(seqs(&spool), [7, 8, 9, 10]);
    // Dropped segments are gone from disk, not just from the index.
    assert!(segment_files(&tmp.0) <= 3);
    drop(spool);

    // A smaller cap at the next open drops more, and counts them.
    let small = SpoolOptions {
        max_bytes: 2 * record,
        ..opts
    };
    let spool = Spool::open_with(&tmp.0, small).unwrap();
    assert_eq!(spool.dropped(), 8);
    assert_eq!(seqs(&spool), [9, 10]);
}

#[test]
fn caller_mistakes_are_refused_without_change() {
    let tmp = TempDir::new("mistakes");
    let err = Spool::open(&tmp.0, 3).unwrap_err();
    assert!(matches!(err, SpoolError::InvalidCap { .. }), "{err}");

    let mut spool = Spool::open(&tmp.0, 100).unwrap();
    let err = spool.push(&[0; 85]).unwrap_err();
    assert!(matches!(err, SpoolError::TooLarge { .. }), "{err}");
    assert_eq!(spool.push(&[0; 84]).unwrap(), 1);

    let err = spool.ack(2).unwrap_err();
    assert!(
        matches!(err, SpoolError::AckBeyondEnd { seq: 2, last: 1 }),
        "{err}"
    );
    assert_eq!(spool.len(), 1);
    spool.ack(0).unwrap();
    assert_eq!(spool.len(), 1);
    spool.ack(1).unwrap();
    spool.ack(1).unwrap();
    assert!(spool.is_empty());
    assert_eq!(spool.dropped(), 0);
}

/// Everything pending, read `batch` bytes at a time as a reconnecting agent
/// would.
fn replay_in_batches(spool: &Spool, batch: u64) -> Vec<(u64, Vec<u8>)> {
    let mut out: Vec<(u64, Vec<u8>)> = Vec::new();
    loop {
        let after = out.last().map_or(0, |r| r.0);
        let got = spool.pending_after(after, batch).unwrap();
        if got.is_empty() {
            return out;
        }
        let size: u64 = got.iter().map(|(_, p)| HEADER + p.len() as u64).sum();
        assert!(got.len() == 1 || size <= batch, "batch of {size} > {batch}");
        out.extend(got);
    }
}

#[test]
fn replay_in_batches_resumes_after_the_last_sent() {
    let tmp = TempDir::new("batches");
    let opts = SpoolOptions {
        max_bytes: 1 << 20,
        segment_bytes: 100,
    };
    let mut spool = Spool::open_with(&tmp.0, opts).unwrap();
    for i in 0..20u8 {
        spool.push(&[i; 10]).unwrap();
    }
    spool.ack(5).unwrap();
    let first = spool.pending_after(0, 3 * (HEADER + 10)).unwrap();
    assert_eq!(first.iter().map(|r| r.0).collect::<Vec<_>>(), [6, 7, 8]);
    assert_eq!(first[0].1, [5; 10]);
    let next = spool.pending_after(8, 2 * (HEADER + 10)).unwrap();
    assert_eq!(next.iter().map(|r| r.0).collect::<Vec<_>>(), [9, 10]);
    // A budget below one record still makes progress.
    assert_eq!(spool.pending_after(10, 1).unwrap().len(), 1);
    assert!(spool.pending_after(20, 1 << 20).unwrap().is_empty());
    assert_eq!(replay_in_batches(&spool, 50).len(), 15);
}

#[derive(Debug, Clone)]
enum Action {
    Push(Vec<u8>),
    /// Ack up to the n-th pending record (past the end: beyond the last seq).
    Ack(usize),
    Sync,
    Reopen,
    /// The process dies: no close, no `Drop`.
    Crash,
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        6 => proptest::collection::vec(any::<u8>(), 0..48).prop_map(Action::Push),
        2 => (0usize..12).prop_map(Action::Ack),
        1 => Just(Action::Sync),
        1 => Just(Action::Reopen),
        1 => Just(Action::Crash),
    ]
}

/// What the spool should hold.
#[derive(Default)]
struct Model {
    records: VecDeque<(u64, Vec<u8>)>,
    next_seq: u64,
    dropped: u64,
}

impl Model {
    fn bytes(&self) -> u64 {
        self.records
            .iter()
            .map(|(_, p)| HEADER + p.len() as u64)
            .sum()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn matches_a_vecdeque_model(
        max_bytes in 16u64..400,
        segment_bytes in 8u64..200,
        batch in 0u64..120,
        actions in proptest::collection::vec(action(), 1..60),
    ) {
        let tmp = TempDir::new("model");
        let opts = SpoolOptions { max_bytes, segment_bytes };
        let mut spool = Spool::open_with(&tmp.0, opts).unwrap();
        let mut model = Model { next_seq: 1, ..Model::default() };

        for action in actions {
            match action {
                Action::Push(payload) => {
                    let size = HEADER + payload.len() as u64;
                    let got = spool.push(&payload);
                    if size > max_bytes {
                        prop_assert!(matches!(got, Err(SpoolError::TooLarge { .. })), "{got:?}");
                        continue;
                    }
                    while model.bytes() + size > max_bytes {
                        model.records.pop_front();
                        model.dropped += 1;
                    }
                    prop_assert_eq!(got.unwrap(), model.next_seq);
                    model.records.push_back((model.next_seq, payload));
                    model.next_seq += 1;
                }
                Action::Ack(n) => {
                    let up_to = match model.records.get(n) {
                        Some((seq, _)) => *seq,
                        None => model.next_seq + (n as u64 % 2) - 1,
                    };
                    let got = spool.ack(up_to);
                    if up_to >= model.next_seq {
                        prop_assert!(
                            matches!(got, Err(SpoolError::AckBeyondEnd { .. })),
                            "{got:?}"
                        );
                    } else {
                        got.unwrap();
                        model.records.retain(|(seq, _)| *seq > up_to);
                    }
                }
                Action::Sync => spool.sync().unwrap(),
                Action::Reopen => {
                    drop(spool);
                    spool = Spool::open_with(&tmp.0, opts).unwrap();
                    prop_assert_eq!(spool.recovery(), Default::default());
                }
                Action::Crash => {
                    std::mem::forget(spool);
                    spool = Spool::open_with(&tmp.0, opts).unwrap();
                    prop_assert_eq!(spool.recovery(), Default::default());
                    // Drops not yet written down are undone (the records are
                    // pending again) or redone, never lost or counted twice;
                    // the reserved sequence numbers are skipped.
                    let pending = spool.pending().unwrap();
                    prop_assert!(pending.len() >= model.records.len(), "records lost in a crash");
                    let extra = pending.len() - model.records.len();
                    prop_assert_eq!(&pending[extra..], &Vec::from(model.records.clone())[..]);
                    prop_assert_eq!(spool.dropped() + extra as u64, model.dropped);
                    prop_assert!(spool.next_seq() >= model.next_seq);
                    model.records = pending.into();
                    model.dropped = spool.dropped();
                    model.next_seq = spool.next_seq();
                }
            }
            prop_assert_eq!(spool.len(), model.records.len());
            prop_assert_eq!(spool.bytes(), model.bytes());
            prop_assert_eq!(spool.dropped(), model.dropped);
            prop_assert_eq!(spool.next_seq(), model.next_seq);
            prop_assert_eq!(spool.pending().unwrap(), Vec::from(model.records.clone()));
            prop_assert_eq!(replay_in_batches(&spool, batch), Vec::from(model.records.clone()));
        }
    }
}

/// Every segment file in `dir`, oldest first.
fn segment_paths(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    out.sort();
    out
}

/// Damage done to the files of a spool whose process died.
#[derive(Debug, Clone)]
enum Damage {
    /// Cut the newest segment to this fraction (per mille) of its length.
    Truncate(u16),
    /// XOR a byte of some segment (index, position per mille, mask).
    Flip(usize, u16, u8),
    /// Overwrite some segment with these bytes.
    Replace(usize, Vec<u8>),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (0u16..1000).prop_map(Damage::Truncate),
        (any::<usize>(), 0u16..1000, 1u8..=255).prop_map(|(i, at, m)| Damage::Flip(i, at, m)),
        (
            any::<usize>(),
            proptest::collection::vec(any::<u8>(), 0..200)
        )
            .prop_map(|(i, b)| Damage::Replace(i, b)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// A crash plus damaged files: open never fails or panics, what survives
    /// is a subsequence of what was pushed with the same payloads, and no
    /// sequence number is handed out twice.
    #[test]
    fn damaged_files_are_cut_never_a_panic(
        payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 1..40),
        acked in 0usize..40,
        damage in damage(),
    ) {
        let tmp = TempDir::new("damage");
        let opts = SpoolOptions { max_bytes: 1 << 20, segment_bytes: 100 };
        let mut spool = Spool::open_with(&tmp.0, opts).unwrap();
        let mut pushed = Vec::new();
        for p in &payloads {
            pushed.push((spool.push(p).unwrap(), p.clone()));
        }
        let acked = acked.min(pushed.len());
        spool.ack(acked as u64).unwrap();
        let last = spool.next_seq() - 1;
        // The process dies: nothing runs on the way out.
        std::mem::forget(spool);

        let segs = segment_paths(&tmp.0);
        if !segs.is_empty() {
            match damage {
                Damage::Truncate(frac) => {
                    let seg = &segs[segs.len() - 1];
                    let len = fs::metadata(seg).unwrap().len();
                    let f = fs::OpenOptions::new().write(true).open(seg).unwrap();
                    f.set_len(len * u64::from(frac) / 1000).unwrap();
                }
                Damage::Flip(i, at, mask) => {
                    let seg = &segs[i % segs.len()];
                    let mut bytes = fs::read(seg).unwrap();
                    if !bytes.is_empty() {
                        let at = bytes.len() * usize::from(at) / 1000;
                        bytes[at] ^= mask;
                        fs::write(seg, &bytes).unwrap();
                    }
                }
                Damage::Replace(i, garbage) => fs::write(&segs[i % segs.len()], garbage).unwrap(),
            }
        }

        let mut spool = Spool::open_with(&tmp.0, opts).unwrap();
        let survived = spool.pending().unwrap();
        let mut rest = pushed[acked..].iter();
        for record in &survived {
            prop_assert!(
                rest.any(|p| p == record),
                "{record:?} was not pushed (or is out of order)"
            );
        }
        prop_assert_eq!(spool.len(), survived.len());
        prop_assert!(spool.push(b"after").unwrap() > last);
    }
}

/// The agent moves the spool into a blocking task.
#[test]
fn spool_can_move_between_threads() {
    fn is_send<T: Send>() {}
    is_send::<Spool>();
    is_send::<SpoolError>();
}
