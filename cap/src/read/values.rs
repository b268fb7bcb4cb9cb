//! The text of CAP's simple elements, checked and turned into values:
//! enumerations, dateTimes, identifiers, references, languages, numbers,
//! points, polygons and circles, each refusal naming the element and line.
//!
//! Works on one element at a time; never looks at siblings or parents.

use crate::CapError;
use crate::model::{
    Category, Certainty, Circle, MsgType, Point, Reference, ResponseType, Scope, Severity, Status, Urgency,
};
use crate::time::{self, CapTime};
use crate::xml::Element;

use super::invalid;

/// The XML Schema instance namespace: its attributes (`xsi:schemaLocation`)
/// may sit on any element; no other attribute is CAP's.
const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// Whitespace as XML counts it.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// Refuses attributes CAP does not define.
pub(super) fn no_attributes(element: &Element) -> Result<(), CapError> {
    match element.attributes.iter().find(|a| a.namespace.as_deref() != Some(XSI)) {
        None => Ok(()),
        Some(a) => Err(invalid(
            element,
            format!("has an attribute {}; CAP defines none", a.name),
        )),
    }
}

/// The text of a simple element, as written.
pub(super) fn text(element: &Element) -> Result<&str, CapError> {
    no_attributes(element)?;
    match element.children.first() {
        None => Ok(&element.text),
        Some(child) => Err(invalid(
            element,
            format!("holds <{}>; in CAP it holds text only", child.name),
        )),
    }
}

/// The text of a required simple element, as written, refused when it is
/// only whitespace.
pub(super) fn required_text(element: &Element) -> Result<String, CapError> {
    let text = text(element)?;
    if text.trim_matches(is_space).is_empty() {
        return Err(invalid(element, "is empty; CAP requires a value"));
    }
    Ok(text.to_string())
}

/// The text with surrounding whitespace trimmed, refused when empty.
fn trimmed(element: &Element) -> Result<&str, CapError> {
    let text = text(element)?.trim_matches(is_space);
    if text.is_empty() {
        return Err(invalid(element, "is empty; CAP requires a value"));
    }
    Ok(text)
}

/// The enumerations of the schema, read through one function.
pub(super) trait Enumeration: Sized + Copy + 'static {
    fn all() -> &'static [Self];
    fn from_text(text: &str) -> Option<Self>;
    fn text(self) -> &'static str;
}

macro_rules! enumerations {
    ($($t:ty),+) => {$(
        impl Enumeration for $t {
            fn all() -> &'static [Self] { <$t>::ALL }
            fn from_text(text: &str) -> Option<Self> { <$t>::from_cap(text) }
            fn text(self) -> &'static str { self.as_str() }
        }
    )+};
}
enumerations!(
    Status,
    MsgType,
    Scope,
    Category,
    ResponseType,
    Urgency,
    Severity,
    Certainty
);

/// One of the schema's values, spelled exactly as the schema does.
pub(super) fn enumeration<T: Enumeration>(element: &Element) -> Result<T, CapError> {
    let text = trimmed(element)?;
    T::from_text(text).ok_or_else(|| {
        let allowed: Vec<&str> = T::all().iter().map(|v| v.text()).collect();
        invalid(
            element,
            format!("'{text}' is not one of {} (spelled exactly so)", allowed.join(", ")),
        )
    })
}

/// A CAP dateTime, with an explicit offset.
pub(super) fn date_time(element: &Element) -> Result<CapTime, CapError> {
    let text = trimmed(element)?;
    CapTime::parse(text).ok_or_else(|| {
        let why = time::problem(text).unwrap_or_else(|| "is not a CAP dateTime".to_string());
        invalid(element, format!("'{text}' {why}"))
    })
}

/// Why `token` cannot be an identifier or sender (CAP 1.2 3.2.1: no
/// spaces, commas or restricted characters `<` and `&`).
fn token_problem(token: &str) -> Option<String> {
    let bad = token
        .chars()
        .find(|&c| c.is_whitespace() || matches!(c, ',' | '<' | '&'))?;
    let shown = if bad.is_whitespace() {
        "a space".to_string()
    } else {
        format!("'{bad}'")
    };
    Some(format!(
        "'{token}' holds {shown}; CAP allows no spaces, commas, < or & in it"
    ))
}

/// An identifier or sender.
pub(super) fn token(element: &Element) -> Result<String, CapError> {
    let text = trimmed(element)?;
    match token_problem(text) {
        Some(problem) => Err(invalid(element, problem)),
        None => Ok(text.to_string()),
    }
}

/// `<references>`: whitespace-separated `sender,identifier,sent`.
pub(super) fn references(element: &Element) -> Result<Vec<Reference>, CapError> {
    let mut references = Vec::new();
    for entry in text(element)?.split(is_space).filter(|e| !e.is_empty()) {
        let parts: Vec<&str> = entry.split(',').collect();
        let [sender, identifier, sent] = parts[..] else {
            return Err(invalid(element, format!("'{entry}' is not sender,identifier,sent")));
        };
        if sender.is_empty() || identifier.is_empty() {
            return Err(invalid(element, format!("'{entry}' is not sender,identifier,sent")));
        }
        if let Some(problem) = token_problem(sender).or_else(|| token_problem(identifier)) {
            return Err(invalid(element, format!("in '{entry}': {problem}")));
        }
        let Some(sent) = CapTime::parse(sent) else {
            let why = time::problem(sent).unwrap_or_default();
            return Err(invalid(element, format!("in '{entry}': sent '{sent}' {why}")));
        };
        references.push(Reference {
            sender: sender.to_string(),
            identifier: identifier.to_string(),
            sent,
        });
    }
    Ok(references)
}

/// `<language>`: an `xs:language` (RFC 3066) tag such as `zh-CN`.
pub(super) fn language(element: &Element) -> Result<String, CapError> {
    let text = trimmed(element)?;
    let ok = text.split('-').enumerate().all(|(i, part)| {
        (1..=8).contains(&part.len())
            && part.chars().all(|c| {
                if i == 0 {
                    c.is_ascii_alphabetic()
                } else {
                    c.is_ascii_alphanumeric()
                }
            })
    });
    if !ok {
        return Err(invalid(
            element,
            format!("'{text}' is not a language tag like zh-CN or en-US"),
        ));
    }
    Ok(text.to_string())
}

/// `<size>`: an `xs:integer` number of bytes, not negative.
pub(super) fn size(element: &Element) -> Result<u64, CapError> {
    let text = trimmed(element)?;
    let digits = text.strip_prefix('+').unwrap_or(text);
    if text.starts_with('-') && text[1..].bytes().all(|b| b.is_ascii_digit()) && text.len() > 1 {
        return Err(invalid(
            element,
            format!("'{text}' is negative; a size is a number of bytes"),
        ));
    }
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(element, format!("'{text}' is not a whole number of bytes")));
    }
    digits
        .parse()
        .map_err(|_| invalid(element, format!("'{text}' is too large a size")))
}

/// An `xs:decimal` (`-12.5`, `+3`, `.5`; no exponent), or why not.
fn decimal(text: &str) -> Result<f64, String> {
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() && fraction.is_empty() || !digits(whole) || !digits(fraction) {
        return Err(format!("'{text}' is not a decimal number"));
    }
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() => Ok(value),
        _ => Err(format!("'{text}' is out of range")),
    }
}

/// `<altitude>` or `<ceiling>`: a decimal number of feet.
pub(super) fn feet(element: &Element) -> Result<f64, CapError> {
    let text = trimmed(element)?;
    decimal(text).map_err(|problem| invalid(element, problem))
}

/// A WGS 84 `lat,lon` pair, or why not.
fn point(pair: &str) -> Result<Point, String> {
    let Some((lat, lon)) = pair.split_once(',') else {
        return Err(format!("'{pair}' is not a lat,lon pair"));
    };
    let lat = decimal(lat).map_err(|p| format!("in '{pair}': {p}"))?;
    let lon = decimal(lon).map_err(|p| format!("in '{pair}': {p}"))?;
    if !(-90.0..=90.0).contains(&lat) {
        return Err(format!("in '{pair}': latitude {lat} is outside -90..90"));
    }
    if !(-180.0..=180.0).contains(&lon) {
        return Err(format!("in '{pair}': longitude {lon} is outside -180..180"));
    }
    Ok(Point { lat, lon })
}

/// `<polygon>`: four or more points, the first repeated as the last.
pub(super) fn polygon(element: &Element) -> Result<Vec<Point>, CapError> {
    let text = text(element)?;
    let points = text
        .split(is_space)
        .filter(|p| !p.is_empty())
        .map(point)
        .collect::<Result<Vec<Point>, String>>()
        .map_err(|problem| invalid(element, problem))?;
    if points.len() < 4 {
        return Err(invalid(
            element,
            format!(
                "has {} points; a polygon needs at least 4, the first repeated as the last",
                points.len()
            ),
        ));
    }
    if points.first() != points.last() {
        return Err(invalid(element, "is not closed: its last point must repeat its first"));
    }
    Ok(points)
}

/// `<circle>`: `lat,lon radius`, the radius in kilometres, not negative.
pub(super) fn circle(element: &Element) -> Result<Circle, CapError> {
    let text = trimmed(element)?;
    let parts: Vec<&str> = text.split(is_space).filter(|p| !p.is_empty()).collect();
    let [center, radius] = parts[..] else {
        return Err(invalid(
            element,
            format!("'{text}' is not 'lat,lon radius' (radius in km)"),
        ));
    };
    let center = point(center).map_err(|problem| invalid(element, problem))?;
    let radius_km = decimal(radius).map_err(|problem| invalid(element, format!("radius {problem}")))?;
    if radius_km < 0.0 {
        return Err(invalid(element, format!("radius {radius} is negative")));
    }
    Ok(Circle { center, radius_km })
}
