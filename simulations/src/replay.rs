//! Seeds and replays as people type them: a [`SeedRange`] from `A..B` or
//! `A..=B` (what `liandong sim sweep --seeds` takes), and the
//! [`replay_command`] that replays one seed of a scenario, quoted for a
//! shell. Pure functions of their input; the command line only prints them.

use std::ops::Range;
use std::path::Path;
use std::str::FromStr;

/// A half-open range of seeds, parsed from `A..B` or `A..=B`; never empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeedRange(pub Range<u64>);

impl FromStr for SeedRange {
    type Err = String;

    fn from_str(s: &str) -> Result<SeedRange, String> {
        let text = s.trim();
        let number = |part: &str, which: &str| {
            let part = part.trim();
            if part.is_empty() {
                return Err(format!(
                    "seed range {s:?} has no {which}: write A..B or A..=B, e.g. 1..1000"
                ));
            }
            part.parse::<u64>().map_err(|_| {
                format!(
                    "{part:?} in seed range {s:?} is not a seed (a whole number 0 to {})",
                    u64::MAX
                )
            })
        };
        let (start, end) = if let Some((a, b)) = text.split_once("..=") {
            let (start, last) = (number(a, "start")?, number(b, "end")?);
            if last < start {
                return Err(format!(
                    "seed range {s:?} is empty: the end {last} is below the start {start}"
                ));
            }
            let end = last
                .checked_add(1)
                .ok_or_else(|| format!("seed range {s:?} ends past the last seed {}", u64::MAX - 1))?;
            (start, end)
        } else if let Some((a, b)) = text.split_once("..") {
            let (start, end) = (number(a, "start")?, number(b, "end")?);
            if end <= start {
                return Err(format!(
                    "seed range {s:?} is empty: A..B excludes B, so B must be above A (or write {start}..={end})"
                ));
            }
            (start, end)
        } else {
            return Err(format!(
                "{s:?} is not a seed range: write A..B (B excluded) or A..=B, e.g. 1..1000"
            ));
        };
        Ok(SeedRange(start..end))
    }
}

impl std::fmt::Display for SeedRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}..{}", self.0.start, self.0.end)
    }
}

/// The command that replays one seed, with the scenario path quoted for a shell when needed.
pub fn replay_command(scenario: &Path, seed: u64, sweep_variant: bool) -> String {
    format!(
        "liandong sim run {} --seed {seed}{}",
        shell_quote(&scenario.display().to_string()),
        if sweep_variant { " --sweep-variant" } else { "" }
    )
}

fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./=:,+@%".contains(c) || !c.is_ascii());
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Range<u64>, String> {
        s.parse::<SeedRange>().map(|r| r.0)
    }

    #[test]
    fn seed_ranges() {
        assert_eq!(parse("1..1000"), Ok(1..1000));
        assert_eq!(parse("1..=1000"), Ok(1..1001));
        assert_eq!(parse(" 0..=0 "), Ok(0..1));
        assert_eq!(parse("7..8"), Ok(7..8));
        assert_eq!(parse(&format!("0..{}", u64::MAX)), Ok(0..u64::MAX));
    }

    #[test]
    fn bad_seed_ranges_say_why() {
        let err = |s: &str| parse(s).unwrap_err();
        assert!(err("5..5").contains("is empty"), "{}", err("5..5"));
        assert!(err("5..3").contains("is empty"));
        assert!(err("5..=4").contains("below the start"));
        assert!(err("1000").contains("is not a seed range"));
        assert!(err("1-1000").contains("is not a seed range"));
        assert!(err("..10").contains("has no start"));
        assert!(err("1..").contains("has no end"));
        assert!(err("a..10").contains("\"a\" in seed range"));
        assert!(err("-1..10").contains("is not a seed"));
        assert!(err("1..99999999999999999999").contains("is not a seed"));
        assert!(err(&format!("0..={}", u64::MAX)).contains("past the last seed"));
    }

    #[test]
    fn replay_commands_quote_only_when_needed() {
        assert_eq!(
            replay_command(Path::new("simulations/scenarios/county-outage.toml"), 42, false),
            "liandong sim run simulations/scenarios/county-outage.toml --seed 42"
        );
        assert_eq!(
            replay_command(Path::new("my scenarios/it's.toml"), 1, true),
            r"liandong sim run 'my scenarios/it'\''s.toml' --seed 1 --sweep-variant"
        );
    }
}
