//! An alert as CAP 1.2 XML: [`to_xml`] writes the declaration, the root in
//! CAP's namespace and every present element in the schema's order, two
//! spaces per level, text escaped so it reads back as it was.
//!
//! Writes what it is given: an alert from [`crate::parse`] (or built to
//! the same rules, as the export does) validates against the OASIS schema
//! and reads back equal. Never checks the alert, never writes a signature.

use std::fmt::Write as _;

use crate::model::{Alert, Area, Info, NAMESPACE, NameValue, Point, Resource};

/// `alert` as a UTF-8 XML document.
pub fn to_xml(alert: &Alert) -> String {
    let mut w = Writer {
        out: String::with_capacity(2048),
        depth: 0,
    };
    w.out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    w.out.push_str("<alert xmlns=\"");
    escape_into(&mut w.out, NAMESPACE, true);
    w.out.push_str("\">\n");
    w.depth = 1;
    w.leaf("identifier", &alert.identifier);
    w.leaf("sender", &alert.sender);
    w.leaf("sent", &alert.sent.to_string());
    w.leaf("status", alert.status.as_str());
    w.leaf("msgType", alert.msg_type.as_str());
    w.optional("source", &alert.source);
    w.leaf("scope", alert.scope.as_str());
    w.optional("restriction", &alert.restriction);
    w.optional("addresses", &alert.addresses);
    for code in &alert.codes {
        w.leaf("code", code);
    }
    w.optional("note", &alert.note);
    if !alert.references.is_empty() {
        let references: Vec<String> = alert
            .references
            .iter()
            .map(|r| format!("{},{},{}", r.sender, r.identifier, r.sent))
            .collect();
        w.leaf("references", &references.join(" "));
    }
    w.optional("incidents", &alert.incidents);
    for info in &alert.infos {
        w.info(info);
    }
    w.out.push_str("</alert>\n");
    w.out
}

/// The document so far and the current nesting level.
struct Writer {
    out: String,
    depth: usize,
}

impl Writer {
    fn indent(&mut self) {
        for _ in 0..self.depth {
            self.out.push_str("  ");
        }
    }

    /// `<name>text</name>` on its own line.
    fn leaf(&mut self, name: &str, text: &str) {
        self.indent();
        let _ = write!(self.out, "<{name}>");
        escape_into(&mut self.out, text, false);
        let _ = writeln!(self.out, "</{name}>");
    }

    fn optional(&mut self, name: &str, text: &Option<String>) {
        if let Some(text) = text {
            self.leaf(name, text);
        }
    }

    /// `<name>`, then `body` one level deeper, then `</name>`.
    fn parent(&mut self, name: &str, body: impl FnOnce(&mut Writer)) {
        self.indent();
        let _ = writeln!(self.out, "<{name}>");
        self.depth += 1;
        body(self);
        self.depth -= 1;
        self.indent();
        let _ = writeln!(self.out, "</{name}>");
    }

    fn name_values(&mut self, name: &str, pairs: &[NameValue]) {
        for pair in pairs {
            self.parent(name, |w| {
                w.leaf("valueName", &pair.name);
                w.leaf("value", &pair.value);
            });
        }
    }

    fn info(&mut self, info: &Info) {
        self.parent("info", |w| {
            w.leaf("language", &info.language);
            for category in &info.categories {
                w.leaf("category", category.as_str());
            }
            w.leaf("event", &info.event);
            for response in &info.response_types {
                w.leaf("responseType", response.as_str());
            }
            w.leaf("urgency", info.urgency.as_str());
            w.leaf("severity", info.severity.as_str());
            w.leaf("certainty", info.certainty.as_str());
            w.optional("audience", &info.audience);
            w.name_values("eventCode", &info.event_codes);
            for (name, time) in [
                ("effective", info.effective),
                ("onset", info.onset),
                ("expires", info.expires),
            ] {
                if let Some(time) = time {
                    w.leaf(name, &time.to_string());
                }
            }
            w.optional("senderName", &info.sender_name);
            w.optional("headline", &info.headline);
            w.optional("description", &info.description);
            w.optional("instruction", &info.instruction);
            w.optional("web", &info.web);
            w.optional("contact", &info.contact);
            w.name_values("parameter", &info.parameters);
            for resource in &info.resources {
                w.resource(resource);
            }
            for area in &info.areas {
                w.area(area);
            }
        });
    }

    fn resource(&mut self, resource: &Resource) {
        self.parent("resource", |w| {
            w.leaf("resourceDesc", &resource.description);
            w.leaf("mimeType", &resource.mime_type);
            if let Some(size) = resource.size {
                w.leaf("size", &size.to_string());
            }
            w.optional("uri", &resource.uri);
            w.optional("derefUri", &resource.deref_uri);
            w.optional("digest", &resource.digest);
        });
    }

    fn area(&mut self, area: &Area) {
        self.parent("area", |w| {
            w.leaf("areaDesc", &area.description);
            for polygon in &area.polygons {
                let points: Vec<String> = polygon.iter().map(|&p| point(p)).collect();
                w.leaf("polygon", &points.join(" "));
            }
            for circle in &area.circles {
                w.leaf("circle", &format!("{} {}", point(circle.center), circle.radius_km));
            }
            w.name_values("geocode", &area.geocodes);
            if let Some(altitude) = area.altitude {
                w.leaf("altitude", &altitude.to_string());
            }
            if let Some(ceiling) = area.ceiling {
                w.leaf("ceiling", &ceiling.to_string());
            }
        });
    }
}

/// `lat,lon`. Rust writes an `f64` in the fewest digits that read back to
/// the same value, and never with an exponent, so it is an `xs:decimal`.
fn point(p: Point) -> String {
    format!("{},{}", p.lat, p.lon)
}

/// `text` escaped for XML content (or an attribute value in quotes):
/// `& < >` always, quotes in attributes, a carriage return as a reference
/// (a raw one would read back as a newline). Characters XML 1.0 cannot
/// carry at all (C0 controls but tab and newline, U+FFFE, U+FFFF) become
/// U+FFFD; a read alert never holds them.
fn escape_into(out: &mut String, text: &str, attribute: bool) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\'' if attribute => out.push_str("&apos;"),
            '\r' => out.push_str("&#13;"),
            '\t' if attribute => out.push_str("&#9;"),
            '\n' if attribute => out.push_str("&#10;"),
            '\t' | '\n' => out.push(c),
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(text: &str, attribute: bool) -> String {
        let mut out = String::new();
        escape_into(&mut out, text, attribute);
        out
    }

    #[test]
    fn escapes_markup_and_keeps_line_ends() {
        assert_eq!(
            escaped("a & b < c > d \"e\" 'f'", false),
            "a &amp; b &lt; c &gt; d \"e\" 'f'"
        );
        assert_eq!(escaped("\"e\" 'f'", true), "&quot;e&quot; &apos;f&apos;");
        assert_eq!(escaped("一\r\n二\t三", false), "一&#13;\n二\t三");
        assert_eq!(escaped("a\u{1}b", false), "a\u{fffd}b");
    }

    #[test]
    fn numbers_are_plain_decimals() {
        assert_eq!(point(Point { lat: 1e-7, lon: -180.0 }), "0.0000001,-180");
        assert_eq!(
            point(Point {
                lat: 38.47,
                lon: -120.14
            }),
            "38.47,-120.14"
        );
        assert_eq!(1e21f64.to_string(), "1000000000000000000000");
    }
}
