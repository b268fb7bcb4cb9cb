//! The schema's `<sequence>`s: which children an element of CAP may have,
//! in which order and how many of each, checked in one pass over the
//! children and handed back sorted by name.
//!
//! Knows only names and counts, never what the children's text means.

use crate::CapError;
use crate::model::NAMESPACE;
use crate::xml::Element;

use super::{invalid, missing};

/// One entry of a sequence: an element name with its `minOccurs` and
/// `maxOccurs` (`u32::MAX`: unbounded).
#[derive(Debug, Clone, Copy)]
pub(super) struct Field {
    pub name: &'static str,
    pub min: u32,
    pub max: u32,
}

/// Exactly one.
pub(super) const fn one(name: &'static str) -> Field {
    Field { name, min: 1, max: 1 }
}
/// At most one.
pub(super) const fn optional(name: &'static str) -> Field {
    Field { name, min: 0, max: 1 }
}
/// Any number.
pub(super) const fn many(name: &'static str) -> Field {
    Field {
        name,
        min: 0,
        max: u32::MAX,
    }
}
/// At least one.
pub(super) const fn some(name: &'static str) -> Field {
    Field {
        name,
        min: 1,
        max: u32::MAX,
    }
}

/// The children of an element that passed its sequence, by name.
pub(super) struct Children<'e> {
    parent: &'e Element,
    fields: &'static [Field],
    found: Vec<Vec<&'e Element>>,
}

impl<'e> Children<'e> {
    /// Every child named `name` (empty for a name not in the sequence).
    pub fn all(&self, name: &str) -> &[&'e Element] {
        match self.fields.iter().position(|f| f.name == name) {
            Some(at) => &self.found[at],
            None => &[],
        }
    }

    /// The child named `name`, if present.
    pub fn optional(&self, name: &str) -> Option<&'e Element> {
        self.all(name).first().copied()
    }

    /// The child named `name` (a required one: the check made sure).
    pub fn one(&self, name: &str) -> Result<&'e Element, CapError> {
        self.optional(name)
            .ok_or_else(|| missing(self.parent, name, "CAP requires it"))
    }
}

/// `parent`'s children checked against `fields` in order. Elements in the
/// namespace `tail` (if any) may follow CAP's and are skipped (the alert's
/// XML Signature); any other element outside CAP's namespace is refused.
pub(super) fn check<'e>(
    parent: &'e Element,
    fields: &'static [Field],
    tail: Option<&str>,
) -> Result<Children<'e>, CapError> {
    let mut found: Vec<Vec<&'e Element>> = vec![Vec::new(); fields.len()];
    // The field the last child filled.
    let mut last: Option<usize> = None;
    let mut in_tail = false;
    for (i, child) in parent.children.iter().enumerate() {
        let namespace = child.namespace.as_deref();
        if namespace != Some(NAMESPACE) {
            if tail.is_some() && namespace == tail {
                in_tail = true;
                continue;
            }
            let namespace = namespace.unwrap_or("no namespace");
            return Err(invalid(
                child,
                format!(
                    "is in {namespace}, not CAP 1.2's namespace; <{}> holds only CAP elements",
                    parent.name
                ),
            ));
        }
        if in_tail {
            return Err(invalid(
                child,
                "comes after the XML Signature; CAP's elements come first",
            ));
        }
        let Some(at) = fields.iter().position(|f| f.name == child.name) else {
            return Err(invalid(
                child,
                format!("is not an element of <{}> in CAP 1.2", parent.name),
            ));
        };
        match last {
            Some(last) if at == last => {
                if found[at].len() as u32 >= fields[at].max {
                    return Err(invalid(
                        child,
                        format!("appears twice; <{}> has at most one", parent.name),
                    ));
                }
            }
            Some(last) if at < last => {
                return Err(invalid(
                    child,
                    format!(
                        "is out of order: it comes before <{}> in CAP's sequence",
                        fields[last].name
                    ),
                ));
            }
            _ => {
                let from = last.map_or(0, |l| l + 1);
                if let Some(skipped) = fields[from..at].iter().find(|f| f.min > 0) {
                    let later = parent.children[i + 1..].iter().any(|c| c.name == skipped.name);
                    if later {
                        return Err(invalid(
                            child,
                            format!("is out of order: <{}> comes before it in CAP's sequence", skipped.name),
                        ));
                    }
                    return Err(missing(parent, skipped.name, "CAP requires it"));
                }
                last = Some(at);
            }
        }
        found[at].push(child);
    }
    let from = last.map_or(0, |l| l + 1);
    if let Some(absent) = fields[from..].iter().find(|f| f.min > 0) {
        return Err(missing(parent, absent.name, "CAP requires it"));
    }
    Ok(Children { parent, fields, found })
}
