//! Prebuilt request packets for the UDP floor loops: a DNS A query and an
//! SNMP v2c GET, hand-encoded (the floor sends the same bytes over and
//! over, so it needs no codec).

/// DNS record type A.
pub const DNS_A: u16 = 1;
/// DNS record type AAAA.
pub const DNS_AAAA: u16 = 28;

/// A DNS query (id 0, recursion desired) for the `qtype` records of `name`.
pub fn dns_query(name: &str, qtype: u16) -> Vec<u8> {
    let mut q = vec![0, 0, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.').filter(|l| !l.is_empty()) {
        // Labels here are our own short constants; DNS caps them at 63.
        q.push(label.len().min(63) as u8);
        q.extend_from_slice(&label.as_bytes()[..label.len().min(63)]);
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&[0, 1]);
    q
}

/// An SNMP v2c GetRequest for `oid` (dotted) with `community`.
///
/// # Errors
/// When `oid` is not at least two dotted numbers with a first arc of 0-2.
pub fn snmp_get(community: &str, oid: &str) -> anyhow::Result<Vec<u8>> {
    let varbind = tlv(
        0x30,
        &[tlv(0x06, &oid_bytes(oid)?), vec![0x05, 0x00]].concat(),
    );
    let pdu = tlv(
        0xa0,
        &[
            tlv(0x02, &[0x01]), // request-id
            tlv(0x02, &[0x00]), // error-status
            tlv(0x02, &[0x00]), // error-index
            tlv(0x30, &varbind),
        ]
        .concat(),
    );
    Ok(tlv(
        0x30,
        &[
            tlv(0x02, &[0x01]), // version: 1 is v2c
            tlv(0x04, community.as_bytes()),
            pdu,
        ]
        .concat(),
    ))
}

/// BER type-length-value, definite length.
fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = value.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let len = n.to_be_bytes();
        let skip = len.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (len.len() - skip) as u8);
        out.extend_from_slice(&len[skip..]);
    }
    out.extend_from_slice(value);
    out
}

/// The content octets of an OBJECT IDENTIFIER.
fn oid_bytes(oid: &str) -> anyhow::Result<Vec<u8>> {
    let arcs: Vec<u64> = oid
        .split('.')
        .map(str::parse)
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow::anyhow!("bad OID {oid}: {e}"))?;
    let [a, b, rest @ ..] = arcs.as_slice() else {
        anyhow::bail!("OID {oid} has fewer than two arcs");
    };
    anyhow::ensure!(*a <= 2, "OID {oid}: first arc above 2");
    let mut out = Vec::new();
    for arc in std::iter::once(a * 40 + b).chain(rest.iter().copied()) {
        let mut groups = vec![(arc & 0x7f) as u8];
        let mut v = arc >> 7;
        while v > 0 {
            groups.push(0x80 | (v & 0x7f) as u8);
            v >>= 7;
        }
        out.extend(groups.iter().rev());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snmp_get_matches_a_known_encoding() {
        // sysDescr.0, "public": the layout snmpget -v2c sends, request-id 1.
        let want = [
            0x30, 0x26, 0x02, 0x01, 0x01, 0x04, 0x06, b'p', b'u', b'b', b'l', b'i', b'c', 0xa0,
            0x19, 0x02, 0x01, 0x01, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x0e, 0x30, 0x0c,
            0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x01, 0x00, 0x05, 0x00,
        ];
        assert_eq!(
            snmp_get("public", "1.3.6.1.2.1.1.1.0").expect("encodes"),
            want
        );
        assert_eq!(
            oid_bytes("1.3.6.1.4.1.2021").expect("oid")[5..],
            [0x8f, 0x65]
        );
        assert!(snmp_get("public", "1").is_err());
    }

    #[test]
    fn dns_query_spells_the_labels() {
        let q = dns_query("a.bc", DNS_A);
        assert_eq!(&q[12..], b"\x01a\x02bc\x00\x00\x01\x00\x01");
        assert_eq!(dns_query("a", DNS_AAAA)[15..], [0, 28, 0, 1]);
    }
}
