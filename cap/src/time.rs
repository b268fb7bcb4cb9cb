//! CAP's `dateTime`: `YYYY-MM-DDThh:mm:ss±hh:mm`, always with an explicit
//! offset (the spec forbids `Z` and other letters), no fractions.
//!
//! Read only in the schema's form (`\d\d\d\d-\d\d-\d\dT\d\d:\d\d:\d\d[-,+]\d\d:\d\d`
//! narrowed by `xs:dateTime`: real calendar dates, leap years counted,
//! offsets within ±14:00); written in the offset it carries, UTC as
//! `-00:00` as CAP 1.2 section 3.3.2 asks. The calendar is plain
//! arithmetic (days from a civil date and back): no clock is ever read
//! and no time library is needed.

use std::fmt;

use liandong_dispatch::calendar::{civil_from_days, days_from_civil, days_in_month};

/// An instant and the offset it was written with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapTime {
    /// Seconds since the Unix epoch (UTC).
    pub unix_seconds: i64,
    /// The offset east of UTC, in minutes, as written (−00:00 reads as 0).
    pub offset_minutes: i32,
}

/// The widest offset `xs:dateTime` allows: ±14:00.
const MAX_OFFSET_MINUTES: i32 = 14 * 60;
/// 9999-12-30T00:00:00Z: the latest instant [`CapTime::from_unix_ms`] keeps,
/// so that any offset still writes a four-digit year.
const LAST_UNIX_SECONDS: i64 = days_from_civil(9999, 12, 30) * 86_400;

impl CapTime {
    /// `text` in CAP's form, or `None` (a `Z`, a missing offset, a fraction
    /// of a second, a date not in the calendar, an offset beyond ±14:00).
    /// Surrounding whitespace is the caller's to trim.
    pub fn parse(text: &str) -> Option<CapTime> {
        Fields::read(text).ok()?.time()
    }

    /// The instant `ms` milliseconds after the Unix epoch, to be written in
    /// `offset_minutes` (clamped to ±14:00). Milliseconds are dropped (CAP
    /// has no fractions); instants after 9999-12-30 are clamped to it.
    pub fn from_unix_ms(ms: u64, offset_minutes: i32) -> CapTime {
        let seconds = i64::try_from(ms / 1000).unwrap_or(i64::MAX);
        CapTime {
            unix_seconds: seconds.min(LAST_UNIX_SECONDS),
            offset_minutes: offset_minutes.clamp(-MAX_OFFSET_MINUTES, MAX_OFFSET_MINUTES),
        }
    }

    /// Milliseconds since the Unix epoch; 0 for instants before 1970.
    pub fn unix_ms(self) -> u64 {
        u64::try_from(self.unix_seconds).map_or(0, |s| s.saturating_mul(1000))
    }
}

impl fmt::Display for CapTime {
    /// `YYYY-MM-DDThh:mm:ss±hh:mm` in the time's own offset; offset zero as
    /// `-00:00` (CAP 1.2 section 3.3.2: "the timezone for UTC MUST be
    /// represented as -00:00").
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let local = self.unix_seconds.saturating_add(i64::from(self.offset_minutes) * 60);
        let (year, month, day) = civil_from_days(local.div_euclid(86_400));
        let second_of_day = local.rem_euclid(86_400);
        let sign = if self.offset_minutes > 0 { '+' } else { '-' };
        let offset = self.offset_minutes.unsigned_abs();
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}{sign}{:02}:{:02}",
            second_of_day / 3600,
            second_of_day / 60 % 60,
            second_of_day % 60,
            offset / 60,
            offset % 60,
        )
    }
}

/// Why `text` is not a CAP dateTime, in words for the sender's operator;
/// `None` when it is one.
pub(crate) fn problem(text: &str) -> Option<String> {
    match Fields::read(text) {
        Err(why) => Some(why.to_string()),
        Ok(fields) => match fields.time() {
            Some(_) => None,
            None => Some(fields.out_of_range()),
        },
    }
}

/// The numbers of a dateTime in CAP's form, not yet checked for range.
struct Fields {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    offset_sign: i32,
    offset_hours: u32,
    offset_minutes: u32,
}

impl Fields {
    /// The fields of `text` if it has CAP's shape, else why not.
    fn read(text: &str) -> Result<Fields, &'static str> {
        const SHAPE: &str = "must be YYYY-MM-DDThh:mm:ss with an explicit offset like +08:00";
        let b = text.as_bytes();
        let digits = |from: usize, len: usize| -> Option<u32> {
            let part = b.get(from..from + len)?;
            part.iter()
                .try_fold(0u32, |n, &c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
        };
        let punct_ok = b.len() >= 19 && b[4] == b'-' && b[7] == b'-' && b[10] == b'T' && b[13] == b':' && b[16] == b':';
        let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second), true) = (
            digits(0, 4),
            digits(5, 2),
            digits(8, 2),
            digits(11, 2),
            digits(14, 2),
            digits(17, 2),
            punct_ok,
        ) else {
            return Err(SHAPE);
        };
        let rest = &b[19..];
        if rest.is_empty() || rest.eq_ignore_ascii_case(b"z") {
            return Err("needs an explicit offset like +08:00 (CAP allows no Z and no time without offset)");
        }
        if rest[0] == b'.' {
            return Err("has a fraction of a second; CAP allows none");
        }
        let offset_sign = match rest[0] {
            b'+' => 1,
            b'-' => -1,
            _ => return Err(SHAPE),
        };
        let (Some(offset_hours), Some(offset_minutes), 6) = (digits(20, 2), digits(23, 2), rest.len()) else {
            return Err(SHAPE);
        };
        if b[22] != b':' {
            return Err(SHAPE);
        }
        Ok(Fields {
            year: i64::from(year),
            month,
            day,
            hour,
            minute,
            second,
            offset_sign,
            offset_hours,
            offset_minutes,
        })
    }

    /// The instant, if every field is in range.
    fn time(&self) -> Option<CapTime> {
        let date_ok = self.year >= 1
            && (1..=12).contains(&self.month)
            && self.day >= 1
            && self.day <= days_in_month(self.year, self.month);
        let clock_ok = self.hour < 24 && self.minute < 60 && self.second < 60;
        let offset = self.offset_sign * (self.offset_hours * 60 + self.offset_minutes) as i32;
        let offset_ok = self.offset_minutes < 60 && offset.abs() <= MAX_OFFSET_MINUTES;
        if !(date_ok && clock_ok && offset_ok) {
            return None;
        }
        let days = days_from_civil(self.year, self.month, self.day);
        let local = days * 86_400 + i64::from(self.hour * 3600 + self.minute * 60 + self.second);
        Some(CapTime {
            unix_seconds: local - i64::from(offset) * 60,
            offset_minutes: offset,
        })
    }

    /// Which field is out of range, in words (called when `time` is `None`).
    fn out_of_range(&self) -> String {
        let date = format!("{:04}-{:02}-{:02}", self.year, self.month, self.day);
        if self.year < 1 || !(1..=12).contains(&self.month) {
            format!("{date} is not a calendar date")
        } else if self.day < 1 || self.day > days_in_month(self.year, self.month) {
            format!(
                "{date} is not a calendar date (that month has {} days)",
                days_in_month(self.year, self.month)
            )
        } else if self.hour >= 24 || self.minute >= 60 || self.second >= 60 {
            format!(
                "{:02}:{:02}:{:02} is not a time of day",
                self.hour, self.minute, self.second
            )
        } else {
            "has an offset beyond ±14:00".to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_appendix_times() {
        let t = CapTime::parse("2003-04-02T14:39:01-05:00").unwrap();
        assert_eq!(t.offset_minutes, -300);
        assert_eq!(t.unix_seconds, 1_049_312_341);
        assert_eq!(t.to_string(), "2003-04-02T14:39:01-05:00");
    }

    #[test]
    fn round_trips_in_its_own_offset() {
        for text in [
            "2003-04-02T14:39:01-05:00",
            "2024-07-21T08:30:00+08:00",
            "2000-02-29T23:59:59+14:00",
            "1969-12-31T23:59:59-14:00",
            "0001-01-01T00:00:00+00:30",
            "9999-12-31T23:59:59-00:00",
            "2100-03-01T00:00:00+05:45",
        ] {
            let t = CapTime::parse(text).unwrap_or_else(|| panic!("{text}"));
            assert_eq!(t.to_string(), text);
            assert_eq!(CapTime::parse(&t.to_string()), Some(t));
        }
    }

    #[test]
    fn utc_is_written_as_minus_zero() {
        let minus = CapTime::parse("2024-01-01T00:00:00-00:00").unwrap();
        let plus = CapTime::parse("2024-01-01T00:00:00+00:00").unwrap();
        assert_eq!(minus, plus);
        assert_eq!(minus.offset_minutes, 0);
        assert_eq!(minus.unix_seconds, 1_704_067_200);
        assert_eq!(plus.to_string(), "2024-01-01T00:00:00-00:00");
    }

    #[test]
    fn the_same_instant_in_two_offsets() {
        let beijing = CapTime::parse("2024-07-21T08:00:00+08:00").unwrap();
        let new_york = CapTime::parse("2024-07-20T20:00:00-04:00").unwrap();
        assert_eq!(beijing.unix_seconds, new_york.unix_seconds);
        assert_ne!(beijing, new_york);
        assert_eq!(beijing.unix_ms(), 1_721_520_000_000);
    }

    #[test]
    fn from_unix_ms_writes_in_the_given_offset() {
        let t = CapTime::from_unix_ms(1_721_520_000_999, 480);
        assert_eq!(t.to_string(), "2024-07-21T08:00:00+08:00");
        assert_eq!(t.unix_ms(), 1_721_520_000_000);
        assert_eq!(CapTime::from_unix_ms(0, -300).to_string(), "1969-12-31T19:00:00-05:00");
        assert_eq!(CapTime::from_unix_ms(0, 10_000).offset_minutes, 840);
        let far = CapTime::from_unix_ms(u64::MAX, 840);
        assert_eq!(CapTime::parse(&far.to_string()), Some(far));
    }

    #[test]
    fn before_1970_is_zero_ms() {
        let t = CapTime::parse("1969-12-31T23:59:59-00:00").unwrap();
        assert_eq!(t.unix_seconds, -1);
        assert_eq!(t.unix_ms(), 0);
    }

    #[test]
    fn leap_years() {
        assert!(CapTime::parse("2024-02-29T00:00:00+08:00").is_some());
        assert!(CapTime::parse("2000-02-29T00:00:00+08:00").is_some());
        assert!(CapTime::parse("2023-02-29T00:00:00+08:00").is_none());
        assert!(CapTime::parse("1900-02-29T00:00:00+08:00").is_none());
        assert!(CapTime::parse("2003-02-30T00:00:00+08:00").is_none());
        assert!(CapTime::parse("2003-04-31T00:00:00+08:00").is_none());
    }

    #[test]
    fn every_day_of_four_centuries_round_trips() {
        let start = days_from_civil(1900, 1, 1);
        let end = days_from_civil(2300, 1, 1);
        for days in start..end {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
            assert!(d >= 1 && d <= days_in_month(y, m));
        }
        assert_eq!(end - start, 146_097);
    }

    #[test]
    fn refuses_what_cap_forbids() {
        for text in [
            "2003-04-02T14:39:01Z",
            "2003-04-02T14:39:01",
            "2003-04-02T14:39:01.5-05:00",
            "2003-04-02T14:39:01,05:00",
            "2003-04-02 14:39:01-05:00",
            "2003-4-02T14:39:01-05:00",
            "2003-04-02T24:00:00-05:00",
            "2003-04-02T14:60:01-05:00",
            "2003-04-02T14:39:60-05:00",
            "2003-04-02T14:39:01+14:01",
            "2003-04-02T14:39:01-15:00",
            "2003-04-02T14:39:01+08:60",
            "2003-04-02T14:39:01+0800",
            "2003-04-02T14:39:01+08:00 ",
            "0000-01-01T00:00:00+00:00",
            "2003-13-01T00:00:00+00:00",
            "2003-00-01T00:00:00+00:00",
            "２００３-04-02T14:39:01-05:00",
            "",
        ] {
            assert_eq!(CapTime::parse(text), None, "{text}");
            assert!(problem(text).is_some(), "{text}");
        }
    }

    #[test]
    fn problems_in_words() {
        assert!(
            problem("2003-04-02T14:39:01Z")
                .unwrap()
                .contains("explicit offset like +08:00")
        );
        assert!(
            problem("2003-04-02T14:39:01")
                .unwrap()
                .contains("explicit offset like +08:00")
        );
        assert!(
            problem("2003-02-30T14:39:01+08:00")
                .unwrap()
                .contains("2003-02-30 is not a calendar date")
        );
        assert!(problem("2003-04-02T14:39:01.25+08:00").unwrap().contains("fraction"));
        assert!(problem("2003-04-02T14:39:01+15:00").unwrap().contains("±14:00"));
        assert_eq!(problem("2003-04-02T14:39:01+08:00"), None);
    }
}
