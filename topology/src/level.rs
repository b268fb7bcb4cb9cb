//! The vocabulary of the hierarchy: levels, node kinds and severities.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A level of the governance hierarchy, top to bottom.
///
/// Declared top first, so `Level::Province < Level::Grid` in the derived
/// order means "higher in the tree". Prefer [`Level::is_above`] and
/// [`Level::at_or_above`] in code that reads as a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// 省
    #[serde(alias = "省")]
    Province,
    /// 市
    #[serde(alias = "市")]
    City,
    /// 县(市)区
    #[serde(alias = "县", alias = "区", alias = "district")]
    County,
    /// 乡镇(街道)
    #[serde(alias = "乡镇", alias = "街道", alias = "street")]
    Township,
    /// 村(社区)
    #[serde(alias = "村", alias = "社区", alias = "community")]
    Village,
    /// 网格
    #[serde(alias = "网格")]
    Grid,
}

impl Level {
    /// Every level, top first.
    pub const ALL: [Level; 6] = [
        Level::Province,
        Level::City,
        Level::County,
        Level::Township,
        Level::Village,
        Level::Grid,
    ];

    /// Distance from the province level: 0 for province, 5 for grid.
    pub fn depth(self) -> u8 {
        self as u8
    }

    /// True if `self` is strictly higher in the hierarchy than `other`.
    pub fn is_above(self, other: Level) -> bool {
        self < other
    }

    /// True if `self` is `other` or higher.
    pub fn at_or_above(self, other: Level) -> bool {
        self <= other
    }

    /// The English name used in files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Level::Province => "province",
            Level::City => "city",
            Level::County => "county",
            Level::Township => "township",
            Level::Village => "village",
            Level::Grid => "grid",
        }
    }

    /// The Chinese name shown to operators.
    pub fn name_zh(self) -> &'static str {
        match self {
            Level::Province => "省",
            Level::City => "市",
            Level::County => "县(区)",
            Level::Township => "乡镇(街道)",
            Level::Village => "村(社区)",
            Level::Grid => "网格",
        }
    }

    /// Parses the English or Chinese name of a level.
    pub fn parse(s: &str) -> Option<Level> {
        Some(match s {
            "province" | "省" => Level::Province,
            "city" | "市" => Level::City,
            "county" | "district" | "县" | "区" => Level::County,
            "township" | "street" | "乡镇" | "街道" => Level::Township,
            "village" | "community" | "村" | "社区" => Level::Village,
            "grid" | "网格" => Level::Grid,
            _ => return None,
        })
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a node is: a center of the tree, or a member unit (成员单位) such as
/// police or justice attached beside a center. A member unit sits at its
/// center's level, takes dispatched work and reports through its center; it
/// has no children.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    #[default]
    Center,
    #[serde(alias = "unit")]
    MemberUnit,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Center => "center",
            Kind::MemberUnit => "member-unit",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Liandong's five-step severity scale: routine matters, then the four
/// legal classes of sudden incident, IV (general, blue) up to I (especially
/// serious, red). Declared least severe first, so `Severity::I` is the
/// greatest in the derived order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Severity {
    #[serde(alias = "routine")]
    Routine,
    #[serde(alias = "iv")]
    IV,
    #[serde(alias = "iii")]
    III,
    #[serde(alias = "ii")]
    II,
    #[serde(alias = "i")]
    I,
}

impl Severity {
    /// Every severity, least severe first.
    pub const ALL: [Severity; 5] = [
        Severity::Routine,
        Severity::IV,
        Severity::III,
        Severity::II,
        Severity::I,
    ];

    /// 0 for Routine up to 4 for I: the place of this severity in
    /// [`Severity::ALL`], for tables kept per severity.
    pub fn rank(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        match self {
            Severity::Routine => "Routine",
            Severity::IV => "IV",
            Severity::III => "III",
            Severity::II => "II",
            Severity::I => "I",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_order_top_first() {
        assert!(Level::City.is_above(Level::County));
        assert!(!Level::County.is_above(Level::County));
        assert!(Level::County.at_or_above(Level::County));
        assert!(!Level::Village.at_or_above(Level::Township));
        for l in Level::ALL {
            assert_eq!(Level::parse(l.name()), Some(l));
            assert_eq!(Level::ALL[l.depth() as usize], l);
        }
        assert_eq!(Level::parse("街道"), Some(Level::Township));
    }

    #[test]
    fn severities_order_least_severe_first() {
        assert!(Severity::I > Severity::II);
        assert!(Severity::IV > Severity::Routine);
        for (i, s) in Severity::ALL.into_iter().enumerate() {
            assert_eq!(s.rank(), i);
        }
    }
}
