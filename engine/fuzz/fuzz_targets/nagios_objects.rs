//! Nagios object files: the tokenizer, templates and resolution.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The loader reads files; give it one in memory-backed /dev/shm.
    let path = std::path::PathBuf::from(format!("/dev/shm/vedette-fuzz-{}.cfg", std::process::id()));
    if std::fs::write(&path, data).is_ok() {
        let _ = vedette::config::load(&path);
    }
});
