//! Hostile XML refused with a clear message: external entities, entity
//! expansion, bodies over the size bound, deep nesting, too many elements,
//! invalid UTF-8, other encodings, and XML that is not well-formed.
//!
//! Each is bounded by construction: the size check comes before any
//! parsing, the reader stops at the first element past a bound, and no
//! DOCTYPE or entity is ever expanded; so every case here finishes in
//! time linear in its (at most a few megabytes of) input. Nothing is timed.

mod common;

use liandong_cap::{CapError, MAX_BYTES, MAX_DEPTH, MAX_ELEMENTS, parse};

const HEAD: &str = "<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">";

/// The refusal of `bytes` as an XML problem: (line, problem).
fn xml_refusal(bytes: &[u8]) -> (u32, String) {
    match parse(bytes) {
        Err(CapError::Xml { line, problem }) => (line, problem),
        other => panic!("expected an XML refusal, got {other:?}"),
    }
}

#[test]
fn an_external_entity_to_etc_passwd_is_refused_at_the_doctype() {
    let text = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE alert [\n  <!ENTITY xxe SYSTEM \"file:///etc/passwd\">\n]>\n{HEAD}<identifier>&xxe;</identifier></alert>"
    );
    let (line, problem) = xml_refusal(text.as_bytes());
    assert_eq!(line, 2);
    assert_eq!(
        problem,
        "DOCTYPE is not allowed: CAP alerts need none and entity declarations could expand or reach outside"
    );
    assert!(!problem.contains("root:"), "nothing of /etc/passwd is read");
}

#[test]
fn billion_laughs_is_refused_at_the_doctype() {
    let mut text = String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n");
    for i in 1..=9 {
        let previous = if i == 1 {
            "lol".to_string()
        } else {
            format!("lol{}", i - 1)
        };
        let body: String = (0..10).map(|_| format!("&{previous};")).collect();
        text.push_str(&format!(" <!ENTITY lol{i} \"{body}\">\n"));
    }
    text.push_str(&format!("]>\n{HEAD}<identifier>&lol9;</identifier></alert>\n"));
    let (line, problem) = xml_refusal(text.as_bytes());
    assert_eq!(line, 2);
    assert!(problem.starts_with("DOCTYPE is not allowed"), "{problem}");
}

#[test]
fn an_undeclared_entity_reference_is_refused() {
    let text = format!("{HEAD}\n<identifier>a&nbsp;b</identifier></alert>");
    let (line, problem) = xml_refusal(text.as_bytes());
    assert_eq!(line, 2);
    assert!(problem.contains("entity reference &nbsp; is not allowed"), "{problem}");
}

#[test]
fn character_references_and_the_five_entities_are_read() {
    let text = format!(
        "{HEAD}<identifier>A&#x42;&#67;</identifier><sender>s</sender><sent>2024-01-01T00:00:00+08:00</sent>\
         <status>Actual</status><msgType>Alert</msgType><scope>Public</scope>\
         <note>&lt;&gt;&amp;&apos;&quot;&#x53F0;&#39118;</note></alert>"
    );
    let alert = parse(text.as_bytes()).unwrap();
    assert_eq!(alert.identifier, "ABC");
    assert_eq!(alert.note.as_deref(), Some("<>&'\"台风"));
    let (_, problem) = xml_refusal(format!("{HEAD}<note>&#0;</note></alert>").as_bytes());
    assert!(problem.contains("&#0;"), "{problem}");
}

#[test]
fn a_10_mb_body_is_refused_before_parsing() {
    let mut body = format!("{HEAD}<note>").into_bytes();
    body.resize(10 * 1024 * 1024, b'x');
    assert_eq!(
        parse(&body),
        Err(CapError::TooLarge {
            size: 10 * 1024 * 1024,
            max: MAX_BYTES
        })
    );
    let message = parse(&body).unwrap_err().to_string();
    assert_eq!(
        message,
        format!("the alert is 10485760 bytes; at most {MAX_BYTES} are read")
    );
}

#[test]
fn an_alert_of_exactly_the_bound_is_read() {
    let head = format!(
        "{HEAD}<identifier>a</identifier><sender>s</sender><sent>2024-01-01T00:00:00+08:00</sent>\
         <status>Actual</status><msgType>Alert</msgType><scope>Public</scope><note>"
    );
    let tail = "</note></alert>";
    let mut text = head.clone();
    text.push_str(&"台".repeat((MAX_BYTES - head.len() - tail.len()) / 3));
    while text.len() + tail.len() < MAX_BYTES {
        text.push('x');
    }
    text.push_str(tail);
    assert_eq!(text.len(), MAX_BYTES);
    let alert = parse(text.as_bytes()).unwrap();
    assert!(alert.note.unwrap().len() > MAX_BYTES - 400);
}

#[test]
fn a_million_nested_elements_are_refused() {
    // 1,000,000 levels do not fit in the size bound...
    let deep = "<a>".repeat(1_000_000);
    assert!(matches!(parse(deep.as_bytes()), Err(CapError::TooLarge { .. })));
    // ...and within it, reading stops at the first element too deep.
    let deep = format!("{HEAD}\n{}", "<a>\n".repeat(50_000));
    assert!(deep.len() <= MAX_BYTES);
    let (line, problem) = xml_refusal(deep.as_bytes());
    assert_eq!(line, MAX_DEPTH as u32 + 1);
    assert_eq!(problem, format!("<a> is nested deeper than {MAX_DEPTH} levels"));
}

#[test]
fn too_many_elements_are_refused() {
    let text = format!("{HEAD}\n{}</alert>", "<code>x</code>\n".repeat(MAX_ELEMENTS + 10));
    assert!(text.len() <= MAX_BYTES);
    let (line, problem) = xml_refusal(text.as_bytes());
    assert_eq!(line, MAX_ELEMENTS as u32 + 1);
    assert_eq!(problem, format!("more than {MAX_ELEMENTS} elements"));
}

#[test]
fn too_many_attributes_or_namespaces_are_refused() {
    let attributes: String = (0..5_000).map(|i| format!(" a{i}=\"\"")).collect();
    let (_, problem) = xml_refusal(format!("<alert{attributes}/>").as_bytes());
    assert!(problem.contains("more than 32 attributes"), "{problem}");
    let bindings: String = (0..5_000).map(|i| format!(" xmlns:p{i}=\"urn:x:{i}\"")).collect();
    xml_refusal(format!("<alert{bindings}/>").as_bytes());
}

#[test]
fn invalid_utf8_on_line_3_is_refused_naming_line_3() {
    let mut bytes = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{HEAD}\n<identifier>").into_bytes();
    bytes.extend_from_slice(b"\xC3\x28</identifier>\n</alert>\n");
    let (line, problem) = xml_refusal(&bytes);
    assert_eq!(line, 3);
    assert!(
        problem.contains("is not UTF-8 (0xC3); CAP alerts are read in UTF-8 only"),
        "{problem}"
    );
}

#[test]
fn utf16_is_refused() {
    let text = format!("<?xml version=\"1.0\" encoding=\"UTF-16\"?>\n{HEAD}</alert>");
    let mut bytes = vec![0xFF, 0xFE];
    bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    let (line, problem) = xml_refusal(&bytes);
    assert_eq!(line, 1);
    assert!(problem.contains("not UTF-8"), "{problem}");
}

#[test]
fn a_non_utf8_encoding_declaration_is_refused() {
    for encoding in ["GB2312", "GBK", "ISO-8859-1", "UTF-16"] {
        let text = format!("<?xml version=\"1.0\" encoding=\"{encoding}\"?>\n{HEAD}</alert>");
        let (line, problem) = xml_refusal(text.as_bytes());
        assert_eq!(line, 1);
        assert_eq!(
            problem,
            format!("the declared encoding is {encoding}; CAP alerts are read in UTF-8 only")
        );
    }
    // A UTF-8 byte order mark and a lower-case name are fine.
    let text = format!("\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?>\n{HEAD}</alert>");
    assert!(
        matches!(parse(text.as_bytes()), Err(CapError::Invalid { .. })),
        "read as XML, refused as CAP"
    );
}

#[test]
fn what_is_not_well_formed_is_refused_with_its_line() {
    let cases: &[(&str, u32, &str)] = &[
        ("<alert>\n<a>\n</b>\n</alert>", 3, "not well-formed XML"),
        ("<alert>\n<a>", 2, "<a> is never closed"),
        ("<alert/>\n<alert/>", 2, "<alert> after the root element"),
        ("<alert/>\ntrailing", 2, "text after the root element"),
        ("text\n<alert/>", 1, "text before the root element"),
        (
            "<alert>\n<a>x</a>\n  loose text\n</alert>",
            3,
            "holds elements (<a>) and text beside them",
        ),
        ("<alert>\n  words <a/></alert>", 2, "holds text and elements beside it"),
        ("<alert>\u{1}</alert>", 1, "character U+0001 is not allowed in XML"),
        ("<alert>\n<p:a/></alert>", 2, "namespace prefix p: is not declared"),
        ("<alert>\n<a b=\"1\" b=\"2\"/></alert>", 2, "not well-formed XML"),
        ("\n\n", 3, "no root element"),
        (
            "<alert/>\n<?xml version=\"1.0\"?>",
            2,
            "the XML declaration must come first",
        ),
    ];
    for (text, expected_line, says) in cases {
        match parse(text.as_bytes()) {
            Err(CapError::Xml { line, problem }) if line == *expected_line && problem.contains(says) => {}
            other => panic!("{text:?}: expected line {expected_line} saying {says:?}, got {other:?}"),
        }
    }
}
