//! One record on disk: `len u32 | crc32 u32 | seq u64 | payload`, little endian.
//!
//! The CRC covers `seq` and the payload, so any flipped byte there is caught;
//! a damaged `len` either points past the file (torn), past
//! [`MAX_PAYLOAD`] (refused before allocating) or at the wrong bytes (the
//! CRC no longer matches).

use std::io::{self, Read};

/// Bytes in front of every payload.
pub(crate) const HEADER_LEN: u64 = 16;

/// Largest payload accepted. A check result is a few KiB; the limit keeps
/// a garbage length field from making the reader allocate gigabytes.
pub(crate) const MAX_PAYLOAD: u64 = 16 << 20;

/// Appends the encoded record to `out`. The caller has checked the length
/// against [`MAX_PAYLOAD`].
pub(crate) fn encode(seq: u64, payload: &[u8], out: &mut Vec<u8>) {
    let seq_bytes = seq.to_le_bytes();
    let mut crc = crc32fast::Hasher::new();
    crc.update(&seq_bytes);
    crc.update(payload);
    // Payload length fits: callers refuse anything above MAX_PAYLOAD (< 4 GiB).
    let len = payload.len() as u32;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.extend_from_slice(&seq_bytes);
    out.extend_from_slice(payload);
}

/// What the next bytes of a segment hold.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Next {
    /// A whole, valid record; its payload is in the caller's buffer.
    Record {
        /// Its sequence number.
        seq: u64,
    },
    /// A clean end of file at a record boundary.
    End,
    /// Not a valid record: everything from here on is cut.
    Bad(&'static str),
}

/// Reads one record from `r` into `payload`.
pub(crate) fn read(r: &mut impl Read, payload: &mut Vec<u8>) -> io::Result<Next> {
    let mut header = [0u8; HEADER_LEN as usize];
    match fill(r, &mut header)? {
        0 => return Ok(Next::End),
        n if n < header.len() => return Ok(Next::Bad("partial record header")),
        _ => {}
    }
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    let seq_bytes = [
        header[8], header[9], header[10], header[11], header[12], header[13], header[14],
        header[15],
    ];
    if u64::from(len) > MAX_PAYLOAD {
        return Ok(Next::Bad("record length beyond the limit"));
    }
    payload.clear();
    payload.resize(len as usize, 0);
    if fill(r, payload)? < payload.len() {
        return Ok(Next::Bad("partial record body"));
    }
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&seq_bytes);
    hasher.update(payload);
    if hasher.finalize() != crc {
        return Ok(Next::Bad("record checksum mismatch"));
    }
    Ok(Next::Record {
        seq: u64::from_le_bytes(seq_bytes),
    })
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn fill(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a test may unwrap: a panic is its failure
    use super::*;

    fn decode_all(bytes: &[u8]) -> (Vec<(u64, Vec<u8>)>, Next) {
        let mut r = bytes;
        let mut payload = Vec::new();
        let mut out = Vec::new();
        loop {
            match read(&mut r, &mut payload).unwrap() {
                Next::Record { seq } => out.push((seq, payload.clone())),
                other => return (out, other),
            }
        }
    }

    #[test]
    fn round_trip() {
        let mut buf = Vec::new();
        encode(1, b"hello", &mut buf);
        encode(2, b"", &mut buf);
        let (recs, end) = decode_all(&buf);
        assert_eq!(recs, vec![(1, b"hello".to_vec()), (2, Vec::new())]);
        assert_eq!(end, Next::End);
    }

    #[test]
    fn every_truncation_is_detected() {
        let mut buf = Vec::new();
        encode(7, b"payload", &mut buf);
        for cut in 1..buf.len() {
            let (recs, end) = decode_all(&buf[..cut]);
            assert!(recs.is_empty(), "cut at {cut}");
            assert!(matches!(end, Next::Bad(_)), "cut at {cut}: {end:?}");
        }
    }

    #[test]
    fn every_flipped_byte_after_len_is_detected() {
        let mut buf = Vec::new();
        encode(7, b"payload", &mut buf);
        for at in 4..buf.len() {
            let mut bad = buf.clone();
            bad[at] ^= 0x40;
            let (recs, end) = decode_all(&bad);
            assert!(recs.is_empty(), "flip at {at}");
            assert_eq!(end, Next::Bad("record checksum mismatch"), "flip at {at}");
        }
    }

    #[test]
    fn huge_length_is_refused_without_allocating() {
        let mut buf = vec![0xff, 0xff, 0xff, 0xff];
        buf.extend_from_slice(&[0; 12]);
        let (_, end) = decode_all(&buf);
        assert_eq!(end, Next::Bad("record length beyond the limit"));
    }
}
