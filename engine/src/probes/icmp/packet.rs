//! ICMPv4 echo packets: building requests and reading replies.

/// ICMP type of an echo reply.
const ECHO_REPLY: u8 = 0;
/// ICMP type of an echo request.
const ECHO_REQUEST: u8 = 8;

/// The identifier and sequence number of an echo reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Echo {
    /// The echo identifier.
    pub ident: u16,
    /// The echo sequence number.
    pub seq: u16,
}

/// An echo request with `payload`, checksum filled in (datagram sockets
/// recompute it; raw ones send it as is).
pub fn echo_request(ident: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(8 + payload.len());
    p.extend_from_slice(&[ECHO_REQUEST, 0, 0, 0]);
    p.extend_from_slice(&ident.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(payload);
    let sum = checksum(&p).to_be_bytes();
    p[2..4].copy_from_slice(&sum);
    p
}

/// Reads an echo reply; `raw` datagrams start with the IPv4 header.
/// Anything else (other ICMP types, truncated or bad packets) is `None`.
pub fn parse_reply(datagram: &[u8], raw: bool) -> Option<Echo> {
    let icmp = if raw {
        let first = *datagram.first()?;
        if first >> 4 != 4 {
            return None;
        }
        datagram.get(usize::from(first & 0x0f) * 4..)?
    } else {
        datagram
    };
    let header = icmp.get(..8)?;
    if header[0] != ECHO_REPLY || header[1] != 0 {
        return None;
    }
    Some(Echo {
        ident: u16::from_be_bytes([header[4], header[5]]),
        seq: u16::from_be_bytes([header[6], header[7]]),
    })
}

/// The Internet checksum (RFC 1071).
fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)])))
        .sum();
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    /// A minimal IPv4 header (20 bytes) from `src` for `len` payload bytes.
    pub(crate) fn ipv4_header(src: Ipv4Addr, len: usize) -> Vec<u8> {
        let total = u16::try_from(20 + len).expect("small packet").to_be_bytes();
        let mut h = vec![0x45, 0, total[0], total[1], 0, 0, 0, 0, 64, 1, 0, 0];
        h.extend_from_slice(&src.octets());
        h.extend_from_slice(&[127, 0, 0, 1]);
        h
    }

    #[test]
    fn requests_checksum_to_zero_and_replies_parse() {
        let mut p = echo_request(0x1234, 7, b"abc");
        assert_eq!(checksum(&p), 0);
        assert_eq!(parse_reply(&p, false), None, "a request is no reply");
        p[0] = ECHO_REPLY;
        let want = Some(Echo {
            ident: 0x1234,
            seq: 7,
        });
        assert_eq!(parse_reply(&p, false), want);
        let mut raw = ipv4_header(Ipv4Addr::LOCALHOST, p.len());
        raw.extend_from_slice(&p);
        assert_eq!(parse_reply(&raw, true), want);
        assert_eq!(parse_reply(&raw[..24], true), None);
        assert_eq!(parse_reply(&[], true), None);
        assert_eq!(parse_reply(&[0x60; 40], true), None);
    }
}
