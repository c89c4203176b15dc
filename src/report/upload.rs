//! The OMB response upload format (A-11 Section 280): its header, driver cells with the
//! instrument's offered-driver masks, and the spreadsheet formula guard. The report's response
//! files and the admin export both write it.

use crate::survey::{Instrument, Polarity, DRIVERS};

/// The OMB response upload header (A-11 Section 280), in its exact order.
pub const UPLOAD_HEADER: [&str; 17] = [
    "external_id",
    "question_1",
    "positive_effectiveness",
    "positive_ease",
    "positive_efficiency",
    "positive_transparency",
    "positive_humanity",
    "positive_employee",
    "positive_other",
    "negative_effectiveness",
    "negative_ease",
    "negative_efficiency",
    "negative_transparency",
    "negative_humanity",
    "negative_employee",
    "negative_other",
    "question_4",
];

/// Driver cells as OMB wants them: `null` if the instrument does not offer the driver on that
/// list, else `1` chosen / `0` not chosen (or not shown).
pub fn driver_cells(ins: Option<&Instrument>, pos: i32, neg: i32) -> Vec<String> {
    let offered = offered_masks(ins);
    driver_cells_static(offered, pos, neg)
        .iter()
        .map(|c| c.to_string())
        .collect()
}

/// The drivers an instrument offers on its positive and negative lists, as bit masks.
pub fn offered_masks(ins: Option<&Instrument>) -> (i32, i32) {
    ins.map(|i| {
        (
            i.offered_drivers(Polarity::Positive),
            i.offered_drivers(Polarity::Negative),
        )
    })
    .unwrap_or((0, 0))
}

/// `driver_cells` without an allocation, for writers of millions of rows.
pub fn driver_cells_static(offered: (i32, i32), pos: i32, neg: i32) -> [&'static str; 14] {
    let mut out = [""; 14];
    for (half, (offered, mask)) in [(offered.0, pos), (offered.1, neg)].into_iter().enumerate() {
        for bit in 0..DRIVERS.len() {
            let b = 1 << bit;
            out[half * DRIVERS.len() + bit] = if offered & b == 0 {
                "null"
            } else if mask & b != 0 {
                "1"
            } else {
                "0"
            };
        }
    }
    out
}

/// Spreadsheet formula injection: a cell starting with = + - @ (or tab/CR) is prefixed with '.
pub fn csv_safe(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_string()
    }
}
