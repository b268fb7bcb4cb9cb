//! Broken alerts, each refused with the element at fault (or the parent
//! missing a child) and its line; and what is allowed around the edges
//! (whitespace around values, prefixes, a trailing XML Signature).
//!
//! Every case is one edit of a valid base alert. Where xmllint is here,
//! the table also says which problems the OASIS schema itself catches and
//! which only the spec's rules beyond it do (the schema accepts those).

mod common;

use common::xmllint;
use liandong_cap::{CapError, MsgType, Status, parse};

/// A valid alert, one element per line: the line numbers below count on it.
const BASE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>LD-1</identifier>
  <sender>center.example.cn</sender>
  <sent>2024-07-21T08:30:00+08:00</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
  <info>
    <category>Met</category>
    <event>台风</event>
    <urgency>Immediate</urgency>
    <severity>Severe</severity>
    <certainty>Likely</certainty>
    <resource>
      <resourceDesc>map</resourceDesc>
      <mimeType>image/png</mimeType>
      <size>1024</size>
    </resource>
    <area>
      <areaDesc>湛江</areaDesc>
      <polygon>21.2,110.1 21.9,111.9 20.5,111.5 21.2,110.1</polygon>
      <circle>21.27,110.36 150</circle>
      <geocode>
        <valueName>GB/T 2260</valueName>
        <value>440800</value>
      </geocode>
      <altitude>0</altitude>
      <ceiling>1000</ceiling>
    </area>
  </info>
</alert>
"#;

/// Which check refuses a case besides ours.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Rule {
    /// The OASIS schema refuses it too.
    Schema,
    /// Only CAP 1.2's rules beyond the schema do (the schema accepts it).
    Spec,
}

struct Case {
    what: &'static str,
    /// Replace the first `from` of BASE with `to`, every time `times`.
    edits: &'static [(&'static str, &'static str)],
    element: &'static str,
    line: u32,
    /// Words the problem must hold.
    says: &'static str,
    rule: Rule,
}

const CASES: &[Case] = &[
    Case {
        what: "CAP 1.1 namespace",
        edits: &[("cap:1.2\">", "cap:1.1\">")],
        element: "alert",
        line: 2,
        says: "is in CAP 1.1 (namespace urn:oasis:names:tc:emergency:cap:1.1); only CAP 1.2 is read",
        rule: Rule::Schema,
    },
    Case {
        what: "no namespace",
        edits: &[(" xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\"", "")],
        element: "alert",
        line: 2,
        says: "is in no namespace",
        rule: Rule::Schema,
    },
    Case {
        what: "missing identifier",
        edits: &[("  <identifier>LD-1</identifier>", "")],
        element: "alert",
        line: 2,
        says: "missing <identifier>",
        rule: Rule::Schema,
    },
    Case {
        what: "sent in UTC with Z",
        edits: &[("08:30:00+08:00</sent>", "08:30:00Z</sent>")],
        element: "sent",
        line: 5,
        says: "needs an explicit offset like +08:00",
        rule: Rule::Schema,
    },
    Case {
        what: "sent without offset",
        edits: &[("08:30:00+08:00</sent>", "08:30:00</sent>")],
        element: "sent",
        line: 5,
        says: "needs an explicit offset like +08:00",
        rule: Rule::Schema,
    },
    Case {
        what: "February 30",
        edits: &[("<sent>2024-07-21", "<sent>2024-02-30")],
        element: "sent",
        line: 5,
        says: "2024-02-30 is not a calendar date",
        rule: Rule::Schema,
    },
    Case {
        what: "status in the wrong case",
        edits: &[("<status>Actual", "<status>actual")],
        element: "status",
        line: 6,
        says: "'actual' is not one of Actual, Exercise, System, Test, Draft",
        rule: Rule::Schema,
    },
    Case {
        what: "sender before identifier",
        edits: &[
            ("<identifier>LD-1</identifier>", "<SWAP/>"),
            ("<sender>center.example.cn</sender>", "<identifier>LD-1</identifier>"),
            ("<SWAP/>", "<sender>center.example.cn</sender>"),
        ],
        element: "sender",
        line: 3,
        says: "out of order: <identifier> comes before it",
        rule: Rule::Schema,
    },
    Case {
        what: "scope before msgType",
        edits: &[(
            "  <msgType>Alert</msgType>\n  <scope>Public</scope>",
            "  <scope>Public</scope>\n  <msgType>Alert</msgType>",
        )],
        element: "scope",
        line: 7,
        says: "out of order: <msgType> comes before it",
        rule: Rule::Schema,
    },
    Case {
        what: "an element CAP does not have",
        edits: &[("<scope>Public</scope>", "<scope>Public</scope><priority>1</priority>")],
        element: "priority",
        line: 8,
        says: "is not an element of <alert> in CAP 1.2",
        rule: Rule::Schema,
    },
    Case {
        what: "a foreign element inside info",
        edits: &[(
            "<event>台风</event>",
            "<event>台风</event><x:extra xmlns:x=\"urn:example\"/>",
        )],
        element: "extra",
        line: 11,
        says: "is in urn:example, not CAP 1.2's namespace",
        rule: Rule::Schema,
    },
    Case {
        what: "event taken out of the namespace",
        edits: &[("<event>", "<event xmlns=\"\">")],
        element: "event",
        line: 11,
        says: "is in no namespace, not CAP 1.2's namespace",
        rule: Rule::Schema,
    },
    Case {
        what: "scope twice",
        edits: &[("<scope>Public</scope>", "<scope>Public</scope>\n<scope>Public</scope>")],
        element: "scope",
        line: 9,
        says: "appears twice",
        rule: Rule::Schema,
    },
    Case {
        what: "Update without references",
        edits: &[("<msgType>Alert", "<msgType>Update")],
        element: "alert",
        line: 2,
        says: "missing <references>: msgType Update must name the earlier messages",
        rule: Rule::Spec,
    },
    Case {
        what: "Cancel with a malformed reference",
        edits: &[
            ("<msgType>Alert", "<msgType>Cancel"),
            (
                "<scope>Public</scope>",
                "<scope>Public</scope><references>center.example.cn,LD-0</references>",
            ),
        ],
        element: "references",
        line: 8,
        says: "'center.example.cn,LD-0' is not sender,identifier,sent",
        rule: Rule::Spec,
    },
    Case {
        what: "Restricted without restriction",
        edits: &[("<scope>Public", "<scope>Restricted")],
        element: "alert",
        line: 2,
        says: "missing <restriction>: scope Restricted",
        rule: Rule::Spec,
    },
    Case {
        what: "Private without addresses",
        edits: &[("<scope>Public", "<scope>Private")],
        element: "alert",
        line: 2,
        says: "missing <addresses>: scope Private",
        rule: Rule::Spec,
    },
    Case {
        what: "identifier with a space",
        edits: &[("<identifier>LD-1", "<identifier>LD 1")],
        element: "identifier",
        line: 3,
        says: "'LD 1' holds a space",
        rule: Rule::Spec,
    },
    Case {
        what: "sender with a comma",
        edits: &[("<sender>center.example.cn", "<sender>center,example")],
        element: "sender",
        line: 4,
        says: "holds ','",
        rule: Rule::Spec,
    },
    Case {
        what: "info without category",
        edits: &[("    <category>Met</category>\n", "")],
        element: "info",
        line: 9,
        says: "missing <category>",
        rule: Rule::Schema,
    },
    Case {
        what: "empty event",
        edits: &[("<event>台风</event>", "<event> </event>")],
        element: "event",
        line: 11,
        says: "is empty",
        rule: Rule::Spec,
    },
    Case {
        what: "event holding an element",
        edits: &[("<event>台风</event>", "<event><b>台风</b></event>")],
        element: "event",
        line: 11,
        says: "holds <b>; in CAP it holds text only",
        rule: Rule::Schema,
    },
    Case {
        what: "an attribute on a CAP element",
        edits: &[("<event>", "<event lang=\"zh\">")],
        element: "event",
        line: 11,
        says: "has an attribute lang",
        rule: Rule::Schema,
    },
    Case {
        what: "size not a number",
        edits: &[("<size>1024", "<size>1 KB")],
        element: "size",
        line: 18,
        says: "'1 KB' is not a whole number of bytes",
        rule: Rule::Schema,
    },
    Case {
        what: "polygon not closed",
        edits: &[("20.5,111.5 21.2,110.1</polygon>", "20.5,111.5 21.2,110.2</polygon>")],
        element: "polygon",
        line: 22,
        says: "is not closed",
        rule: Rule::Spec,
    },
    Case {
        what: "polygon of 3 points",
        edits: &[("21.9,111.9 20.5,111.5 21.2,110.1", "21.9,111.9 21.2,110.1")],
        element: "polygon",
        line: 22,
        says: "has 3 points; a polygon needs at least 4",
        rule: Rule::Spec,
    },
    Case {
        what: "latitude 95",
        edits: &[("<circle>21.27,110.36", "<circle>95,110.36")],
        element: "circle",
        line: 23,
        says: "latitude 95 is outside -90..90",
        rule: Rule::Spec,
    },
    Case {
        what: "longitude 181 in a polygon",
        edits: &[("21.9,111.9", "21.9,181")],
        element: "polygon",
        line: 22,
        says: "longitude 181 is outside -180..180",
        rule: Rule::Spec,
    },
    Case {
        what: "circle without radius",
        edits: &[("<circle>21.27,110.36 150</circle>", "<circle>21.27,110.36</circle>")],
        element: "circle",
        line: 23,
        says: "is not 'lat,lon radius'",
        rule: Rule::Spec,
    },
    Case {
        what: "geocode without value",
        edits: &[("        <value>440800</value>\n", "")],
        element: "geocode",
        line: 24,
        says: "missing <value>",
        rule: Rule::Schema,
    },
    Case {
        what: "ceiling without altitude",
        edits: &[("      <altitude>0</altitude>\n", "")],
        element: "ceiling",
        line: 28,
        says: "without <altitude>",
        rule: Rule::Spec,
    },
    Case {
        what: "altitude with an exponent",
        edits: &[("<altitude>0", "<altitude>1e3")],
        element: "altitude",
        line: 28,
        says: "'1e3' is not a decimal number",
        rule: Rule::Schema,
    },
    Case {
        what: "a language that is no tag",
        edits: &[("<category>Met", "<language>zh_CN</language><category>Met")],
        element: "language",
        line: 10,
        says: "'zh_CN' is not a language tag",
        rule: Rule::Schema,
    },
    Case {
        what: "a CAP element after the signature",
        edits: &[(
            "  </info>\n",
            "  </info>\n  <Signature xmlns=\"http://www.w3.org/2000/09/xmldsig#\"/>\n  <note>late</note>\n",
        )],
        element: "note",
        line: 33,
        says: "comes after the XML Signature",
        rule: Rule::Schema,
    },
];

fn edited(case: &Case) -> String {
    let mut text = BASE.to_string();
    for (from, to) in case.edits {
        assert!(text.contains(from), "{}: the base has no {from:?}", case.what);
        text = text.replacen(from, to, 1);
    }
    text
}

#[test]
fn the_base_alert_is_valid() {
    let alert = parse(BASE.as_bytes()).unwrap();
    assert_eq!(alert.identifier, "LD-1");
    assert_eq!(alert.infos[0].areas[0].ceiling, Some(1000.0));
}

#[test]
fn each_broken_alert_names_its_element_and_line() {
    assert!(CASES.len() >= 15);
    let mut wrong = Vec::new();
    for case in CASES {
        match parse(edited(case).as_bytes()) {
            Err(CapError::Invalid { line, element, problem })
                if element == case.element && line == case.line && problem.contains(case.says) => {}
            other => wrong.push(format!(
                "{}: expected <{}> on line {} saying {:?}, got {other:?}",
                case.what, case.element, case.line, case.says
            )),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_schema_catches_the_schema_cases_and_only_those() {
    if !xmllint::available("the_schema_catches_the_schema_cases_and_only_those") {
        return;
    }
    xmllint::assert_valid("the base alert", BASE.as_bytes());
    let mut wrong = Vec::new();
    for case in CASES {
        let schema_refuses = xmllint::validate(edited(case).as_bytes()).is_err();
        if schema_refuses != (case.rule == Rule::Schema) {
            wrong.push(format!(
                "{}: the schema {}",
                case.what,
                if schema_refuses { "refuses it" } else { "accepts it" }
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_error_reads_as_a_sentence() {
    let case = CASES.iter().find(|c| c.what == "February 30").unwrap();
    let error = parse(edited(case).as_bytes()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "line 5: <sent>: '2024-02-30T08:30:00+08:00' 2024-02-30 is not a calendar date (that month has 29 days)"
    );
}

#[test]
fn whitespace_around_values_is_trimmed_and_free_text_kept() {
    let text = BASE
        .replacen("<status>Actual", "<status>\n    Actual\n  ", 1)
        .replacen("<identifier>LD-1", "<identifier> LD-1\t", 1)
        .replacen(
            "<sent>2024-07-21T08:30:00+08:00",
            "<sent>\n2024-07-21T08:30:00+08:00\n",
            1,
        )
        .replacen("<event>台风", "<event> 台风\n", 1);
    let alert = parse(text.as_bytes()).unwrap();
    assert_eq!(alert.status, Status::Actual);
    assert_eq!(alert.identifier, "LD-1");
    assert_eq!(alert.sent.to_string(), "2024-07-21T08:30:00+08:00");
    assert_eq!(alert.infos[0].event, " 台风\n");
}

#[test]
fn prefixes_references_and_a_trailing_signature_are_read() {
    let text = BASE
        .replace("<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">", "<cap:alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\" xmlns:cap=\"urn:oasis:names:tc:emergency:cap:1.2\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:schemaLocation=\"urn:oasis:names:tc:emergency:cap:1.2 CAP-v1.2.xsd\">")
        .replace("</alert>", "</cap:alert>")
        .replace("<identifier>LD-1</identifier>", "<cap:identifier>LD-1</cap:identifier>")
        .replace("<msgType>Alert</msgType>", "<msgType xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">Update</msgType>")
        .replace(
            "<scope>Public</scope>",
            "<scope>Public</scope>\n<references>\n  a.example,LD-0,2024-07-20T08:30:00+08:00\tb.example,X.1,2024-07-20T00:30:00-00:00\n</references>",
        )
        .replace(
            "  </info>\n",
            "  </info>\n  <ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" Id=\"s\"><ds:SignedInfo><ds:Anything/></ds:SignedInfo></ds:Signature>\n",
        );
    let alert = parse(text.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(alert.msg_type, MsgType::Update);
    let refs: Vec<(&str, &str, String)> = alert
        .references
        .iter()
        .map(|r| (&*r.sender, &*r.identifier, r.sent.to_string()))
        .collect();
    assert_eq!(
        refs,
        [
            ("a.example", "LD-0", "2024-07-20T08:30:00+08:00".to_string()),
            ("b.example", "X.1", "2024-07-20T00:30:00-00:00".to_string())
        ]
    );
    if xmllint::available("prefixes_references_and_a_trailing_signature_are_read") {
        xmllint::assert_valid("prefixed alert with a signature", text.as_bytes());
    }
}

#[test]
fn other_roots_say_what_they_are() {
    let cases = [
        (
            "<feed xmlns=\"http://www.w3.org/2005/Atom\"/>",
            "feed",
            "is not a CAP alert (namespace http://www.w3.org/2005/Atom)",
        ),
        (
            "<alert xmlns=\"http://www.incident.com/cap/1.0\"/>",
            "alert",
            "is in CAP 1.0",
        ),
        (
            "\n\n<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.3\"/>",
            "alert",
            "is in CAP 1.3",
        ),
    ];
    for (text, element_at_fault, says) in cases {
        match parse(text.as_bytes()) {
            Err(CapError::Invalid { element, problem, .. })
                if element == element_at_fault && problem.contains(says) => {}
            other => panic!("{text}: {other:?}"),
        }
    }
    let Err(CapError::Invalid { line, .. }) = parse(cases[2].0.as_bytes()) else {
        panic!()
    };
    assert_eq!(line, 3);
}
