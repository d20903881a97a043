//! Frames an agent (or something posing as one) sends the hub, and the
//! engine frames an agent reads: decoding must return a message or a typed
//! error, never panic, whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vedette_proto::wire;

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = wire::decode_agent(data) {
        // What decodes must encode and decode to the same message.
        let again = wire::decode_agent(wire::encode(&msg).as_bytes());
        assert_eq!(again.ok(), Some(msg));
    }
    let _ = wire::decode_engine(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = wire::Token::parse(text);
    }
});
