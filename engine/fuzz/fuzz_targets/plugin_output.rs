//! Plugin output (first line, perfdata, long output) as exec and passive
//! results parse it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vedette::check::Status;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let r = vedette::plugin_output::parse(Status::Warning, &text);
    assert_eq!(r.status, Status::Warning);
    assert!(!r.output.contains('\n'), "output is one line: {:?}", r.output);
});
