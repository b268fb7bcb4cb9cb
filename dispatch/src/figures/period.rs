//! The periods figures are kept for: a day or a month on the calendar of
//! China Standard Time (+08:00), where every center reports, as
//! `2026-11` or `2026-11-05`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::basics::Timestamp;
use crate::calendar::{civil_from_days, days_from_civil, days_in_month};

/// The offset the periods' boundaries are on: +08:00.
const OFFSET_MS: i64 = 8 * 3_600_000;
const DAY_MS: i64 = 86_400_000;

/// A day or a month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Period {
    Month { year: i32, month: u8 },
    Day { year: i32, month: u8, day: u8 },
}

/// Why a period was not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a period: give a month as 2026-11 or a day as 2026-11-05")]
pub struct PeriodError {
    pub text: String,
}

impl Period {
    /// `2026-11` or `2026-11-05`, a real month or day of the years 1970-9999.
    pub fn parse(text: &str) -> Result<Period, PeriodError> {
        let bad = || PeriodError { text: text.into() };
        let parts: Vec<&str> = text.trim().split('-').collect();
        let num = |s: &str, len: usize| {
            (s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse::<i32>().ok())
                .flatten()
        };
        let year = parts
            .first()
            .and_then(|y| num(y, 4))
            .filter(|y| *y >= 1970)
            .ok_or_else(bad)?;
        let month = parts
            .get(1)
            .and_then(|m| num(m, 2))
            .filter(|m| (1..=12).contains(m))
            .ok_or_else(bad)? as u8;
        match parts.len() {
            2 => Ok(Period::Month { year, month }),
            3 => {
                let day = parts[2..]
                    .first()
                    .and_then(|d| num(d, 2))
                    .filter(|d| *d >= 1 && *d <= days_in_month(year.into(), month.into()) as i32)
                    .ok_or_else(bad)? as u8;
                Ok(Period::Day { year, month, day })
            }
            _ => Err(bad()),
        }
    }

    /// The month `at` falls in.
    pub fn month_of(at: Timestamp) -> Period {
        let (year, month, _) = local_date(at);
        Period::Month { year, month }
    }

    /// The day `at` falls in.
    pub fn day_of(at: Timestamp) -> Period {
        let (year, month, day) = local_date(at);
        Period::Day { year, month, day }
    }

    /// Its first instant.
    pub fn start(self) -> Timestamp {
        let (year, month, day) = match self {
            Period::Month { year, month } => (year, month, 1),
            Period::Day { year, month, day } => (year, month, day),
        };
        instant(year, month, day)
    }

    /// The first instant after it.
    pub fn end(self) -> Timestamp {
        match self {
            Period::Month { year: y, month: 12 } => instant(y + 1, 1, 1),
            Period::Month { year, month } => instant(year, month + 1, 1),
            Period::Day { .. } => Timestamp(self.start().0 + DAY_MS as u64),
        }
    }

    pub fn is_day(self) -> bool {
        matches!(self, Period::Day { .. })
    }

    /// The period of the same kind (day or month) that `at` falls in.
    pub fn like(self, at: Timestamp) -> Period {
        match self {
            Period::Month { .. } => Period::month_of(at),
            Period::Day { .. } => Period::day_of(at),
        }
    }

    /// The period of the same kind after this one.
    pub fn next(self) -> Period {
        self.like(self.end())
    }

    /// The period of the same kind before this one.
    pub fn previous(self) -> Period {
        self.like(Timestamp(self.start().0.saturating_sub(1)))
    }

    /// Whether `at` falls in it.
    pub fn contains(self, at: Timestamp) -> bool {
        self.start() <= at && at < self.end()
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::Month { year, month } => write!(f, "{year:04}-{month:02}"),
            Period::Day { year, month, day } => write!(f, "{year:04}-{month:02}-{day:02}"),
        }
    }
}

/// The date at +08:00 of `at`.
fn local_date(at: Timestamp) -> (i32, u8, u8) {
    let local = at.0 as i64 + OFFSET_MS;
    let (y, m, d) = civil_from_days(local.div_euclid(DAY_MS));
    (y as i32, m as u8, d as u8)
}

/// Midnight at +08:00 starting that date.
fn instant(year: i32, month: u8, day: u8) -> Timestamp {
    let ms = days_from_civil(year.into(), month.into(), day.into()) * DAY_MS - OFFSET_MS;
    Timestamp(ms.max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_and_days_start_at_midnight_in_china() {
        let nov = Period::parse("2026-11").unwrap();
        // 2026-11-01T00:00+08:00 is 2026-10-31T16:00Z.
        assert_eq!(nov.start(), Timestamp(1_793_462_400_000));
        assert_eq!(nov.end(), Period::parse("2026-12").unwrap().start());
        assert_eq!(
            Period::parse("2026-12").unwrap().end(),
            Period::parse("2027-01").unwrap().start()
        );
        assert!(nov.contains(nov.start()) && !nov.contains(nov.end()));
        assert_eq!(Period::month_of(Timestamp(nov.end().0 - 1)), nov);
        let day = Period::parse("2026-11-30").unwrap();
        assert_eq!(day.end(), nov.end());
        assert_eq!(Period::day_of(day.start()), day);
        assert_eq!(day.to_string(), "2026-11-30");
        assert_eq!(nov.to_string(), "2026-11");
    }

    #[test]
    fn what_is_not_a_period_is_refused() {
        for bad in [
            "2026",
            "2026-13",
            "2026-11-31",
            "2025-02-29",
            "26-11",
            "2026-1",
            "2026-11-05-01",
            "",
            "1969-12",
            "yyyy-mm",
        ] {
            assert!(Period::parse(bad).is_err(), "{bad}");
        }
        assert!(Period::parse("2024-02-29").is_ok());
        let e = Period::parse("2026-13").unwrap_err();
        assert!(e.to_string().contains("2026-11"), "{e}");
    }
}
