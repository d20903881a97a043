//! The server's handling of a connection's bytes, short of running the
//! command: the streaming reader, then the decision. A command it would
//! run never carries a shell metacharacter from an argument, and the
//! decision is the same whichever packet version carried the query.
#![no_main]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use libfuzzer_sys::fuzz_target;
use vedette_nrpe::frame::read_packet;
use vedette_nrpe::packet::Version;
use vedette_nrpe::server::config::Config;
use vedette_nrpe::server::request::{decide, Decision};

const NASTY: &[char] = &['|', '`', '&', '>', '<', '\'', '"', '\\', '[', ']', '{', '}', ';', '\r', '\n'];

fuzz_target!(|data: &[u8]| {
    let mut config = Config {
        allow_arguments: data.first().is_some_and(|b| b & 1 == 1),
        ..Config::default()
    };
    config.commands.insert("check".into(), "/bin/check $ARG1$ $ARG2$ $ARG16$".into());
    let mut stream = data;
    // Reading from a slice never waits: one poll finishes it.
    let read = pin!(read_packet(&mut stream));
    let mut cx = Context::from_waker(Waker::noop());
    let Poll::Ready(result) = read.poll(&mut cx) else {
        panic!("reading from a slice returned Pending");
    };
    let Ok(query) = result else { return };
    let decision = decide(&query, &config);
    if let Decision::Run { line, .. } = &decision {
        assert!(!line.contains(NASTY), "{line:?}");
    }
    for version in [Version::V2, Version::V3, Version::V4] {
        let mut other = query.clone();
        other.version = version;
        if other.text.len() <= vedette_nrpe::packet::max_text_len(version) {
            assert_eq!(decide(&other, &config), decision, "{version:?}");
        }
    }
});
