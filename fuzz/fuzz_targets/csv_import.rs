//! Any bytes as a paper/phone import file (OMB upload header + submitted_at), against each
//! shipped instrument: line-numbered errors or rows, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let now = chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap().naive_utc();
    for ins in common::instruments() {
        let d = cx_survey::registry::Deployment {
            id: "00000000-0000-4000-8000-000000000001".into(),
            agency_id: "a".into(),
            service_id: "s".into(),
            instrument_id: ins.id.clone(),
            channel: "phone".into(),
            transaction_point: "fuzz".into(),
            allowed_origins: "[]".into(),
            status: "open".into(),
            created_at: now,
            updated_at: now,
        };
        let tz = "America/New_York".parse().unwrap();
        let _ = cx_survey::admin::import::parse_csv(data, ins, &d, tz);
        // The invitation CSV parser too.
        let _ = cx_survey::email::parse_csv(data);
    }
});
