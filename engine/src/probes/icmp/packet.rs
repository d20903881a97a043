//! ICMP echo packets (v4 and v6): building requests and reading replies.

/// The IP version, which sets the ICMP type numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// ICMP over IPv4.
    V4,
    /// ICMPv6.
    V6,
}

impl Version {
    /// The echo request and echo reply types.
    fn types(self) -> (u8, u8) {
        match self {
            Version::V4 => (8, 0),
            Version::V6 => (128, 129),
        }
    }
}

/// The identifier and sequence number of an echo reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Echo {
    /// The echo identifier.
    pub ident: u16,
    /// The echo sequence number.
    pub seq: u16,
}

/// An echo request with `payload`. The ICMPv4 checksum is filled in
/// (datagram sockets recompute it, raw ones send it as is); ICMPv6's
/// covers a pseudo-header, and the kernel always computes it.
pub fn echo_request(version: Version, ident: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(8 + payload.len());
    p.extend_from_slice(&[version.types().0, 0, 0, 0]);
    p.extend_from_slice(&ident.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(payload);
    if version == Version::V4 {
        let sum = checksum(&p).to_be_bytes();
        p[2..4].copy_from_slice(&sum);
    }
    p
}

/// Reads an echo reply; with `ip_header` (raw IPv4 sockets) the datagram
/// starts with the IPv4 header. Anything else (other ICMP types,
/// truncated or bad packets) is `None`.
pub fn parse_reply(version: Version, datagram: &[u8], ip_header: bool) -> Option<Echo> {
    let icmp = if ip_header {
        let first = *datagram.first()?;
        if first >> 4 != 4 {
            return None;
        }
        datagram.get(usize::from(first & 0x0f) * 4..)?
    } else {
        datagram
    };
    let header = icmp.get(..8)?;
    if header[0] != version.types().1 || header[1] != 0 {
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

    /// A minimal IPv4 header (20 bytes) for `len` payload bytes.
    pub(crate) fn ipv4_header(len: usize) -> Vec<u8> {
        let total = u16::try_from(20 + len).expect("small packet").to_be_bytes();
        let mut h = vec![0x45, 0, total[0], total[1], 0, 0, 0, 0, 64, 1, 0, 0];
        h.extend_from_slice(&[127, 0, 0, 1, 127, 0, 0, 1]);
        h
    }

    #[test]
    fn requests_checksum_to_zero_and_replies_parse() {
        use Version::{V4, V6};
        let mut p = echo_request(V4, 0x1234, 7, b"abc");
        assert_eq!(checksum(&p), 0);
        assert_eq!(parse_reply(V4, &p, false), None, "a request is no reply");
        p[0] = 0;
        let want = Some(Echo {
            ident: 0x1234,
            seq: 7,
        });
        assert_eq!(parse_reply(V4, &p, false), want);
        assert_eq!(
            parse_reply(V6, &p, false),
            None,
            "type 0 is no ICMPv6 reply"
        );
        let mut raw = ipv4_header(p.len());
        raw.extend_from_slice(&p);
        assert_eq!(parse_reply(V4, &raw, true), want);
        assert_eq!(parse_reply(V4, &raw[..24], true), None);
        assert_eq!(parse_reply(V4, &[], true), None);
        assert_eq!(parse_reply(V4, &[0x60; 40], true), None);

        let mut p6 = echo_request(V6, 0x1234, 7, b"abc");
        assert_eq!(&p6[..4], &[128, 0, 0, 0], "the kernel fills the checksum");
        assert_eq!(parse_reply(V6, &p6, false), None);
        p6[0] = 129;
        assert_eq!(parse_reply(V6, &p6, false), want);
    }

    #[test]
    fn checksum_matches_rfc_1071() {
        // RFC 1071 section 3's example sums to 0xddf2; odd lengths pad.
        let table: &[(&[u8], u16)] = &[
            (&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7], !0xddf2),
            (&[0xff], !0xff00),
            (&[], 0xffff),
        ];
        for &(bytes, want) in table {
            assert_eq!(checksum(bytes), want, "{bytes:02x?}");
        }
    }
}
