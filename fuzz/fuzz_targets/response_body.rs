//! Any bytes as a `POST …/responses` body, against each shipped instrument: a 422 naming fields
//! or a valid submission, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    for ins in common::instruments() {
        let _ = cx_survey::intake::parse_submission(data, ins);
    }
});
