//! Any bytes as a survey definition file: an error list, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = cx_survey::definitions::parse_file(text);
    }
});
