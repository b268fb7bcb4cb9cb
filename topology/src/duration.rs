//! Durations as operators write them: `30s`, `10m`, `4h`, `1h30m`, `7d`.

use std::time::Duration;

/// Longest deadline or timer accepted: a year. Anything longer is a typo.
pub const MAX_DURATION: Duration = Duration::from_secs(366 * 24 * 3600);

/// Parses a duration made of one or more `<number><unit>` parts, units
/// `s`, `m`, `h`, `d` (and `ms` for link timers). Zero is refused.
pub fn parse(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("it is empty".into());
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!("expected a number at {rest:?}"));
        }
        let n: u64 = rest[..digits].parse().map_err(|_| "number too large".to_string())?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let part = match unit {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n.saturating_mul(60)),
            "h" => Duration::from_secs(n.saturating_mul(3600)),
            "d" => Duration::from_secs(n.saturating_mul(86_400)),
            "" => return Err(format!("{n} has no unit")),
            other => return Err(format!("unknown unit {other:?}")),
        };
        total = total.saturating_add(part);
    }
    if total.is_zero() {
        return Err("it must be longer than zero".into());
    }
    if total > MAX_DURATION {
        return Err("it is longer than a year".into());
    }
    Ok(total)
}

/// Formats a duration in the same notation, largest units first.
pub fn format(d: Duration) -> String {
    let mut out = String::new();
    let mut secs = d.as_secs();
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
        if secs >= size {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    let ms = d.subsec_millis();
    if ms > 0 || out.is_empty() {
        out.push_str(&format!("{ms}ms"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats() {
        for (text, secs) in [
            ("30s", 30),
            ("10m", 600),
            ("4h", 14_400),
            ("1h30m", 5400),
            ("7d", 604_800),
        ] {
            assert_eq!(parse(text), Ok(Duration::from_secs(secs)));
            assert_eq!(format(Duration::from_secs(secs)), text);
        }
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(format(Duration::from_millis(1500)), "1s500ms");
    }

    #[test]
    fn refuses_nonsense() {
        for bad in ["", "10", "m", "5x", "0s", "400d", "1h 30m"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
