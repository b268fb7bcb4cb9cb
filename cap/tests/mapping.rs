//! The mapping between incidents and alerts, without XML: what an
//! incident exports as (versions, msgType, references, the tables) and
//! what an alert becomes at a center (a report, an order to the divisions
//! below, a note, a cancellation, a duplicate, nothing). Demo topology:
//! city 350100, county 350102, township 350102001, village 350102001001.

mod common;

use common::xmllint;
use liandong_cap::export::{OFFSET_MINUTES, export, sender_of};
use liandong_cap::import::{Held, Plan, alert_id, plan};
use liandong_cap::tables::{PARAM_CATEGORY, PARAM_SEVERITY};
use liandong_cap::{Alert, CapTime, Category, MsgType, NameValue, Scope, Severity, Status, parse, to_xml};
use liandong_dispatch::store::{Incident, IncidentState, TimelineEntry};
use liandong_dispatch::wire::{Category as Kind, EnvelopeId, Mode, Report, Timestamp};
use liandong_topology::{Addressing, NodeId, Preset, Severity as Level, Shape, Topology, generate};

const COUNTY: &str = "350102";
const TOWN: &str = "350102001";
const VILLAGE: &str = "350102001001";
const T0: u64 = 1_764_979_200_000; // 2025-12-06T00:00:00Z

fn id(s: &str) -> NodeId {
    NodeId::parse(s).unwrap()
}

fn demo() -> Topology {
    generate(&Shape::Preset(Preset::Demo), Addressing::default()).unwrap()
}

fn incident() -> Incident {
    let village = id(VILLAGE);
    Incident {
        id: EnvelopeId(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef),
        origin: village.clone(),
        report: Report {
            severity: Level::III,
            category: Kind::Flood,
            title: "闽江水位超警戒".into(),
            detail: "江滨路段积水 40 厘米 & 仍在上涨 <需转移>".into(),
            place: "江滨西大道 8 号".into(),
            reporter: "网格员林芳".into(),
            photos: Vec::new(),
        },
        mode: Mode::Actual,
        reported: Timestamp(T0),
        owner: id(COUNTY),
        state: IncidentState::Reported,
        accepted_by: None,
        accept_by: Timestamp(T0 + 600_000),
        finish_by: None,
        supervisor: None,
        orders: Vec::new(),
        timeline: vec![TimelineEntry {
            at: Timestamp(T0),
            node: village,
            what: "reported by 网格员林芳".into(),
        }],
    }
}

fn step(i: &mut Incident, after_ms: u64, state: IncidentState, what: &str) {
    i.state = state;
    i.timeline.push(TimelineEntry {
        at: Timestamp(T0 + after_ms),
        node: id(COUNTY),
        what: what.into(),
    });
}

#[test]
fn a_new_incident_exports_as_an_alert_and_each_later_step_as_an_update() {
    let topo = demo();
    let county = id(COUNTY);
    let mut i = incident();
    let first = export(&i, &county, &topo);
    assert_eq!(first.msg_type, MsgType::Alert);
    assert!(first.references.is_empty());
    assert_eq!(first.sender, sender_of(&county));
    assert_eq!(first.sent, CapTime::from_unix_ms(T0, OFFSET_MINUTES));
    assert_eq!(first.status, Status::Actual);
    assert_eq!(first.scope, Scope::Restricted);
    assert!(first.restriction.is_some());
    let info = &first.infos[0];
    assert_eq!(info.language, "zh-CN");
    assert_eq!(info.categories, vec![Category::Met]);
    assert_eq!(info.severity, Severity::Moderate);
    assert_eq!(info.headline.as_deref(), Some("闽江水位超警戒"));
    assert_eq!(info.areas[0].geocodes[0].value, VILLAGE);
    assert_eq!(info.areas[0].description, topo.get(&id(VILLAGE)).unwrap().name);
    // The same state exports the same alert.
    assert_eq!(export(&i, &county, &topo), first);

    step(&mut i, 65_000, IncidentState::Accepted, "accepted by 值班员");
    let update = export(&i, &county, &topo);
    assert_eq!(update.msg_type, MsgType::Update);
    assert_ne!(update.identifier, first.identifier);
    assert_eq!(update.references.len(), 1);
    assert_eq!(update.references[0].identifier, first.identifier);
    assert_eq!(update.references[0].sent, first.sent);
    assert!(update.note.as_deref().unwrap().contains("accepted by 值班员"));

    step(&mut i, 130_000, IncidentState::Cancelled, "cancelled by 值班员: 误报");
    let cancel = export(&i, &county, &topo);
    assert_eq!(cancel.msg_type, MsgType::Cancel);
    assert_eq!(cancel.references.len(), 2);
}

#[test]
fn an_exported_incident_reads_back_as_the_same_report_in_another_federation() {
    let topo = demo();
    let mut i = incident();
    i.mode = Mode::Exercise;
    for level in Level::ALL {
        for (kind, ..) in liandong_cap::tables::KINDS {
            i.report.severity = level;
            i.report.category = kind;
            let alert = export(&i, &id(COUNTY), &topo);
            // Another federation's county: nothing held there.
            let Plan::File { report, mode, .. } = plan(&alert, &id(COUNTY), &topo, |_| None) else {
                panic!("not filed as a report: {level:?} {kind:?}")
            };
            assert_eq!(mode, Mode::Exercise);
            assert_eq!(report.severity, level);
            assert_eq!(report.category, kind);
            assert_eq!(report.title, i.report.title);
            assert_eq!(report.detail, i.report.detail);
            assert_eq!(report.place, i.report.place);
        }
    }
}

fn alert(msg_type: MsgType, identifier: &str, geocodes: &[&str]) -> Alert {
    let mut a = export(&incident(), &id(COUNTY), &demo());
    a.sender = "fj-warning@fujian.gov.cn".into();
    a.identifier = identifier.into();
    a.msg_type = msg_type;
    a.infos[0].parameters.clear();
    a.infos[0].areas[0].geocodes = geocodes
        .iter()
        .map(|g| NameValue {
            name: "division".into(),
            value: (*g).into(),
        })
        .collect();
    a
}

#[test]
fn an_alert_for_divisions_below_becomes_an_order_to_them_and_one_for_this_center_a_report() {
    let topo = demo();
    let county = id(COUNTY);
    let below = alert(MsgType::Alert, "FJ-2026-0001", &[TOWN, VILLAGE]);
    match plan(&below, &county, &topo, |_| None) {
        Plan::Order {
            targets,
            severity,
            instruction,
            ..
        } => {
            assert_eq!(targets, vec![id(TOWN), id(VILLAGE)]);
            assert_eq!(severity, Level::III);
            assert!(instruction.contains("闽江水位超警戒"), "{instruction}");
        }
        other => panic!("{other:?}"),
    }
    let here = alert(MsgType::Alert, "FJ-2026-0002", &[COUNTY, TOWN]);
    assert!(matches!(plan(&here, &county, &topo, |_| None), Plan::File { .. }));
    let foreign = alert(MsgType::Alert, "FJ-2026-0003", &["006113"]);
    let Plan::File { report, .. } = plan(&foreign, &county, &topo, |_| None) else {
        panic!("not filed")
    };
    // Without Liandong's parameters the tables decide: Moderate is III, Met a hazard.
    assert_eq!(report.severity, Level::III);
    assert_eq!(report.category, Kind::Hazard);
    assert!(report.reporter.contains("fj-warning@fujian.gov.cn"));
}

#[test]
fn updates_cancels_and_acks_follow_their_references_and_duplicates_file_nothing() {
    let topo = demo();
    let county = id(COUNTY);
    let first = alert(MsgType::Alert, "FJ-1", &[]);
    let Plan::File { id: filed, .. } = plan(&first, &county, &topo, |_| None) else {
        panic!("not filed")
    };
    assert_eq!(filed, alert_id(&county, &first.sender, &first.identifier, first.sent));
    let holds = |id: EnvelopeId| (id == filed).then_some(Held::Incident(filed));
    assert_eq!(plan(&first, &county, &topo, holds), Plan::Duplicate { id: filed });

    let mut update = alert(MsgType::Update, "FJ-2", &[]);
    update.references = vec![liandong_cap::Reference {
        sender: first.sender.clone(),
        identifier: first.identifier.clone(),
        sent: first.sent,
    }];
    match plan(&update, &county, &topo, holds) {
        Plan::Note { incident, text, .. } => {
            assert_eq!(incident, filed);
            assert!(text.contains("FJ-2"), "{text}");
        }
        other => panic!("{other:?}"),
    }
    // An update of an alert never seen here is filed as new.
    assert!(matches!(plan(&update, &county, &topo, |_| None), Plan::File { .. }));

    let mut cancel = update.clone();
    cancel.msg_type = MsgType::Cancel;
    cancel.identifier = "FJ-3".into();
    cancel.note = Some("预警解除".into());
    match plan(&cancel, &county, &topo, holds) {
        Plan::Cancel { incident, reason, .. } => {
            assert_eq!(incident, filed);
            assert!(reason.contains("预警解除"));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(plan(&cancel, &county, &topo, |_| None), Plan::NotFiled { .. }));

    let mut ack = cancel.clone();
    ack.msg_type = MsgType::Ack;
    assert!(matches!(plan(&ack, &county, &topo, holds), Plan::Note { .. }));
}

#[test]
fn test_system_and_draft_alerts_are_not_filed_and_exercise_is_a_drill() {
    let topo = demo();
    for status in [Status::Test, Status::System, Status::Draft] {
        let mut a = alert(MsgType::Alert, "FJ-T", &[]);
        a.status = status;
        match plan(&a, &id(COUNTY), &topo, |_| None) {
            Plan::NotFiled { reason } => assert!(reason.contains(status.as_str()), "{reason}"),
            other => panic!("{status}: {other:?}"),
        }
    }
    let mut a = alert(MsgType::Alert, "FJ-E", &[]);
    a.status = Status::Exercise;
    assert!(matches!(
        plan(&a, &id(COUNTY), &topo, |_| None),
        Plan::File {
            mode: Mode::Exercise,
            ..
        }
    ));
}

#[test]
fn every_info_block_is_kept_with_the_zh_one_first() {
    let topo = demo();
    let mut a = alert(MsgType::Alert, "FJ-L", &[]);
    let mut en = a.infos[0].clone();
    en.language = "en-US".into();
    en.headline = Some("Min River above warning level".into());
    en.description = Some("Water 40 cm deep on Jiangbin Road".into());
    a.infos.insert(0, en);
    let Plan::File { report, .. } = plan(&a, &id(COUNTY), &topo, |_| None) else {
        panic!("not filed")
    };
    assert_eq!(report.title, "闽江水位超警戒");
    let zh = report.detail.find("江滨路段").unwrap();
    let en = report.detail.find("Water 40 cm").unwrap();
    assert!(zh < en, "{}", report.detail);
    assert!(report.detail.contains("[en-US] Min River above warning level"));
}

#[test]
fn liandong_parameters_win_over_the_tables() {
    let topo = demo();
    let mut a = alert(MsgType::Alert, "FJ-P", &[]);
    a.infos[0].severity = Severity::Minor;
    a.infos[0].parameters = vec![
        NameValue {
            name: PARAM_SEVERITY.into(),
            value: "Routine".into(),
        },
        NameValue {
            name: PARAM_CATEGORY.into(),
            value: "dispute".into(),
        },
    ];
    let Plan::File { report, .. } = plan(&a, &id(COUNTY), &topo, |_| None) else {
        panic!("not filed")
    };
    assert_eq!((report.severity, report.category), (Level::Routine, Kind::Dispute));
}

/// Every alert the export makes (each severity, category and mode; an
/// Alert, an Update, a Cancel; an empty detail and place) reads back equal
/// and validates against the OASIS CAP 1.2 schema.
#[test]
fn every_exported_alert_validates_against_the_oasis_schema() {
    let topo = demo();
    let county = id(COUNTY);
    let mut alerts = Vec::new();
    for (n, level) in Level::ALL.into_iter().enumerate() {
        for (kind, ..) in liandong_cap::tables::KINDS {
            let mut i = incident();
            i.report.severity = level;
            i.report.category = kind;
            i.mode = if n % 2 == 0 { Mode::Actual } else { Mode::Exercise };
            alerts.push(export(&i, &county, &topo));
        }
    }
    let mut i = incident();
    i.report.detail.clear();
    i.report.place.clear();
    alerts.push(export(&i, &county, &topo));
    step(&mut i, 1_500, IncidentState::Accepted, "accepted by 值班员");
    step(
        &mut i,
        1_501,
        IncidentState::Accepted,
        "note from 值班员: 已派员 & <核实>",
    );
    alerts.push(export(&i, &county, &topo));
    step(&mut i, 90_000, IncidentState::Cancelled, "cancelled by 值班员: 误报");
    alerts.push(export(&i, &county, &topo));
    assert_eq!(alerts.iter().filter(|a| a.msg_type == MsgType::Cancel).count(), 1);
    let check_schema = xmllint::available("every_exported_alert_validates_against_the_oasis_schema");
    for alert in &alerts {
        let xml = to_xml(alert);
        assert_eq!(&parse(xml.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{xml}")), alert);
        if check_schema {
            xmllint::assert_valid(&alert.identifier, xml.as_bytes());
        }
    }
}
