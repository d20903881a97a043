//! The packet decoder, on whatever a peer may send: it returns a packet or
//! a typed error, and a packet it accepts encodes back to one that decodes
//! the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vedette_nrpe::packet::{decode, encode, Header};

fuzz_target!(|data: &[u8]| {
    if let Ok(header) = Header::parse(data) {
        assert!(header.packet_len >= 16, "{header:?}");
    }
    if let Ok(packet) = decode(data) {
        let again = encode(&packet).expect("a decoded packet fits its version");
        assert_eq!(decode(&again).expect("re-encoded packet decodes"), packet);
    }
});
