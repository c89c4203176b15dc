//! Federal fiscal quarters: FY N runs Oct 1 of N-1 to Sep 30 of N, cut at local midnight in the
//! report time zone (DST-aware).

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FiscalQuarter {
    pub year: i32,
    pub quarter: u8,
}

impl FiscalQuarter {
    pub fn new(year: i32, quarter: u8) -> Result<Self, String> {
        if !(1..=4).contains(&quarter) {
            return Err(format!("quarter must be 1 to 4, got {quarter}"));
        }
        if !(2000..=2100).contains(&year) {
            return Err(format!(
                "fiscal year must be a four-digit year 2000 to 2100, got {year}"
            ));
        }
        Ok(FiscalQuarter { year, quarter })
    }

    /// The fiscal quarter that holds instant `ts` as seen in `tz`.
    pub fn containing(ts: DateTime<Utc>, tz: Tz) -> Self {
        let local = ts.with_timezone(&tz).date_naive();
        let (m, y) = (local.month(), local.year());
        let (year, quarter) = match m {
            10..=12 => (y + 1, 1),
            1..=3 => (y, 2),
            4..=6 => (y, 3),
            _ => (y, 4),
        };
        FiscalQuarter { year, quarter }
    }

    /// First local day of the quarter.
    pub fn first_day(self) -> NaiveDate {
        let (y, m) = match self.quarter {
            1 => (self.year - 1, 10),
            2 => (self.year, 1),
            3 => (self.year, 4),
            _ => (self.year, 7),
        };
        NaiveDate::from_ymd_opt(y, m, 1).expect("valid quarter start")
    }

    pub fn next(self) -> Self {
        if self.quarter == 4 {
            FiscalQuarter {
                year: self.year + 1,
                quarter: 1,
            }
        } else {
            FiscalQuarter {
                year: self.year,
                quarter: self.quarter + 1,
            }
        }
    }

    /// `[start, end)` in UTC: local midnight of the first day to local midnight after the last.
    pub fn bounds(self, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
        (
            local_midnight(self.first_day(), tz),
            local_midnight(self.next().first_day(), tz),
        )
    }
}

fn local_midnight(d: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let m = d.and_hms_opt(0, 0, 0).expect("midnight");
    tz.from_local_datetime(&m)
        .earliest()
        .unwrap_or_else(|| tz.from_utc_datetime(&m))
        .with_timezone(&Utc)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn et() -> Tz {
        "America/New_York".parse().unwrap()
    }

    #[test]
    fn new_year_edge_in_eastern_time() {
        // 2025-12-31 23:59:59 EST = 2026-01-01 04:59:59 UTC: still FY2026 Q1.
        let last = Utc.with_ymd_and_hms(2026, 1, 1, 4, 59, 59).unwrap();
        assert_eq!(
            FiscalQuarter::containing(last, et()),
            FiscalQuarter {
                year: 2026,
                quarter: 1
            }
        );
        let next = last + chrono::Duration::seconds(1);
        assert_eq!(
            FiscalQuarter::containing(next, et()),
            FiscalQuarter {
                year: 2026,
                quarter: 2
            }
        );
    }

    #[test]
    fn bounds_follow_dst() {
        let q = FiscalQuarter::new(2026, 4).unwrap();
        let (s, e) = q.bounds(et());
        assert_eq!(s.to_rfc3339(), "2026-07-01T04:00:00+00:00");
        assert_eq!(e.to_rfc3339(), "2026-10-01T04:00:00+00:00");
        let (s, e) = FiscalQuarter::new(2026, 1).unwrap().bounds(et());
        assert_eq!(s.to_rfc3339(), "2025-10-01T04:00:00+00:00");
        assert_eq!(e.to_rfc3339(), "2026-01-01T05:00:00+00:00");
    }

    #[test]
    fn rejects_bad_quarters() {
        assert!(FiscalQuarter::new(2026, 0).is_err());
        assert!(FiscalQuarter::new(2026, 5).is_err());
        assert!(FiscalQuarter::new(26, 1).is_err());
    }
}
