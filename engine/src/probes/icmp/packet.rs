//! ICMP echo packets (v4 and v6): building requests, reading replies and
//! the ICMP errors that quote our requests.

use std::net::IpAddr;

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
    let icmp = strip_ip_header(datagram, ip_header)?;
    let header = icmp.get(..8)?;
    if header[0] != version.types().1 || header[1] != 0 {
        return None;
    }
    Some(Echo {
        ident: u16::from_be_bytes([header[4], header[5]]),
        seq: u16::from_be_bytes([header[6], header[7]]),
    })
}

/// An ICMP error that came back instead of an echo reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpError {
    /// The family, which sets the meaning of type and code.
    pub version: Version,
    /// The ICMP type.
    pub kind: u8,
    /// The ICMP code.
    pub code: u8,
    /// Who sent the error (the target itself, or a router on the way).
    pub from: IpAddr,
}

impl IcmpError {
    /// check_ping's words for the error: `ping` prints a line for it and
    /// the plugin's `error_scan` matches that line's text. `None` for
    /// errors whose line the scan does not know (fragmentation needed,
    /// source route failed, ...): for the plugin those are loss.
    pub fn ping_text(&self) -> Option<&'static str> {
        Some(match (self.version, self.kind, self.code) {
            // iputils: "Destination Net Unreachable [for Type of Service]".
            (Version::V4, 3, 0 | 11) => "Network Unreachable",
            (Version::V4, 3, 1 | 12) => "Host Unreachable",
            (Version::V4, 3, 2) => "Bogus ICMP: Protocol Unreachable",
            (Version::V4, 3, 3) => "Bogus ICMP: Port Unreachable",
            (Version::V4, 3, 9) => "Network Prohibited",
            (Version::V4, 3, 10) => "Host Prohibited",
            (Version::V4, 3, 13) => "Packet Filtered",
            (Version::V4, 11, 0) => "Time to live exceeded",
            // iputils: "Destination unreachable: No route" and so on.
            (Version::V6, 1, 0) => "Network Unreachable",
            (Version::V6, 1, 1) => "Packet Filtered",
            (Version::V6, 1, 3) => "Host Unreachable",
            (Version::V6, 1, 4) => "Bogus ICMP: Port Unreachable",
            (Version::V6, 1, _) => "Destination Unreachable",
            (Version::V6, 3, _) => "Time to live exceeded",
            _ => return None,
        })
    }

    /// check_icmp's words for the error (its `get_icmp_error_msg`); it
    /// reads errors on IPv4 only, so `None` for ICMPv6.
    pub fn icmp_text(&self) -> Option<&'static str> {
        if self.version != Version::V4 {
            return None;
        }
        Some(match (self.kind, self.code) {
            (3, 0) => "Net unreachable",
            (3, 1) => "Host unreachable",
            (3, 2) => "Protocol unreachable (firewall?)",
            (3, 3) => "Port unreachable (firewall?)",
            (3, 4) => "Fragmentation needed",
            (3, 5) => "Source route failed",
            (3, 6) => "Unknown network",
            (3, 7) => "Unknown host",
            (3, 8) => "Source host isolated",
            (3, 9) => "Network denied (firewall?)",
            (3, 10) => "Host denied (firewall?)",
            (3, 11) => "Bad TOS for network (firewall?)",
            (3, 12) => "Bad TOS for host (firewall?)",
            (3, 13) => "Prohibited by filter (firewall)",
            (3, 14) => "Host precedence violation",
            (3, 15) => "Precedence cutoff",
            (11, 0) => "Time to live exceeded in transit",
            (11, 1) => "Fragment reassembly time exceeded",
            (3 | 11, _) => "Invalid code",
            (4, _) => "Transmitting too fast",
            (12, _) => "Bad IP header (required option absent)",
            _ => return None,
        })
    }
}

/// Whether an ICMP type is an error that quotes the offending packet:
/// destination unreachable, source quench, time exceeded and parameter
/// problem (v4); destination unreachable and time exceeded (v6).
fn is_error(version: Version, kind: u8) -> bool {
    match version {
        Version::V4 => matches!(kind, 3 | 4 | 11 | 12),
        Version::V6 => matches!(kind, 1 | 3),
    }
}

/// Reads an ICMP error that quotes one of our echo requests: the error,
/// the request's destination and its identifier and sequence (from the
/// quoted packet, so the error may come from any router on the way).
/// Only raw sockets receive these; `ip_header` as for [`parse_reply`].
pub fn parse_error(
    version: Version,
    datagram: &[u8],
    ip_header: bool,
    from: IpAddr,
) -> Option<(IcmpError, IpAddr, Echo)> {
    let icmp = strip_ip_header(datagram, ip_header)?;
    let (kind, code) = (*icmp.first()?, *icmp.get(1)?);
    if !is_error(version, kind) {
        return None;
    }
    let quoted = icmp.get(8..)?;
    let (dest, inner) = match version {
        Version::V4 => {
            let first = *quoted.first()?;
            // An IPv4 header carrying ICMP.
            if first >> 4 != 4 || *quoted.get(9)? != 1 {
                return None;
            }
            let dest: [u8; 4] = quoted.get(16..20)?.try_into().ok()?;
            let inner = quoted.get(usize::from(first & 0x0f) * 4..)?;
            (IpAddr::from(dest), inner)
        }
        Version::V6 => {
            // An IPv6 header whose next header is ICMPv6 (no extensions).
            if *quoted.first()? >> 4 != 6 || *quoted.get(6)? != 58 {
                return None;
            }
            let dest: [u8; 16] = quoted.get(24..40)?.try_into().ok()?;
            (IpAddr::from(dest), quoted.get(40..)?)
        }
    };
    let header = inner.get(..8)?;
    if header[0] != version.types().0 {
        return None;
    }
    let echo = Echo {
        ident: u16::from_be_bytes([header[4], header[5]]),
        seq: u16::from_be_bytes([header[6], header[7]]),
    };
    let error = IcmpError {
        version,
        kind,
        code,
        from,
    };
    Some((error, dest, echo))
}

/// The ICMP message of a datagram: after the IPv4 header when raw IPv4
/// sockets include it.
fn strip_ip_header(datagram: &[u8], ip_header: bool) -> Option<&[u8]> {
    if !ip_header {
        return Some(datagram);
    }
    let first = *datagram.first()?;
    if first >> 4 != 4 {
        return None;
    }
    datagram.get(usize::from(first & 0x0f) * 4..)
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
    fn errors_quoting_our_requests_parse() {
        use Version::{V4, V6};
        let want = Echo {
            ident: 0x1234,
            seq: 7,
        };
        let router = IpAddr::from([10, 0, 0, 1]);
        // Host unreachable from a router, quoting our request to 10.0.0.9.
        let request = echo_request(V4, 0x1234, 7, b"abcdefgh");
        let mut quoted = ipv4_header(request.len());
        quoted[16..20].copy_from_slice(&[10, 0, 0, 9]);
        quoted.extend_from_slice(&request);
        let mut error = vec![3, 1, 0, 0, 0, 0, 0, 0];
        error.extend_from_slice(&quoted);
        let mut raw = ipv4_header(error.len());
        raw.extend_from_slice(&error);
        let dest = IpAddr::from([10, 0, 0, 9]);
        let (got, to, echo) = parse_error(V4, &raw, true, router).expect("an error");
        assert_eq!((to, echo, got.from), (dest, want, router));
        assert_eq!(
            (got.ping_text(), got.icmp_text()),
            (Some("Host Unreachable"), Some("Host unreachable"))
        );
        assert_eq!(parse_reply(V4, &raw, true), None, "an error is no reply");
        // A code only check_icmp names.
        raw[21] = 4;
        let got = parse_error(V4, &raw, true, router).map(|e| (e.0.ping_text(), e.0.icmp_text()));
        assert_eq!(got, Some((None, Some("Fragmentation needed"))));
        // 20 outer header, 8 error header, 20 quoted header, 8 quoted ICMP.
        for cut in [0, 20, 28, 47, 55] {
            assert_eq!(
                parse_error(V4, &raw[..cut], true, router),
                None,
                "cut at {cut}"
            );
        }
        raw[20] = 0; // an echo reply is no error
        assert_eq!(parse_error(V4, &raw, true, router), None);

        // ICMPv6 address unreachable, quoting our request to fd00::9.
        let request6 = echo_request(V6, 0x1234, 7, b"abcdefgh");
        let mut error6 = vec![1, 3, 0, 0, 0, 0, 0, 0];
        let mut header6 = vec![0x60, 0, 0, 0, 0, 16, 58, 64];
        header6.extend_from_slice(&[0; 16]);
        let dest6: std::net::Ipv6Addr = "fd00::9".parse().expect("literal");
        header6.extend_from_slice(&dest6.octets());
        error6.extend_from_slice(&header6);
        error6.extend_from_slice(&request6);
        let (got, to, echo) = parse_error(V6, &error6, false, router).expect("an error");
        assert_eq!((to, echo), (IpAddr::V6(dest6), want));
        assert_eq!(
            (got.ping_text(), got.icmp_text()),
            (Some("Host Unreachable"), None)
        );
        error6[14] = 17; // the quoted packet is UDP, not ours
        assert_eq!(parse_error(V6, &error6, false, router), None);
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
