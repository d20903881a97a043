//! The body of `POST /v1/results`, as the API parses it: JSON, then the
//! plugin output inside it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((key, result)) = vedette::api::results::parse_passive(data) {
        // The parsed output never keeps a perfdata separator.
        assert!(!result.output.contains('|'), "{key:?}: {result:?}");
    }
});
