//! Text that lines up: truncating and padding by display width (a CJK
//! character takes two terminal columns), durations, and wall-clock times
//! in the operator's zone. Every function here is pure.

use std::time::Duration;

use liandong_dispatch::wire::Timestamp;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// The ellipsis put where text was cut; one column wide.
pub const ELLIPSIS: char = '…';

/// Display width of `s` in terminal columns.
pub fn width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// `s` cut to at most `max` columns, ending in `…` if anything was cut.
/// Never splits a wide character: if one would straddle the edge it is
/// dropped and the result is one column narrower.
pub fn truncate(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_owned();
    }
    if max == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > max - 1 {
            break;
        }
        out.push(c);
        used += w;
    }
    out.push(ELLIPSIS);
    out
}

/// `s` cut from the left to at most `max` columns, starting with `…` if
/// anything was cut: for paths, whose most specific part is at the end.
pub fn truncate_left(s: &str, max: usize) -> String {
    if width(s) <= max {
        return s.to_owned();
    }
    if max == 0 {
        return String::new();
    }
    let mut kept = Vec::new();
    let mut used = 0;
    for c in s.chars().rev() {
        let w = c.width().unwrap_or(0);
        if used + w > max - 1 {
            break;
        }
        kept.push(c);
        used += w;
    }
    let mut out = String::from(ELLIPSIS);
    out.extend(kept.into_iter().rev());
    out
}

/// `s` followed by spaces up to `cols` columns. Never cuts: text already
/// wider than `cols` comes back unchanged (the CLI's tables size each
/// column to its widest cell first; for a fixed-width cell use [`fit`]).
pub fn pad(s: &str, cols: usize) -> String {
    let mut out = s.to_owned();
    out.extend(std::iter::repeat_n(' ', cols.saturating_sub(width(s))));
    out
}

/// `s` truncated to `cols` columns and padded with spaces to exactly
/// `cols`: a table cell.
pub fn fit(s: &str, cols: usize) -> String {
    pad(&truncate(s, cols), cols)
}

/// `s` broken into lines of at most `cols` columns (always at least one
/// line; `\n` breaks too). A wide character is never split. A Latin word
/// that would cross the edge moves to the next line if the break after
/// the last space keeps at least half the line; anything else breaks at
/// the edge (Chinese breaks between any two characters). A character
/// wider than `cols` gets a line of its own.
pub fn wrap(s: &str, cols: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut used = 0;
    // Just after the line's last space: (byte index, columns before it).
    let mut space: Option<(usize, usize)> = None;
    for c in s.chars() {
        if c == '\n' {
            lines.push(std::mem::take(&mut line));
            (used, space) = (0, None);
            continue;
        }
        let c = if c.is_control() { ' ' } else { c };
        let w = c.width().unwrap_or(0);
        if used + w > cols && !line.is_empty() {
            match space {
                Some((at, before)) if w == 1 && c != ' ' && before * 2 >= cols && at < line.len() => {
                    let rest = line.split_off(at);
                    lines.push(line.trim_end().to_owned());
                    line = rest;
                    used -= before;
                }
                _ => {
                    lines.push(std::mem::take(&mut line).trim_end().to_owned());
                    used = 0;
                }
            }
            space = None;
            if c == ' ' {
                // A space at the break is the break.
                continue;
            }
        }
        line.push(c);
        used += w;
        if c == ' ' {
            space = Some((line.len(), used));
        }
    }
    lines.push(line);
    lines
}

/// `45s`, `12m05s`, `3h05m`, `2d04h`: two units from the largest, for
/// the console, whose clocks tick every second.
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86_400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// Like [`human`] but whole minutes below an hour: `45s`, `12m`, `3h05m`,
/// `2d04h`. For the CLI, whose output is a snapshot read once, where the
/// seconds are noise.
pub fn human_coarse(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        60..3600 => format!("{}m", s / 60),
        _ => human(d),
    }
}

/// Time left until `deadline` in words, with [`human_coarse`]: `in 12m`,
/// or `overdue 5m` once missed. A deadline that is exactly now reads
/// `in 0s`. For the CLI; the console uses [`countdown`].
pub fn countdown_words(now: Timestamp, deadline: Timestamp) -> String {
    if deadline >= now {
        format!("in {}", human_coarse(deadline.since(now)))
    } else {
        format!("overdue {}", human_coarse(now.since(deadline)))
    }
}

/// Time left until `deadline`: `12m30s`, or `-5m10s` once missed. The
/// bool is true when the deadline has passed.
pub fn countdown(now: Timestamp, deadline: Timestamp) -> (String, bool) {
    if deadline > now {
        (human(deadline.since(now)), false)
    } else {
        (format!("-{}", human(now.since(deadline))), true)
    }
}

/// `14:03:27` in the zone `offset_secs` east of UTC.
pub fn clock(t: Timestamp, offset_secs: i32) -> String {
    let secs = (t.0 / 1000) as i64 + i64::from(offset_secs);
    let day = secs.rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", day / 3600, day % 3600 / 60, day % 60)
}

/// `11-22 14:03` in the zone `offset_secs` east of UTC (civil calendar,
/// proleptic Gregorian; enough for a timeline).
pub fn date_time(t: Timestamp, offset_secs: i32) -> String {
    let secs = (t.0 / 1000) as i64 + i64::from(offset_secs);
    let days = secs.div_euclid(86_400);
    let (_, month, day) = civil_from_days(days);
    let in_day = secs.rem_euclid(86_400);
    format!("{month:02}-{day:02} {:02}:{:02}", in_day / 3600, in_day % 3600 / 60)
}

/// Days since 1970-01-01 to (year, month, day); Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cjk_text_is_cut_by_columns() {
        assert_eq!(truncate("五一社区", 8), "五一社区");
        assert_eq!(truncate("五一社区", 7), "五一社…");
        // A wide char never straddles the edge: 6 columns hold two and the …
        assert_eq!(truncate("五一社区", 6), "五一…");
        assert_eq!(width(&truncate("五一社区", 6)), 5);
        assert_eq!(fit("五一社区", 6), "五一… ");
        assert_eq!(width(&fit("a五一社区b", 9)), 9);
        assert_eq!(truncate_left("福州市 / 鼓楼区 / 五一社区", 12), "… / 五一社区");
        assert_eq!(truncate("abc", 0), "");
        assert_eq!(truncate("仓库冒烟严重", 7), "仓库冒…");
        assert_eq!(truncate("short", 7), "short");
    }

    #[test]
    fn pad_fills_by_columns_and_never_cuts() {
        assert_eq!(pad("ab", 5), "ab   ");
        assert_eq!(pad("五一", 6), "五一  ");
        assert_eq!(width(&pad("福州市综治中心", 16)), 16);
        assert_eq!(pad("五一社区", 6), "五一社区");
        assert_eq!(pad("五一社区", 8), "五一社区");
        assert_eq!(pad("", 3), "   ");
        // fit cuts where pad does not; where nothing is cut they agree.
        assert_eq!(fit("五一社区", 6), "五一… ");
        assert_eq!(fit("五一", 6), pad("五一", 6));
    }

    #[test]
    fn wrapping_keeps_words_and_wide_characters_whole() {
        assert_eq!(wrap("五一社区仓库", 5), ["五一", "社区", "仓库"]);
        assert_eq!(
            wrap("evacuate the river bank now", 10),
            ["evacuate", "the river", "bank now"]
        );
        assert_eq!(wrap("转移 126 户群众 at once", 12), ["转移 126 户", "群众 at once"]);
        assert_eq!(wrap("", 10), [""]);
        assert_eq!(wrap("一\n二", 10), ["一", "二"]);
        assert_eq!(wrap("字", 1), ["字"]);
        for line in wrap("闽江水位超警戒 0.8m, 侯官村江堤 east bank 出现管涌 piping", 9) {
            assert!(width(&line) <= 9, "{line:?}");
        }
    }

    #[test]
    fn durations_and_clocks() {
        assert_eq!(human(Duration::from_secs(59)), "59s");
        assert_eq!(human(Duration::from_secs(3 * 3600 + 5 * 60)), "3h05m");
        assert_eq!(countdown(Timestamp(10_000), Timestamp(70_000)), ("1m00s".into(), false));
        assert_eq!(countdown(Timestamp(70_000), Timestamp(10_000)), ("-1m00s".into(), true));
        assert_eq!(human(Duration::from_secs(12 * 60 + 5)), "12m05s");
        assert_eq!(human(Duration::from_secs(2 * 86_400 + 4 * 3600)), "2d04h");
        // 2026-11-22 06:03:27 UTC is 14:03:27 in UTC+8.
        let t = Timestamp(1_795_327_407_000);
        assert_eq!(clock(t, 8 * 3600), "14:03:27");
        assert_eq!(date_time(t, 8 * 3600), "11-22 14:03");
    }

    #[test]
    fn coarse_durations_and_countdowns_in_words() {
        let secs = |s| human_coarse(Duration::from_secs(s));
        assert_eq!(secs(0), "0s");
        assert_eq!(secs(45), "45s");
        assert_eq!(secs(59), "59s");
        assert_eq!(secs(60), "1m");
        assert_eq!(secs(12 * 60 + 5), "12m");
        assert_eq!(secs(3599), "59m");
        assert_eq!(secs(3600), "1h00m");
        assert_eq!(secs(3 * 3600 + 5 * 60 + 59), "3h05m");
        assert_eq!(secs(2 * 86_400 + 4 * 3600), "2d04h");
        // Whole minutes only below an hour; elsewhere the same as human.
        for s in [0, 1, 59, 3600, 3661, 86_399, 86_400, 200_000] {
            assert_eq!(secs(s), human(Duration::from_secs(s)), "{s}");
        }
        assert_eq!(human_coarse(Duration::from_millis(59_999)), "59s");

        assert_eq!(
            countdown_words(Timestamp(10_000), Timestamp(10_000 + 12 * 60_000 + 5_000)),
            "in 12m"
        );
        assert_eq!(
            countdown_words(Timestamp(10_000 + 5 * 60_000), Timestamp(10_000)),
            "overdue 5m"
        );
        assert_eq!(countdown_words(Timestamp(10_000), Timestamp(10_000)), "in 0s");
        assert_eq!(countdown_words(Timestamp(10_000), Timestamp(9_000)), "overdue 1s");
        assert_eq!(countdown_words(Timestamp(0), Timestamp(3 * 3_600_000)), "in 3h00m");
    }
}
