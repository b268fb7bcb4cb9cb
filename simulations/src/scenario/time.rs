//! Instants and periods as scenarios write them: `start`, the instant
//! simulated zero stands for (`2027-01-31T18:00:00+08:00`), and the
//! period of the figures an invariant checks (`2027-01`).

use std::fmt;

use liandong_dispatch::calendar::{civil_from_days, days_from_civil, days_in_month};
use liandong_dispatch::figures::Period;
use serde::{Deserialize, Deserializer, Serialize};

/// Simulated zero when a scenario gives no `start`: 2027-01-15 16:00
/// China Standard Time (a day's end comes 8 h in).
pub const DEFAULT_START_MS: u64 = 1_800_000_000_000;

const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;
/// The offset `start` is written back with: China Standard Time.
const CST_MINUTES: i64 = 8 * 60;

/// The instant simulated zero stands for, in milliseconds since
/// 1970-01-01 UTC: what every core's clock reads at the start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Start(pub u64);

impl Start {
    /// RFC 3339 with an explicit offset and whole seconds:
    /// `2027-01-31T18:00:00+08:00`, `2027-01-31T10:00:00Z`.
    pub fn parse(text: &str) -> Result<Start, String> {
        let bad = |why: &str| format!("{text:?} is not an instant like 2027-01-31T18:00:00+08:00: {why}");
        let b = text.as_bytes();
        if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
            return Err(bad("write YYYY-MM-DDTHH:MM:SS and an offset"));
        }
        let num = |from: usize, to: usize| -> Result<i64, String> {
            let s = &text[from..to];
            if s.bytes().all(|c| c.is_ascii_digit()) {
                s.parse().map_err(|_| bad("a field is not a number"))
            } else {
                Err(bad("a field is not a number"))
            }
        };
        let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
        let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
        if year < 1970 || !(1..=12).contains(&month) {
            return Err(bad("no such month (from 1970)"));
        }
        if day < 1 || day > i64::from(days_in_month(year, month as u32)) {
            return Err(bad("no such day"));
        }
        if hour > 23 || minute > 59 || second > 59 {
            return Err(bad("no such time of day"));
        }
        let offset = match &text[19..] {
            "Z" => 0,
            o if o.len() == 6 && (o.starts_with('+') || o.starts_with('-')) && &o[3..4] == ":" => {
                let (h, m) = (num(20, 22)?, num(23, 25)?);
                if h > 14 || m > 59 {
                    return Err(bad("no such offset"));
                }
                let minutes = h * 60 + m;
                if o.starts_with('-') { -minutes } else { minutes }
            }
            _ => return Err(bad("the offset must be Z or +HH:MM / -HH:MM")),
        };
        let local =
            days_from_civil(year, month as u32, day as u32) * DAY_MS + ((hour * 60 + minute) * 60 + second) * 1000;
        let ms = local - offset * MINUTE_MS;
        u64::try_from(ms).map(Start).map_err(|_| bad("before 1970 in UTC"))
    }
}

impl fmt::Display for Start {
    /// At +08:00, where the figures' periods are.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let local = self.0 as i64 + CST_MINUTES * MINUTE_MS;
        let (y, m, d) = civil_from_days(local.div_euclid(DAY_MS));
        let s = local.rem_euclid(DAY_MS) / 1000;
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}+08:00",
            s / 3600,
            s / 60 % 60,
            s % 60
        )
    }
}

impl<'de> Deserialize<'de> for Start {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Start, D::Error> {
        let s = String::deserialize(d)?;
        Start::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl Serialize for Start {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A period of the figures (平安报表), written `2027-01` or `2027-01-31`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeriodSpec(pub Period);

impl<'de> Deserialize<'de> for PeriodSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<PeriodSpec, D::Error> {
        let s = String::deserialize(d)?;
        Period::parse(&s).map(PeriodSpec).map_err(serde::de::Error::custom)
    }
}

impl Serialize for PeriodSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_read_with_their_offset_and_write_back_at_plus_eight() {
        let default = Start(DEFAULT_START_MS);
        assert_eq!(default.to_string(), "2027-01-15T16:00:00+08:00");
        assert_eq!(Start::parse("2027-01-15T16:00:00+08:00"), Ok(default));
        assert_eq!(Start::parse("2027-01-15T08:00:00Z"), Ok(default));
        assert_eq!(Start::parse("2027-01-15T03:00:00-05:00"), Ok(default));
        let eve = Start::parse("2027-01-31T18:00:00+08:00").unwrap();
        let february = Period::parse("2027-02").unwrap().start();
        assert_eq!(february.0 - eve.0, 6 * 3_600_000);
        for bad in [
            "2027-01-31 18:00:00+08:00",
            "2027-01-31T18:00:00",
            "2027-02-29T00:00:00Z",
            "2027-01-31T24:00:00Z",
            "2027-01-31T18:00:00+8:00",
            "1969-12-31T23:00:00Z",
            "yyyy-01-31T18:00:00Z",
        ] {
            assert!(Start::parse(bad).is_err(), "{bad}");
        }
    }
}
