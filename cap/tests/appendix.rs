//! The four example alerts of the CAP 1.2 specification's Appendix A
//! (tests/data/appendix-a{1..4}.xml): each is read with the values the
//! spec shows, validates against the OASIS schema, and reads back equal
//! after [`liandong_cap::to_xml`].

mod common;

use common::{read_data, xmllint};
use liandong_cap::{Alert, CapTime, Category, MsgType, Point, Scope, Severity, Status, parse, to_xml};

fn appendix(n: u32) -> Alert {
    let name = format!("appendix-a{n}.xml");
    parse(&read_data(&name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn a1_homeland_security_advisory() {
    let a = appendix(1);
    assert_eq!(a.identifier, "43b080713727");
    assert_eq!(a.sender, "hsas@dhs.gov");
    assert_eq!(a.sent, CapTime::parse("2003-04-02T14:39:01-05:00").unwrap());
    assert_eq!(a.sent.offset_minutes, -300);
    assert_eq!(
        (a.status, a.msg_type, a.scope),
        (Status::Actual, MsgType::Alert, Scope::Public)
    );
    assert!(a.references.is_empty());
    let [info] = &a.infos[..] else {
        panic!("one info: {:?}", a.infos)
    };
    assert_eq!(info.language, "en-US", "the schema's default language");
    assert_eq!(info.categories, [Category::Security]);
    assert_eq!(info.severity, Severity::Severe);
    assert_eq!(info.parameters[0].name, "HSAS");
    assert_eq!(info.parameters[0].value, "ORANGE");
    assert!(
        info.instruction.as_deref().unwrap().starts_with(" A High Condition"),
        "free text kept as written"
    );
    assert_eq!(info.resources[0].mime_type, "image/gif");
    assert_eq!(info.resources[0].size, None);
    assert_eq!(info.areas[0].description, "U.S. nationwide and interests worldwide");
}

#[test]
fn a2_severe_thunderstorm_warning() {
    let a = appendix(2);
    assert_eq!(a.identifier, "KSTO1055887203");
    assert_eq!(a.msg_type, MsgType::Alert);
    let info = &a.infos[0];
    assert_eq!(info.event, "SEVERE THUNDERSTORM");
    assert_eq!(info.event_codes[0].value, "SVR");
    assert_eq!(info.expires, CapTime::parse("2003-06-17T16:00:00-07:00"));
    let [area] = &info.areas[..] else { panic!("one area") };
    let [polygon] = &area.polygons[..] else {
        panic!("one polygon")
    };
    assert_eq!(polygon.len(), 5);
    assert_eq!(
        polygon[0],
        Point {
            lat: 38.47,
            lon: -120.14
        }
    );
    assert_eq!(
        polygon[2],
        Point {
            lat: 38.52,
            lon: -119.74
        }
    );
    assert_eq!(polygon.first(), polygon.last());
    let geocodes: Vec<(&str, &str)> = area.geocodes.iter().map(|g| (&*g.name, &*g.value)).collect();
    assert_eq!(geocodes, [("SAME", "006109"), ("SAME", "006009"), ("SAME", "006003")]);
}

#[test]
fn a3_earthquake_update_with_references() {
    let a = appendix(3);
    assert_eq!(a.identifier, "TRI13970876.2");
    assert_eq!(a.msg_type, MsgType::Update);
    let [reference] = &a.references[..] else {
        panic!("one reference: {:?}", a.references)
    };
    assert_eq!(reference.sender, "trinet@caltech.edu");
    assert_eq!(reference.identifier, "TRI13970876.1");
    assert_eq!(reference.sent, CapTime::parse("2003-06-11T20:30:00-07:00").unwrap());
    let info = &a.infos[0];
    assert_eq!(info.parameters.len(), 5);
    assert_eq!(info.parameters[2].value, "3.4 Ml");
    let [circle] = &info.areas[0].circles[..] else {
        panic!("one circle")
    };
    assert_eq!(
        circle.center,
        Point {
            lat: 32.9525,
            lon: -115.5527
        }
    );
    assert_eq!(circle.radius_km, 0.0);
}

#[test]
fn a4_amber_alert_in_two_languages() {
    let a = appendix(4);
    assert_eq!(a.identifier, "KAR0-0306112239-SW");
    assert_eq!(a.source.as_deref(), Some("SW"));
    let languages: Vec<&str> = a.infos.iter().map(|i| i.language.as_str()).collect();
    assert_eq!(languages, ["en-US", "es-US"]);
    assert_eq!(a.infos[1].event, "Abducción de Niño");
    assert_eq!(a.infos[1].areas[0].description, "condado de Los Ángeles");
    for info in &a.infos {
        assert_eq!(info.categories, [Category::Rescue]);
        assert_eq!(info.areas[0].geocodes[0].value, "006037");
    }
}

#[test]
fn each_validates_against_the_oasis_schema() {
    if !xmllint::available("each_validates_against_the_oasis_schema") {
        return;
    }
    for n in 1..=4 {
        xmllint::assert_valid(&format!("appendix-a{n}.xml"), &read_data(&format!("appendix-a{n}.xml")));
    }
}

#[test]
fn each_reads_back_equal_after_writing() {
    for n in 1..=4 {
        let alert = appendix(n);
        let written = to_xml(&alert);
        let again = parse(written.as_bytes()).unwrap_or_else(|e| panic!("A.{n} written: {e}\n{written}"));
        assert_eq!(again, alert, "A.{n}");
        assert_eq!(to_xml(&again), written, "A.{n} writes the same twice");
    }
}

#[test]
fn each_written_validates_against_the_oasis_schema() {
    if !xmllint::available("each_written_validates_against_the_oasis_schema") {
        return;
    }
    for n in 1..=4 {
        xmllint::assert_valid(&format!("A.{n} as written"), to_xml(&appendix(n)).as_bytes());
    }
}
