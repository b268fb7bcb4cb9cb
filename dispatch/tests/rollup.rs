//! The roll-up of figures (平安报表) on the demo federation on a virtual
//! clock: at the day's end every center sends its subtree's figures up;
//! the city's report then counts every incident of the tree once, equal
//! to a count over every node's records; a township down across the day's
//! end sends late and its county's new version is marked late at the
//! city; summaries that break the rules are refused and nothing of them
//! is kept; a child under the alarm line alarms its parent.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use liandong_dispatch::codec::encode_frame;
use liandong_dispatch::figures::{Breakdown, Period, Source, Summary};
use liandong_dispatch::store::IncidentState;
use liandong_dispatch::testing::Net;
use liandong_dispatch::wire::Carry;
use liandong_dispatch::*;
use liandong_topology::{Addressing, NodeId, Preset, Severity, Shape, Topology, generate};

const CITY: &str = "350100";
const COUNTY: &str = "350102";
const COUNTY_2: &str = "350121";
const TOWN_1: &str = "350102001";
const TOWN_2: &str = "350102002";
const VILLAGE_1: &str = "350102001001";
const VILLAGE_2: &str = "350102002001";
const VILLAGE_3: &str = "350121002001";

fn id(s: &str) -> NodeId {
    NodeId::parse(s).unwrap()
}

/// The demo federation with a minute's heartbeat (the demo's is a
/// second): these tests run a day of virtual time.
fn demo() -> Arc<Topology> {
    let text = generate(&Shape::Preset(Preset::Demo), Addressing::default())
        .unwrap()
        .to_toml()
        .replace("heartbeat = \"1s\"", "heartbeat = \"60s\"")
        .replace("failover_after = \"5s\"", "failover_after = \"3m\"");
    let t = Topology::parse(&text, None).unwrap();
    assert_eq!(t.link().heartbeat, Duration::from_secs(60));
    Arc::new(t)
}

fn report(severity: Severity, mode: Mode) -> Command {
    Command::Report {
        report: Report {
            severity,
            category: Category::Dispute,
            title: "邻里纠纷".into(),
            detail: String::new(),
            place: "五一社区".into(),
            reporter: "网格员张伟".into(),
            photos: Vec::new(),
        },
        mode,
    }
}

fn ok(net: &mut Net, at: &str, c: Command) -> EnvelopeId {
    net.command(&id(at), c).unwrap_or_else(|e| panic!("{at}: {e}"))
}

/// Files the day's reports: Routine stays at a township (one accepted
/// there, one left to be supervised up to its county after four hours),
/// IV goes to a county, III to the city; one drill; the other county
/// accepts its IV.
fn file_the_day(net: &mut Net) {
    let routine = ok(net, VILLAGE_1, report(Severity::Routine, Mode::Actual));
    ok(net, VILLAGE_1, report(Severity::IV, Mode::Actual));
    ok(net, VILLAGE_1, report(Severity::III, Mode::Actual));
    ok(net, VILLAGE_2, report(Severity::Routine, Mode::Actual));
    let iv = ok(net, VILLAGE_3, report(Severity::IV, Mode::Actual));
    ok(net, TOWN_2, report(Severity::IV, Mode::Actual));
    ok(net, VILLAGE_2, report(Severity::IV, Mode::Exercise));
    net.run_for(Duration::from_secs(10));
    ok(
        net,
        TOWN_1,
        Command::Accept {
            incident: routine,
            by: "值班员".into(),
        },
    );
    ok(
        net,
        COUNTY_2,
        Command::Accept {
            incident: iv,
            by: "值班员".into(),
        },
    );
}

/// The figures the day's incidents give, counted over every node's
/// records independently of the fold: each incident once, from its
/// owner's view.
fn oracle(net: &Net, day: Period, mode: Mode) -> (u64, u64, u64, u64) {
    let mut seen: BTreeMap<EnvelopeId, (NodeId, IncidentState, bool)> = BTreeMap::new();
    for node in net.ids() {
        for i in net.core(node).incidents() {
            if i.mode != mode || !day.contains(i.reported) || i.owner != *node {
                continue;
            }
            let accepted = i.timeline.iter().any(|e| e.what.starts_with("accepted by "));
            seen.insert(i.id, (i.owner.clone(), i.state, accepted));
        }
    }
    let owned = seen.len() as u64;
    let accepted = seen.values().filter(|(_, _, a)| *a).count() as u64;
    let supervised = (net.ids())
        .flat_map(|n| net.core(n).incidents().filter(move |i| i.owner == *n))
        .filter(|i| i.mode == mode && day.contains(i.reported) && i.supervisor.is_some())
        .count() as u64;
    (owned, owned, accepted, supervised)
}

fn figures(b: &Breakdown) -> (u64, u64, u64, u64) {
    (b.all.received, b.all.owned, b.all.accepted, b.all.supervised)
}

/// Until the day's end plus every level's grace (5 min per level below a
/// sender: the counties send 15 min after midnight) and a little more.
fn past_the_days_end(net: &mut Net, day: Period) {
    let left = day.end().since(net.now) + Duration::from_secs(30 * 60);
    net.run_for(left);
}

#[test]
fn the_citys_report_counts_every_incident_of_the_tree_once() {
    let mut net = Net::new(demo(), 21);
    let day = Period::day_of(net.now);
    file_the_day(&mut net);
    past_the_days_end(&mut net, day);

    let city = net.core(&id(CITY)).report(day);
    assert_eq!(figures(&city.actual), oracle(&net, day, Mode::Actual));
    assert_eq!(city.actual.all.received, 6, "{:?}", city.actual.all);
    assert_eq!(city.actual.all.passed_up, 0);
    assert_eq!(figures(&city.drill), oracle(&net, day, Mode::Exercise));
    assert_eq!(city.drill.all.received, 1, "the drill, apart");
    assert_eq!(city.rows[0].source, Source::Own);
    for county in [COUNTY, COUNTY_2] {
        let row = city.rows.iter().find(|r| r.node == id(county)).unwrap();
        assert!(
            matches!(
                row.source,
                Source::Summary {
                    version: 1,
                    late: false,
                    ..
                }
            ),
            "{county}: {:?}",
            row.source
        );
    }
    assert!(city.missing.is_empty(), "{:?}", city.missing);
    // The county's subtree at the city is what the county made of it.
    let county = net.core(&id(COUNTY)).report(day);
    let held = net.core(&id(CITY)).child_report(&id(COUNTY), day).unwrap();
    assert_eq!(held.actual, county.actual);
    let town = &held.actual.by_child[&id(TOWN_1)];
    assert_eq!(town.received, 3, "village 1's three reports");
    assert_eq!(
        (town.owned, town.passed_up),
        (1, 2),
        "its Routine, accepted; its IV and III went up"
    );
    // 350102's subtree: village 1's three, village 2's Routine, town 2's
    // IV; each owned in it or passed up out of it (unaccepted ones are
    // supervised up the tree as their deadlines pass).
    let all = &county.actual.all;
    assert_eq!(all.received, 5);
    assert_eq!(all.owned + all.passed_up, 5, "{all:?}");
    assert!(all.passed_up >= 1, "the III is the city's");
    // Nothing late, no second version anywhere.
    assert!(net.ids().all(|n| {
        net.core(n)
            .store()
            .summaries
            .values()
            .all(|s| s.summary.version == 1 && !s.summary.late)
    }));
}

#[test]
fn a_township_down_across_the_days_end_sends_late_and_the_city_shows_it() {
    let mut net = Net::new(demo(), 22);
    let day = Period::day_of(net.now);
    file_the_day(&mut net);
    let town = id(TOWN_1);
    // Down from an hour before midnight until an hour after.
    net.run_for(day.end().since(net.now) - Duration::from_secs(3600));
    net.crash(&town);
    net.run_for(Duration::from_secs(2 * 3600));
    let county_row = |net: &Net| {
        let r = net.core(&id(COUNTY)).report(day);
        r.rows.into_iter().find(|r| r.node == id(TOWN_1)).unwrap()
    };
    assert_eq!(county_row(&net).source, Source::Awaiting);
    let at_city = net.core(&id(CITY)).child_report(&id(COUNTY), day).unwrap();
    assert_eq!(at_city.missing, [id(TOWN_1)], "the county sent without it");
    let before = net.core(&id(CITY)).report(day).actual.all.received;

    net.restart(&town);
    net.run_for(Duration::from_secs(3600));
    let row = county_row(&net);
    assert!(matches!(row.source, Source::Summary { late: true, .. }), "{row:?}");
    let city = net.core(&id(CITY)).report(day);
    let county = city.rows.iter().find(|r| r.node == id(COUNTY)).unwrap();
    assert!(
        matches!(county.source, Source::Summary { version, late: true, .. } if version >= 2),
        "{:?}",
        county.source
    );
    assert!(
        net.core(&id(CITY))
            .child_report(&id(COUNTY), day)
            .unwrap()
            .missing
            .is_empty()
    );
    assert_eq!(figures(&city.actual), oracle(&net, day, Mode::Actual));
    assert_eq!(
        city.actual.all.received,
        before + 1,
        "the township's own Routine, now in; the rest counted once"
    );
    assert!(net.events(&id(CITY)).iter().any(|e| matches!(
        e,
        Event::SummaryReceived { child, late: true, .. } if *child == id(COUNTY)
    )));
}

/// Envelope `n`: a summary of `center` for `day` addressed to `to`, signed
/// by `origin`.
fn summary_frame(net: &Net, n: u128, origin: &str, center: &str, to: &str, day: Period) -> Vec<u8> {
    let summary = Summary {
        center: id(center),
        period: day,
        version: 1,
        late: false,
        actual: Breakdown::default(),
        drill: Breakdown::default(),
        index: 1000,
        missing: Vec::new(),
    };
    let frame = Frame::Carry(Carry {
        envelope: Envelope {
            id: EnvelopeId(0x5u128 << 100 | n << 80),
            origin: id(origin),
            created: net.now,
            expires: net.now.plus(Duration::from_secs(3600)),
            mode: Mode::Actual,
            body: Body::Summary(Box::new(summary)),
            signature: Vec::new(),
        },
        to: vec![id(to)],
        trace: Vec::new(),
        catch_up: false,
    });
    encode_frame(&net.sign_as(&id(origin), frame)).unwrap()
}

#[test]
fn summaries_that_break_the_rules_are_refused_and_nothing_of_them_is_kept() {
    let mut net = Net::new(demo(), 23);
    let day = Period::day_of(net.now);
    let cases = [
        // (origin, center, to, sent by, to whom, the reason)
        (
            COUNTY_2,
            COUNTY_2,
            CITY,
            CITY,
            COUNTY,
            "which is not a child of this center (350102); its parent is 350100",
        ),
        (
            VILLAGE_1,
            VILLAGE_1,
            COUNTY,
            TOWN_1,
            COUNTY,
            "addressed to [350102]; summaries go to the sender's parent, 350102001",
        ),
        (
            TOWN_2,
            TOWN_1,
            COUNTY,
            TOWN_2,
            COUNTY,
            "a summary of 350102001 signed by 350102002",
        ),
        (
            CITY,
            CITY,
            COUNTY,
            CITY,
            COUNTY,
            "a summary from 350100, the root, which has no parent",
        ),
    ];
    for (n, (origin, center, to, from, at, _)) in cases.into_iter().enumerate() {
        let frame = summary_frame(&net, n as u128 + 1, origin, center, to, day);
        net.inject(&id(from), &id(at), frame);
    }
    net.run_for(Duration::from_secs(5));
    let reasons: Vec<&String> = (net.events(&id(COUNTY)).iter())
        .filter_map(|e| match e {
            Event::Refused { reason, .. } => Some(reason),
            _ => None,
        })
        .collect();
    for (.., reason) in cases {
        assert!(reasons.iter().any(|r| r.contains(reason)), "{reason}: {reasons:?}");
    }
    let county = net.core(&id(COUNTY));
    assert!(county.store().summaries.is_empty());
    assert!(
        (county.store().envelopes.values()).all(|s| !matches!(s.envelope.body, Body::Summary(_))),
        "nothing refused is stored"
    );
    // A child's own summary, within the rules, is kept.
    let good = summary_frame(&net, 9, TOWN_1, TOWN_1, COUNTY, day);
    net.inject(&id(TOWN_1), &id(COUNTY), good);
    net.run_for(Duration::from_secs(5));
    assert!(net.core(&id(COUNTY)).store().summaries.contains_key(&(id(TOWN_1), day)));
}

#[test]
fn a_child_under_the_alarm_line_alarms_its_parent_once() {
    let mut net = Net::new(demo(), 24);
    let day = Period::day_of(net.now);
    // Routine reports the township accepts on time and never resolves:
    // (40 × 1 + 40 × 0) / 80 = 50, under the line at 60.
    let filed: Vec<EnvelopeId> = (0..3)
        .map(|_| ok(&mut net, VILLAGE_2, report(Severity::Routine, Mode::Actual)))
        .collect();
    net.run_for(Duration::from_secs(10));
    for incident in filed {
        ok(
            &mut net,
            TOWN_2,
            Command::Accept {
                incident,
                by: "值班员".into(),
            },
        );
    }
    past_the_days_end(&mut net, day);
    let alarms = |at: &str| -> Vec<Event> {
        (net.events(&id(at)).iter())
            .filter(|e| matches!(e, Event::IndexAlarm { .. }))
            .cloned()
            .collect()
    };
    let at_county = alarms(COUNTY);
    assert_eq!(at_county.len(), 1, "{at_county:?}");
    let Event::IndexAlarm {
        child,
        period,
        index,
        below,
    } = &at_county[0]
    else {
        unreachable!()
    };
    assert_eq!((child, *period, *index, *below), (&id(TOWN_2), day, 500, 60));
    let county = net.core(&id(COUNTY)).report(day);
    let row = county.rows.iter().find(|r| r.node == id(TOWN_2)).unwrap();
    assert!(row.alarm && row.index == Some(500), "{row:?}");
    // The other township owns nothing: not alarmed.
    let quiet = county.rows.iter().find(|r| r.node == id(TOWN_1)).unwrap();
    assert!(!quiet.alarm && quiet.index == Some(1000), "{quiet:?}");
}

#[test]
fn a_report_held_up_past_the_days_end_sends_the_summary_again() {
    let mut net = Net::new(demo(), 25);
    let day = Period::day_of(net.now);
    file_the_day(&mut net);
    past_the_days_end(&mut net, day);
    let sent = |net: &Net| {
        net.core(&id(TOWN_1)).store().summaries[&(id(TOWN_1), day)]
            .summary
            .clone()
    };
    let first = sent(&net);
    assert_eq!((first.version, first.actual.all.received), (1, 3));
    // A report the village filed at 23:00 reaches the township only now,
    // after the township and the village sent the day's summaries (held
    // up on the way: stood for by the frame the village would have sent).
    let Command::Report { report, mode } = report(Severity::Routine, Mode::Actual) else {
        unreachable!()
    };
    let filed = Timestamp(day.end().0 - 3_600_000);
    let frame = Frame::Carry(Carry {
        envelope: Envelope {
            id: EnvelopeId(0x1a7e << 100),
            origin: id(VILLAGE_1),
            created: filed,
            expires: net.now.plus(Duration::from_secs(24 * 3600)),
            mode,
            body: Body::Report(report),
            signature: Vec::new(),
        },
        to: vec![id(TOWN_1)],
        trace: Vec::new(),
        catch_up: false,
    });
    let frame = encode_frame(&net.sign_as(&id(VILLAGE_1), frame)).unwrap();
    net.inject(&id(VILLAGE_1), &id(TOWN_1), frame);
    net.run_for(Duration::from_secs(3600));
    let again = sent(&net);
    assert_eq!((again.version, again.late), (2, true));
    assert_eq!(again.actual.all.received, 4, "the held-up report, in");
    let at_county = net.core(&id(COUNTY)).child_report(&id(TOWN_1), day).unwrap();
    assert_eq!(at_county.actual.all.received, 4);
    // The village's own summary did not change: the township sent again
    // for the report alone.
    let village = &net.core(&id(TOWN_1)).store().summaries[&(id(VILLAGE_1), day)].summary;
    assert_eq!(village.version, 1);
}
