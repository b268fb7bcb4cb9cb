//! Node identity: the administrative-division code of a center, or of a
//! member unit beside it.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest accepted id, suffix included. Ids travel in every envelope and
/// certificate, so they are bounded.
pub const MAX_ID_LEN: usize = 48;

/// The identity of one node: its administrative-division code (行政区划代码)
/// such as `350102` or `350102001001`, or for a member unit the code of its
/// center plus a suffix, such as `350102-police`.
///
/// Accepted forms: 6, 9, 12 or 15 ASCII digits (county and above use the
/// 6-digit form with trailing zeros, townships 9, villages 12, grids 15),
/// optionally followed by `-` and a lowercase unit name of `a-z`, `0-9` and
/// inner `-`. The same string appears in certificates
/// (`liandong://node/<id>`), on the wire and in the UI.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(Box<str>);

/// Why a string is not a well-formed [`NodeId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("node id is empty")]
    Empty,
    #[error("node id {0:?} is longer than {MAX_ID_LEN} characters")]
    TooLong(String),
    #[error("node id {0:?} must start with a division code of 6, 9, 12 or 15 digits (e.g. 350102 or 350102001001)")]
    BadCode(String),
    #[error(
        "node id {0:?} has a bad member-unit suffix: after '-' use lowercase letters, digits and inner '-' (e.g. 350102-police)"
    )]
    BadUnit(String),
}

impl NodeId {
    /// Parses and validates an id.
    pub fn parse(s: &str) -> Result<NodeId, IdError> {
        if s.is_empty() {
            return Err(IdError::Empty);
        }
        if s.len() > MAX_ID_LEN {
            return Err(IdError::TooLong(s.to_owned()));
        }
        let (code, unit) = match s.split_once('-') {
            Some((code, unit)) => (code, Some(unit)),
            None => (s, None),
        };
        let code_ok = matches!(code.len(), 6 | 9 | 12 | 15) && code.bytes().all(|b| b.is_ascii_digit());
        if !code_ok {
            return Err(IdError::BadCode(s.to_owned()));
        }
        if let Some(unit) = unit {
            let chars_ok = unit
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            let shape_ok = unit.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
                && !unit.ends_with('-')
                && !unit.contains("--");
            if !chars_ok || !shape_ok {
                return Err(IdError::BadUnit(s.to_owned()));
            }
        }
        Ok(NodeId(s.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The division-code part: `350102` for both `350102` and `350102-police`.
    pub fn division(&self) -> &str {
        self.0.split_once('-').map_or(&self.0, |(code, _)| code)
    }

    /// The member-unit suffix, if this id names a member unit.
    pub fn unit(&self) -> Option<&str> {
        self.0.split_once('-').map(|(_, unit)| unit)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({})", self.0)
    }
}

impl std::str::FromStr for NodeId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NodeId::parse(s)
    }
}

impl AsRef<str> for NodeId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for NodeId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for NodeId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        NodeId::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_division_codes_and_units() {
        for ok in [
            "350100",
            "350102001",
            "350102001001",
            "350102001001003",
            "350102-police",
            "350102-civil-affairs",
        ] {
            assert_eq!(NodeId::parse(ok).unwrap().as_str(), ok);
        }
        let unit = NodeId::parse("350102-police").unwrap();
        assert_eq!(unit.division(), "350102");
        assert_eq!(unit.unit(), Some("police"));
        assert_eq!(NodeId::parse("350102").unwrap().unit(), None);
    }

    #[test]
    fn refuses_malformed_ids_with_a_reason() {
        assert_eq!(NodeId::parse(""), Err(IdError::Empty));
        for bad in ["3501", "35010x", "3501020", "abc", "350102 "] {
            assert!(matches!(NodeId::parse(bad), Err(IdError::BadCode(_))), "{bad}");
        }
        for bad in [
            "350102-",
            "350102-Police",
            "350102-1st",
            "350102-a--b",
            "350102-a-",
            "350102-警",
        ] {
            assert!(matches!(NodeId::parse(bad), Err(IdError::BadUnit(_))), "{bad}");
        }
        let long = format!("350102-{}", "a".repeat(60));
        assert!(matches!(NodeId::parse(&long), Err(IdError::TooLong(_))));
    }
}
