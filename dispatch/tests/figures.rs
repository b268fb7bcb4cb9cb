//! A center's own figures (平安报表) as a fold over its store, on the demo
//! federation on a virtual clock: each incident counted once, at its
//! owner, and as passed up where it went through; drills apart; orders at
//! their issuer; the same figures from the store on its "disk" after a
//! restart.

use std::sync::Arc;
use std::time::Duration;

use liandong_dispatch::figures::{self, Figures, Period, SummaryRecord, fold};
use liandong_dispatch::testing::Net;
use liandong_dispatch::*;
use liandong_topology::{Addressing, NodeId, Preset, Severity, Shape, Topology, generate};

const CITY: &str = "350100";
const COUNTY: &str = "350102";
const TOWN_1: &str = "350102001";
const TOWN_2: &str = "350102002";
const VILLAGE_1: &str = "350102001001";
const VILLAGE_2: &str = "350102002001";

fn id(s: &str) -> NodeId {
    NodeId::parse(s).unwrap()
}

fn report(severity: Severity, category: Category, mode: Mode) -> Command {
    Command::Report {
        report: Report {
            severity,
            category,
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

#[test]
fn a_counties_figures_count_each_incident_once_at_its_owner() {
    let topology: Arc<Topology> = Arc::new(generate(&Shape::Preset(Preset::Demo), Addressing::default()).unwrap());
    let mut net = Net::new(topology.clone(), 11);
    let settle = |net: &mut Net| net.run_for(Duration::from_secs(10));
    let a = ok(
        &mut net,
        VILLAGE_1,
        report(Severity::IV, Category::Dispute, Mode::Actual),
    );
    let b = ok(
        &mut net,
        VILLAGE_1,
        report(Severity::IV, Category::Hazard, Mode::Actual),
    );
    ok(
        &mut net,
        VILLAGE_2,
        report(Severity::IV, Category::Dispute, Mode::Actual),
    );
    ok(&mut net, COUNTY, report(Severity::IV, Category::Fire, Mode::Actual));
    // Routine stays at the township: never the county's.
    ok(
        &mut net,
        VILLAGE_2,
        report(Severity::Routine, Category::Request, Mode::Actual),
    );
    // III climbs through the county to the city.
    ok(
        &mut net,
        VILLAGE_1,
        report(Severity::III, Category::Flood, Mode::Actual),
    );
    // A drill, kept apart.
    ok(
        &mut net,
        VILLAGE_2,
        report(Severity::IV, Category::Dispute, Mode::Exercise),
    );
    settle(&mut net);

    // The county accepts a and b, and closes a with its village.
    for i in [a, b] {
        ok(
            &mut net,
            COUNTY,
            Command::Accept {
                incident: i,
                by: "值班员".into(),
            },
        );
    }
    settle(&mut net);
    ok(
        &mut net,
        COUNTY,
        Command::Resolve {
            incident: a,
            by: "值班员".into(),
            summary: "已调解".into(),
        },
    );
    settle(&mut net);
    ok(
        &mut net,
        VILLAGE_1,
        Command::Verify {
            incident: a,
            by: "网格员".into(),
            accepted: true,
            note: String::new(),
        },
    );
    settle(&mut net);
    ok(
        &mut net,
        COUNTY,
        Command::Close {
            incident: a,
            by: "值班员".into(),
        },
    );
    // An order to both townships; one signs for it.
    let order = ok(
        &mut net,
        COUNTY,
        Command::Dispatch {
            order: Order {
                incident: None,
                targets: Targets::List(vec![id(TOWN_1), id(TOWN_2)]),
                severity: Severity::IV,
                instruction: "排查隐患".into(),
                by: "值班员".into(),
                finish_by: None,
            },
            mode: Mode::Actual,
        },
    );
    settle(&mut net);
    ok(
        &mut net,
        TOWN_1,
        Command::Acknowledge {
            order,
            state: TargetState::SignedFor {
                by: "镇值班员".into()
            },
        },
    );
    settle(&mut net);

    let county = id(COUNTY);
    let reported = net.core(&county).incident(a).unwrap().reported;
    let period = Period::month_of(reported);
    let figures = fold(net.core(&county).store(), &topology, &county, period);
    let all = &figures.actual.all;
    assert_eq!((all.received, all.owned, all.passed_up), (5, 4, 1), "{all:?}");
    assert_eq!(
        (all.accepted, all.resolved, all.verified, all.closed),
        (2, 1, 1, 1),
        "{all:?}"
    );
    assert_eq!(all.accepted_on_time, 2);
    assert_eq!((all.to_accept.count(), all.to_close.count()), (2, 1));
    assert_eq!((all.orders, all.order_targets, all.signed_for_on_time), (1, 2, 1));
    assert_eq!(all.resolution_rate(), Some(0.25));
    // By where it came from: township 1 sent two IV and the III, township 2
    // one IV (its routine report never came here), the county one.
    let child = |n: &str| figures.actual.by_child.get(&id(n)).cloned().unwrap_or_default();
    assert_eq!(
        (child(TOWN_1).received, child(TOWN_1).owned, child(TOWN_1).passed_up),
        (3, 2, 1)
    );
    assert_eq!((child(TOWN_2).received, child(TOWN_2).owned), (1, 1));
    assert_eq!((child(COUNTY).received, child(COUNTY).owned), (1, 1));
    assert_eq!(child(TOWN_1).order_targets + child(TOWN_2).order_targets, 2);
    assert_eq!(figures.actual.by_severity[&Severity::IV].owned, 4);
    assert_eq!(figures.actual.by_category[&Category::Dispute].owned, 2);
    // The drill is apart.
    assert_eq!((figures.drill.all.received, figures.drill.all.owned), (1, 1));
    // The III counts once, at the city, as owned.
    let city = fold(net.core(&id(CITY)).store(), &topology, &id(CITY), period);
    assert_eq!((city.actual.all.owned, city.actual.all.passed_up), (1, 0));
    // Another month holds nothing.
    let next = Period::parse("1970-02").unwrap();
    assert_eq!(
        fold(net.core(&county).store(), &topology, &county, next)
            .actual
            .all
            .received,
        0
    );
    // The same store, the same figures: the disk after a restart.
    net.restart(&county);
    settle(&mut net);
    assert_eq!(fold(net.disk(&county), &topology, &county, period), figures);
}

#[test]
fn a_report_carried_around_a_down_township_counts_once_at_its_owner() {
    let topology: Arc<Topology> = Arc::new(generate(&Shape::Preset(Preset::Demo), Addressing::default()).unwrap());
    let mut net = Net::new(topology.clone(), 5);
    let (town, county) = (id(TOWN_1), id(COUNTY));
    net.crash(&town);
    // Demo failover threshold: 5 s. The village's routine report goes to
    // the county, which carries it for the township.
    net.run_for(Duration::from_secs(6));
    let a = ok(
        &mut net,
        VILLAGE_1,
        report(Severity::Routine, Category::Dispute, Mode::Actual),
    );
    net.run_for(Duration::from_secs(10));
    assert_eq!(
        net.core(&county).incident(a).map(|i| i.owner.clone()),
        Some(town.clone())
    );
    net.restart(&town);
    net.run_for(Duration::from_secs(10));
    assert_eq!(net.core(&town).incident(a).map(|i| i.owner.clone()), Some(town.clone()));

    let period = Period::month_of(net.core(&county).incident(a).unwrap().reported);
    // The county only carried it: it is the township's, not the county's.
    let own = fold(net.core(&county).store(), &topology, &county, period);
    assert_eq!(own.actual.all, Figures::default());
    // The county's subtree, with its townships' figures as their summaries
    // would bring them: the report once, received and owned.
    let records: Vec<(NodeId, SummaryRecord)> = [TOWN_1, TOWN_2]
        .into_iter()
        .map(|t| {
            let summary = net.core(&id(t)).report(period).summary(1, false);
            (id(t), SummaryRecord { summary, at: net.now })
        })
        .collect();
    let children: Vec<(NodeId, Option<&SummaryRecord>)> = records.iter().map(|(t, r)| (t.clone(), Some(r))).collect();
    let subtree = figures::report(&own, &children, &topology.policy().index());
    let all = &subtree.actual.all;
    assert_eq!((all.received, all.owned, all.passed_up), (1, 1, 0), "{all:?}");
}
