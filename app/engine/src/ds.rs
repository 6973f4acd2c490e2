//! `ds`: the data date (`YYYY-MM-DD`) that every snapshot, tag file and event file is keyed by.
//!
//! A [`Ds`] is a day number (days since 1970-01-01, proleptic Gregorian) so that "the 7 days
//! ending at ds" is plain integer arithmetic. Conversion uses Howard Hinnant's
//! `days_from_civil` / `civil_from_days`, exact over the whole `i32` range we accept.

use std::fmt;
use std::str::FromStr;

/// A data date. Ordered, copyable, printed and parsed as `YYYY-MM-DD`.
///
/// ```
/// use engine::ds::Ds;
/// let ds: Ds = "2026-11-20".parse().expect("valid date");
/// assert_eq!(ds.add_days(-19).to_string(), "2026-11-01");
/// assert_eq!(ds.weekday(), 4); // Friday (Monday = 0)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ds(i32);

/// Why a string is not a `ds`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid ds {input:?}: expected a real date as YYYY-MM-DD")]
pub struct ParseDsError {
    input: String,
}

impl Ds {
    /// The day from its parts; `None` when the parts are not a real date (2026-02-30)
    /// or the year is outside 1000..=9999.
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Self> {
        if !(1000..=9999).contains(&year) || !(1..=12).contains(&month) {
            return None;
        }
        if day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Self(days_from_civil(year, month, day)))
    }

    /// Days since 1970-01-01.
    pub fn days_since_epoch(self) -> i32 {
        self.0
    }

    /// The day `n` days later (earlier when `n < 0`).
    #[must_use]
    pub fn add_days(self, n: i32) -> Self {
        Self(self.0 + n)
    }

    /// `(year, month, day)`.
    pub fn ymd(self) -> (i32, u32, u32) {
        civil_from_days(self.0)
    }

    /// Day of the week, Monday = 0 … Sunday = 6.
    pub fn weekday(self) -> u32 {
        // 1970-01-01 was a Thursday (3).
        (self.0 + 3).rem_euclid(7).unsigned_abs()
    }
}

impl fmt::Display for Ds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

impl FromStr for Ds {
    type Err = ParseDsError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseDsError { input: s.to_owned() };
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(err());
        }
        let num = |r: std::ops::Range<usize>| -> Option<u32> {
            let part = &s[r];
            if part.bytes().all(|c| c.is_ascii_digit()) { part.parse().ok() } else { None }
        };
        let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) else {
            return Err(err());
        };
        let y = i32::try_from(y).map_err(|_| err())?;
        Self::from_ymd(y, m, d).ok_or_else(err)
    }
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

fn days_from_civil(y: i32, m: u32, d: u32) -> i32 {
    let m = i32::try_from(m).unwrap_or(1);
    let d = i32::try_from(d).unwrap_or(1);
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i32) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    (y, m.unsigned_abs(), d.unsigned_abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_day_for_centuries() {
        let start = Ds::from_ymd(1900, 1, 1).map(Ds::days_since_epoch);
        let end = Ds::from_ymd(2200, 12, 31).map(Ds::days_since_epoch);
        let (Some(start), Some(end)) = (start, end) else {
            panic!("bounds are valid dates");
        };
        for n in start..=end {
            let ds = Ds(n);
            let (y, m, d) = ds.ymd();
            assert_eq!(Ds::from_ymd(y, m, d), Some(ds));
            assert_eq!(ds.to_string().parse::<Ds>(), Ok(ds));
        }
    }

    #[test]
    fn known_dates() {
        assert_eq!("1970-01-01".parse::<Ds>().map(Ds::days_since_epoch), Ok(0));
        assert_eq!("1970-01-01".parse::<Ds>().map(Ds::weekday), Ok(3));
        assert_eq!("2026-11-11".parse::<Ds>().map(Ds::weekday), Ok(2));
        assert_eq!("2024-02-29".parse::<Ds>().map(|d| d.add_days(1).to_string()), Ok("2024-03-01".into()));
    }

    #[test]
    fn rejects_non_dates() {
        for bad in ["2026-02-29", "2026-13-01", "2026-00-10", "2026-1-01", "20261101", "2026-11-2x", "+026-11-20", ""] {
            assert!(bad.parse::<Ds>().is_err(), "{bad} should not parse");
        }
    }
}
