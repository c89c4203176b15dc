//! Line numbers for uploaded CSV records as an editor or spreadsheet shows them.
//!
//! `csv`'s own `Position::line()` is where the reader stood when the previous record ended: on
//! a CRLF file that is one line early (the `\n` of `\r\n` is consumed with the next record),
//! and blank lines before a record count as its start. Errors that name those lines send
//! people to the wrong row, so the line is taken from the record's first byte instead.

use std::io::Read;

use csv::{Position, StringRecord};

/// The 1-based line on which the record found at `pos` starts in `body`.
pub fn record_line(body: &[u8], pos: &Position) -> u64 {
    let rest = usize::try_from(pos.byte())
        .ok()
        .and_then(|b| body.get(b..))
        .unwrap_or_default();
    // A record never starts with a line break: those bytes end the line(s) before it.
    let breaks = rest
        .iter()
        .take_while(|b| matches!(b, b'\r' | b'\n'))
        .filter(|b| **b == b'\n')
        .count();
    pos.line() + breaks as u64
}

/// Each record of `rdr` (which reads `body`) with the line it starts on, readable or not.
pub fn records<'a, R: Read>(
    rdr: &'a mut csv::Reader<R>,
    body: &'a [u8],
) -> impl Iterator<Item = (u64, Result<StringRecord, csv::Error>)> + 'a {
    let mut last = 1;
    rdr.records().map(move |rec| {
        let pos = match &rec {
            Ok(r) => r.position(),
            Err(e) => e.position(),
        };
        last = pos.map_or(last + 1, |p| record_line(body, p));
        (last, rec)
    })
}

/// Why a record could not be read, without csv's own (misleading) line number.
pub fn describe(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("has {len} cells; the header has {expected_len}"),
        csv::ErrorKind::Utf8 { err, .. } => {
            format!("cell {} is not valid UTF-8", err.field() + 1)
        }
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(body: &str) -> Vec<u64> {
        let mut rdr = csv::Reader::from_reader(body.as_bytes());
        records(&mut rdr, body.as_bytes()).map(|(l, _)| l).collect()
    }

    #[test]
    fn lines_of_lf_crlf_blank_and_multi_line_records() {
        assert_eq!(lines("h,x\na,1\n\"b\nc\",2\nd,3\n"), vec![2, 3, 5]);
        assert_eq!(
            lines("h,x\r\na,1\r\n\"b\r\nc\",2\r\nd,3\r\n"),
            vec![2, 3, 5]
        );
        assert_eq!(lines("h,x\n\na,1\n\n\nd,3\ne\n"), vec![3, 6, 7]);
        assert_eq!(lines("h,x\r\n\r\na,1\r\n\r\nd,3\r\ne"), vec![3, 5, 6]);
    }
}
