//! The DNS wire format, as much of it as the `dns` probe needs: one query
//! out ([`query`]), one response in ([`decode`]) with its A/AAAA answers.
//!
//! Hand-written rather than a DNS library: the probe needs a question
//! encoder and an answer-section reader, about 200 lines, against a
//! dependency tree that would slow every build on the shard machines.
//!
//! [`decode`] faces the network: every read is bounds-checked, a name
//! compression pointer must point strictly backwards of itself, and names
//! are capped at 255 bytes as RFC 1035 says. Together these end every
//! name: a run of pointers strictly descends, and a loop through labels
//! grows the name past the cap.
//! A malformed packet is a [`WireError`], never a panic.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Record type A (RFC 1035).
pub const TYPE_A: u16 = 1;
/// Record type AAAA (RFC 3596).
pub const TYPE_AAAA: u16 = 28;
/// Response code REFUSED.
pub const RCODE_REFUSED: u8 = 5;

/// Class IN.
const CLASS_IN: u16 = 1;
/// The longest name on the wire, length bytes included (RFC 1035 2.3.4).
const MAX_NAME: usize = 255;
/// The longest label.
const MAX_LABEL: usize = 63;

/// Why a response packet could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The packet ends inside a header, name or record.
    #[error("truncated packet")]
    Truncated,
    /// The QR bit is clear: a query, not a response.
    #[error("not a response")]
    NotResponse,
    /// A label type other than plain or pointer, or an overlong name.
    #[error("bad name")]
    BadName,
    /// A compression pointer that does not point backwards.
    #[error("bad compression pointer")]
    BadPointer,
    /// A well-formed answer to another question than the one asked.
    #[error("answer to another question")]
    Mismatch,
}

/// What the probe keeps of a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The message id.
    pub id: u16,
    /// The AA flag.
    pub authoritative: bool,
    /// The TC flag: the answer did not fit in UDP.
    pub truncated: bool,
    /// RCODE (low 4 bits of the flags).
    pub rcode: u8,
    /// The question's name, lower-cased, without the final dot.
    pub qname: String,
    /// The question's type.
    pub qtype: u16,
    /// How many records the answer section holds, of any type.
    pub answer_count: u16,
    /// A and AAAA records of the answer section, in order; other types
    /// (CNAME, ...) are skipped.
    pub addresses: Vec<Address>,
}

/// An address from the answer section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Address {
    /// An A record.
    V4(Ipv4Addr),
    /// An AAAA record.
    V6(Ipv6Addr),
}

/// Encodes a recursive query for `name` (dots between labels, a final dot
/// allowed). `None` when the name cannot go on the wire (empty or
/// overlong labels).
pub fn query(id: u16, name: &str, qtype: u16) -> Option<Vec<u8>> {
    let mut packet = Vec::with_capacity(18 + name.len());
    packet.extend_from_slice(&id.to_be_bytes());
    // RD set; one question.
    packet.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    let name = name.strip_suffix('.').unwrap_or(name);
    let start = packet.len();
    for label in name.split('.') {
        if label.is_empty() || label.len() > MAX_LABEL {
            return None;
        }
        // MAX_LABEL fits a byte.
        packet.push(label.len() as u8);
        packet.extend_from_slice(label.as_bytes());
    }
    packet.push(0);
    if packet.len() - start > MAX_NAME {
        return None;
    }
    packet.extend_from_slice(&qtype.to_be_bytes());
    packet.extend_from_slice(&CLASS_IN.to_be_bytes());
    Some(packet)
}

/// Reads a response packet.
///
/// # Errors
/// [`WireError`] when the packet is not a well-formed response.
pub fn decode(packet: &[u8]) -> Result<Response, WireError> {
    let mut r = Reader { packet, pos: 0 };
    let id = r.u16()?;
    let flags = r.u16()?;
    if flags & 0x8000 == 0 {
        return Err(WireError::NotResponse);
    }
    let qdcount = r.u16()?;
    let ancount = r.u16()?;
    r.skip(4)?;
    if qdcount != 1 {
        return Err(WireError::Truncated);
    }
    let qname = r.name()?;
    let qtype = r.u16()?;
    r.skip(2)?;
    let mut addresses = Vec::new();
    for _ in 0..ancount {
        r.name()?;
        let rtype = r.u16()?;
        let class = r.u16()?;
        r.skip(4)?;
        let len = usize::from(r.u16()?);
        let data = r.take(len)?;
        match (rtype, class, data.len()) {
            (TYPE_A, CLASS_IN, 4) => {
                let octets: [u8; 4] = data.try_into().map_err(|_| WireError::Truncated)?;
                addresses.push(Address::V4(Ipv4Addr::from(octets)));
            }
            (TYPE_AAAA, CLASS_IN, 16) => {
                let octets: [u8; 16] = data.try_into().map_err(|_| WireError::Truncated)?;
                addresses.push(Address::V6(Ipv6Addr::from(octets)));
            }
            _ => {}
        }
    }
    Ok(Response {
        id,
        authoritative: flags & 0x0400 != 0,
        truncated: flags & 0x0200 != 0,
        rcode: (flags & 0x000f) as u8,
        qname,
        qtype,
        answer_count: ancount,
        addresses,
    })
}

/// A cursor over the packet; every read checks the bounds.
struct Reader<'a> {
    packet: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self.pos.checked_add(n).ok_or(WireError::Truncated)?;
        let bytes = self.packet.get(self.pos..end).ok_or(WireError::Truncated)?;
        self.pos = end;
        Ok(bytes)
    }

    fn skip(&mut self, n: usize) -> Result<(), WireError> {
        self.take(n).map(|_| ())
    }

    fn u16(&mut self) -> Result<u16, WireError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    /// Reads a possibly compressed name, lower-cased, dots between labels.
    /// Leaves the cursor after the name's bytes at its original place.
    fn name(&mut self) -> Result<String, WireError> {
        let mut text = String::new();
        let mut wire_len = 0usize;
        let mut at = self.pos;
        // Where the cursor continues: after the first pointer, if any.
        let mut resume = None;
        loop {
            let len = *self.packet.get(at).ok_or(WireError::Truncated)?;
            match len & 0xc0 {
                0x00 if len == 0 => {
                    at += 1;
                    break;
                }
                0x00 => {
                    let label = self
                        .packet
                        .get(at + 1..at + 1 + usize::from(len))
                        .ok_or(WireError::Truncated)?;
                    wire_len += 1 + label.len();
                    if wire_len + 1 > MAX_NAME {
                        return Err(WireError::BadName);
                    }
                    if !text.is_empty() {
                        text.push('.');
                    }
                    push_label(&mut text, label);
                    at += 1 + label.len();
                }
                0xc0 => {
                    let low = *self.packet.get(at + 1).ok_or(WireError::Truncated)?;
                    let target = usize::from(u16::from_be_bytes([len & 0x3f, low]));
                    // Strictly backwards: pointer chains descend, and a
                    // cycle through labels hits MAX_NAME.
                    if target >= at {
                        return Err(WireError::BadPointer);
                    }
                    resume.get_or_insert(at + 2);
                    at = target;
                }
                _ => return Err(WireError::BadName),
            }
        }
        self.pos = resume.unwrap_or(at);
        Ok(text)
    }
}

/// Appends a label as presentation text: lower-cased, odd bytes and the
/// special `.`/`\` escaped as `\DDD` (names are compared, never shown).
fn push_label(text: &mut String, label: &[u8]) {
    for &b in label {
        if b.is_ascii_graphic() && b != b'.' && b != b'\\' {
            text.push(char::from(b.to_ascii_lowercase()));
        } else {
            text.push_str(&format!("\\{b:03}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A response to `query(7, "a.test", A)` with the given answers.
    fn response(answers: &[u8], ancount: u16) -> Vec<u8> {
        let mut p = query(7, "A.test", TYPE_A).expect("query");
        p[2] = 0x85; // QR, AA, RD
        p[3] = 0x80;
        p[6..8].copy_from_slice(&ancount.to_be_bytes());
        p.extend_from_slice(answers);
        p
    }

    #[test]
    fn query_encodes_labels() {
        let q = query(0x1234, "ok.test.", TYPE_AAAA).expect("query");
        assert_eq!(
            q,
            b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x02ok\x04test\x00\x00\x1c\x00\x01"
        );
        assert_eq!(query(1, "a..b", TYPE_A), None);
        assert_eq!(query(1, &"x".repeat(64), TYPE_A), None);
        assert_eq!(query(1, &["x"; 128].join("."), TYPE_A), None);
    }

    #[test]
    fn decodes_answers_through_compression() {
        // CNAME a.test -> b.a.test (pointer into it), then A b.a.test.
        let mut ans = Vec::new();
        ans.extend_from_slice(b"\xc0\x0c\x00\x05\x00\x01\x00\x00\x00\x3c\x00\x04\x01b\xc0\x0c");
        ans.extend_from_slice(b"\xc0\x24\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\xc0\x00\x02\x0a");
        let r = decode(&response(&ans, 2)).expect("decode");
        assert_eq!((r.id, r.rcode, r.authoritative), (7, 0, true));
        assert_eq!((r.qname.as_str(), r.qtype), ("a.test", TYPE_A));
        assert_eq!(r.addresses, vec![Address::V4(Ipv4Addr::new(192, 0, 2, 10))]);
    }

    #[test]
    fn hostile_packets_are_errors() {
        let ok = response(
            b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x01\x02\x03\x04",
            1,
        );
        // Every truncation of a good packet fails cleanly.
        for n in 0..ok.len() {
            assert!(decode(&ok[..n]).is_err(), "{n} bytes");
        }
        // A pointer to itself, and one pointing forwards.
        let looped = response(b"\xc0\x18\x00\x01", 1);
        assert_eq!(decode(&looped), Err(WireError::BadPointer));
        let forward = response(b"\xc0\x30\x00\x01", 1);
        assert_eq!(decode(&forward), Err(WireError::BadPointer));
        // A label, then a pointer back to it: a cycle that grows the name.
        let cycle = response(b"\x01a\xc0\x18\x00\x01", 1);
        assert_eq!(decode(&cycle), Err(WireError::BadName));
        let mut query_only = ok.clone();
        query_only[2] = 0x01;
        assert_eq!(decode(&query_only), Err(WireError::NotResponse));
        let extended = response(b"\x41\x00", 1);
        assert_eq!(decode(&extended), Err(WireError::BadName));
        // Answer count larger than the records present.
        assert_eq!(decode(&response(b"", 3)), Err(WireError::Truncated));
    }
}
