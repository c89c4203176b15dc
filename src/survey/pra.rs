//! Paperwork Reduction Act facts, parsed once at the edge.

use chrono::{DateTime, Days, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// An OMB control number, `NNNN-NNNN`. Only a valid one deserializes, so an instrument holds a
/// parsed number (the definitions loader still lists every other problem of a file with a bad
/// one: see `definitions::parse_file`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct OmbControlNumber(String);

impl<'de> Deserialize<'de> for OmbControlNumber {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        OmbControlNumber::parse(&raw).map_err(serde::de::Error::custom)
    }
}

impl std::fmt::Display for OmbControlNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl OmbControlNumber {
    pub fn parse(s: &str) -> Result<Self, String> {
        let b = s.as_bytes();
        let ok = b.len() == 9
            && b[4] == b'-'
            && b.iter()
                .enumerate()
                .all(|(i, c)| i == 4 || c.is_ascii_digit());
        if ok {
            Ok(OmbControlNumber(s.to_string()))
        } else {
            Err(format!(
                "OMB control number must look like NNNN-NNNN (e.g. 3090-0321), got {s:?}"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The instant a clearance stops being valid: the end of its expiration date in `tz`.
pub fn clearance_ends(expiration_date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let next_day = expiration_date
        .checked_add_days(Days::new(1))
        .unwrap_or(expiration_date);
    let midnight = next_day.and_hms_opt(0, 0, 0).expect("midnight exists");
    // Midnight can fall in a DST gap in some zones; the earliest valid instant is the safe cut.
    tz.from_local_datetime(&midnight)
        .earliest()
        .unwrap_or_else(|| tz.from_utc_datetime(&midnight))
        .with_timezone(&Utc)
}

pub fn is_expired(expiration_date: NaiveDate, tz: Tz, now: DateTime<Utc>) -> bool {
    now >= clearance_ends(expiration_date, tz)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_number_shape() {
        assert!(OmbControlNumber::parse("3090-0321").is_ok());
        for bad in [
            "3090-321",
            "30900321",
            "3090_0321",
            "abcd-efgh",
            "3090-03210",
            "",
        ] {
            assert!(OmbControlNumber::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn clearance_ends_at_local_midnight() {
        let tz: Tz = "America/New_York".parse().unwrap();
        let d = NaiveDate::from_ymd_opt(2026, 1, 31).unwrap();
        // 2026-02-01 00:00 EST = 05:00 UTC
        let end = clearance_ends(d, tz);
        assert_eq!(end.to_rfc3339(), "2026-02-01T05:00:00+00:00");
        assert!(!is_expired(d, tz, end - chrono::Duration::seconds(1)));
        assert!(is_expired(d, tz, end));
        // Summer: EDT, UTC-4
        let d = NaiveDate::from_ymd_opt(2026, 7, 31).unwrap();
        assert_eq!(
            clearance_ends(d, tz).to_rfc3339(),
            "2026-08-01T04:00:00+00:00"
        );
    }
}
