//! Alerts built in code and written with [`liandong_cap::to_xml`]: every
//! optional element filled, several infos, Chinese text with `& < >` and
//! quotes. Each validates against the OASIS CAP 1.2 schema with xmllint
//! and reads back equal.

mod common;

use common::{alerts, xmllint};
use liandong_cap::{Alert, parse, to_xml};

fn built() -> Vec<(&'static str, Alert)> {
    vec![
        ("typhoon (every element)", alerts::typhoon()),
        ("minimal", alerts::minimal()),
        ("private cancel", alerts::private_cancel()),
    ]
}

#[test]
fn built_alerts_read_back_equal() {
    for (what, alert) in built() {
        let written = to_xml(&alert);
        let again = parse(written.as_bytes()).unwrap_or_else(|e| panic!("{what}: {e}\n{written}"));
        assert_eq!(again, alert, "{what}");
    }
}

#[test]
fn built_alerts_validate_against_the_oasis_schema() {
    if !xmllint::available("built_alerts_validate_against_the_oasis_schema") {
        return;
    }
    for (what, alert) in built() {
        xmllint::assert_valid(what, to_xml(&alert).as_bytes());
    }
}

#[test]
fn the_document_is_laid_out_as_promised() {
    let written = to_xml(&alerts::typhoon());
    let mut lines = written.lines();
    assert_eq!(lines.next(), Some(r#"<?xml version="1.0" encoding="UTF-8"?>"#));
    assert_eq!(
        lines.next(),
        Some(r#"<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">"#)
    );
    assert_eq!(
        lines.next(),
        Some("  <identifier>44000041600000-2024-0721-0001</identifier>")
    );
    assert!(written.contains("\n    <language>zh-CN</language>\n"), "{written}");
    assert!(
        written.contains("\n        <valueName>GB/T 2260</valueName>\n"),
        "{written}"
    );
    assert!(
        written.contains("<event>台风红色预警 &lt;一级&gt; &amp; 暴雨</event>"),
        "{written}"
    );
    assert!(
        written.contains("<headline>台风\"格美\"红色预警：风力 &gt;12级</headline>"),
        "{written}"
    );
    assert!(
        written.contains("阵风 &lt; 17 级。&#13;\n请注意防范。 </description>"),
        "{written}"
    );
    assert!(written.contains("<sent>2024-07-21T08:30:00+08:00</sent>"));
    assert!(written.contains(
        "<references>warning.gd.gov.cn,44000041600000-2024-0720-0007,2024-07-20T17:00:00+08:00 \
         warning.gd.gov.cn,44000041600000-2024-0721-0000,2024-07-21T02:00:00-00:00</references>"
    ));
    assert!(written.contains("<polygon>-0.5,-179.999999 89.9,180 -90,0.0000001 -0.5,-179.999999</polygon>"));
    assert!(written.contains("<circle>21.27,110.36 150</circle>"));
    assert!(written.contains("<ceiling>32808.4</ceiling>"));
    assert!(written.ends_with("</alert>\n"));
    // Schema order within info: the zh info's areas come after its resources.
    let resource = written.find("<resource>").unwrap();
    let area = written.find("<area>").unwrap();
    assert!(resource < area);
}

#[test]
fn free_text_survives_exactly() {
    let alert = alerts::typhoon();
    let again = parse(to_xml(&alert).as_bytes()).unwrap();
    let description = again.infos[0].description.as_deref().unwrap();
    assert!(description.starts_with("  预计"));
    assert!(description.contains("\r\n请注意防范。 "));
    assert_eq!(again.infos[0].parameters[1].name, "Max & <gust>");
    assert_eq!(again.infos[0].parameters[1].value, "");
}

#[test]
fn numbers_read_back_equal() {
    // A fixed-seed generator (no dependency): 2,000 coordinates and
    // heights over the whole range, with full f64 precision.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut unit = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut alert = alerts::typhoon();
    let area = &mut alert.infos[0].areas[0];
    for _ in 0..500 {
        let mut ring: Vec<liandong_cap::Point> = (0..3)
            .map(|_| liandong_cap::Point {
                lat: unit() * 180.0 - 90.0,
                lon: unit() * 360.0 - 180.0,
            })
            .collect();
        ring.push(ring[0]);
        area.polygons.push(ring);
    }
    area.circles[0].radius_km = unit() * 1e-9;
    area.altitude = Some(-unit() * 1e12);
    area.ceiling = Some(unit() * 1e-12);
    let written = to_xml(&alert);
    let numeric = ["<polygon>", "<circle>", "<altitude>", "<ceiling>"];
    for line in written.lines().filter(|l| numeric.iter().any(|tag| l.contains(tag))) {
        let inner = line.split('>').nth(1).and_then(|s| s.split('<').next()).unwrap();
        assert!(!inner.contains(['e', 'E']), "an xs:decimal has no exponent: {line}");
    }
    assert_eq!(parse(written.as_bytes()).unwrap(), alert);
}
