//! Command-line recognition: argv splitting and the native probes' flag
//! parsers see every configured command line.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(line) = std::str::from_utf8(data) {
        let _ = vedette::probes::cmdline::compile(line);
    }
});
