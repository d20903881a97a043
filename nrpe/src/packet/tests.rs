#![allow(clippy::unwrap_used)] // a test may unwrap: a panic is its failure

use super::*;
use proptest::prelude::*;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn query(version: Version, text: &str) -> Packet {
    Packet {
        version,
        kind: Kind::Query,
        result: 0,
        text: text.into(),
    }
}

#[test]
fn decodes_a_v4_response_captured_from_debian_nrpe() {
    let mut bytes = hex("000400020daad245000000000000000c");
    bytes.extend_from_slice(b"NRPE v4.1.0\0");
    let p = decode(&bytes).unwrap();
    assert_eq!(
        p,
        Packet {
            version: Version::V4,
            kind: Kind::Response,
            result: 0,
            text: "NRPE v4.1.0".into()
        }
    );
}

#[test]
fn encodes_a_v4_query_exactly_as_check_nrpe_does() {
    let bytes = encode(&query(Version::V4, "ok!a!b")).unwrap();
    assert_eq!(bytes.len(), V2_PACKET_LEN);
    assert_eq!(
        &bytes[..HEADER_LEN],
        &hex("00040001e0c900bd00000000000003fc")[..]
    );
}

#[test]
fn encodes_a_v3_query_exactly_as_check_nrpe_does() {
    let bytes = encode(&query(Version::V3, "ok!a!b")).unwrap();
    assert_eq!(bytes.len(), V2_PACKET_LEN);
    assert_eq!(
        &bytes[..HEADER_LEN],
        &hex("00030001abfb420c00000000000003f9")[..]
    );
    assert_eq!(decode(&bytes).unwrap().text, "ok!a!b");
}

#[test]
fn v2_packets_are_1036_bytes_and_v4_responses_are_sized_to_the_text() {
    let v2 = encode(&query(Version::V2, "x")).unwrap();
    assert_eq!(v2.len(), 1036);
    let resp = Packet {
        version: Version::V4,
        kind: Kind::Response,
        result: 2,
        text: "bad".into(),
    };
    let v4 = encode(&resp).unwrap();
    assert_eq!(v4.len(), HEADER_LEN + 4);
    assert_eq!(decode(&v4).unwrap(), resp);
}

#[test]
fn malformed_packets_are_typed_errors() {
    let good = encode(&query(Version::V4, "check_load")).unwrap();
    let mut crc = good.clone();
    crc[20] ^= 1;
    assert!(matches!(decode(&crc), Err(PacketError::Crc { .. })));
    let mut version = good.clone();
    version[1] = 9;
    assert_eq!(decode(&version), Err(PacketError::Version(9)));
    assert_eq!(
        decode(&good[..100]),
        Err(PacketError::Truncated {
            got: 100,
            need: 1036
        })
    );
    assert!(matches!(
        decode(&good[..3]),
        Err(PacketError::Truncated { got: 3, need: 16 })
    ));
    let mut long = good.clone();
    long[12..16].copy_from_slice(&70000i32.to_be_bytes());
    assert_eq!(decode(&long), Err(PacketError::Length(70000)));
    long[12..16].copy_from_slice(&(-1i32).to_be_bytes());
    assert_eq!(decode(&long), Err(PacketError::Length(-1)));
    let mut trailing = good.clone();
    trailing.push(0);
    assert_eq!(decode(&trailing), Err(PacketError::Trailing(1)));
    let mut kind = good.clone();
    kind[3] = 7;
    let crc = crc_with_zeroed_field(&kind);
    kind[4..8].copy_from_slice(&crc.to_be_bytes());
    assert_eq!(decode(&kind), Err(PacketError::Kind(7)));
    let mut latin1 = good;
    latin1[HEADER_LEN] = 0xe9;
    let crc = crc_with_zeroed_field(&latin1);
    latin1[4..8].copy_from_slice(&crc.to_be_bytes());
    assert_eq!(decode(&latin1), Err(PacketError::Utf8));
}

#[test]
fn text_that_does_not_fit_is_refused_on_encode() {
    let long = "x".repeat(1024);
    assert!(matches!(
        encode(&query(Version::V2, &long)),
        Err(PacketError::TooLong { max: 1023, .. })
    ));
    assert!(encode(&query(Version::V4, &long)).is_ok());
    assert_eq!(encode(&query(Version::V4, "a\0b")), Err(PacketError::Nul));
}

fn any_version() -> impl Strategy<Value = Version> {
    prop_oneof![Just(Version::V2), Just(Version::V3), Just(Version::V4)]
}

proptest! {
    #[test]
    fn round_trips(version in any_version(), response in any::<bool>(), result in any::<i16>(),
                   text in "[^\u{0}]{0,300}") {
        let p = Packet {
            version,
            kind: if response { Kind::Response } else { Kind::Query },
            result,
            text,
        };
        match encode(&p) {
            Ok(bytes) => {
                let header = Header::parse(&bytes).unwrap();
                prop_assert_eq!(header.packet_len, bytes.len());
                prop_assert_eq!(decode(&bytes).unwrap(), p);
            }
            Err(PacketError::TooLong { .. }) => prop_assert!(p.text.len() > max_text_len(version)),
            Err(e) => prop_assert!(false, "{e}"),
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1100)) {
        let _ = decode(&bytes);
    }
}
