// Shared by the targets: the shipped instruments, parsed once.
use std::sync::OnceLock;

use cx_survey::definitions::{parse_file, Parsed};
use cx_survey::survey::Instrument;

pub fn instruments() -> &'static Vec<Instrument> {
    static ALL: OnceLock<Vec<Instrument>> = OnceLock::new();
    ALL.get_or_init(|| {
        ["a11-v2-thumbs", "a11-v2-likert", "a11-v1"]
            .iter()
            .map(|id| {
                let path = format!("{}/../survey-defs/{id}.json", env!("CARGO_MANIFEST_DIR"));
                match parse_file(&std::fs::read_to_string(path).unwrap()) {
                    Ok(Parsed::Instrument(i)) => *i,
                    _ => panic!("shipped instrument {id} does not parse"),
                }
            })
            .collect()
    })
}
