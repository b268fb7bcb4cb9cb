//! The roll-up of the safety report (平安报表) through a month's end with
//! real nodes: the demo's city, one county, its two townships and a
//! village, their clocks shifted (`LIANDONG_CLOCK_OFFSET_MS`) so the month
//! ends half a minute after they start. Reports are filed before it, one
//! township is stopped across it; each center sends its summary up on
//! its own at the month's end; the township sends late when it returns
//! and the city's report then shows the county's new version, marked
//! late. The county's report lists each township with what was filed
//! there; drills stay apart; asking for a center outside the subtree is
//! refused with a clear reason.

mod common;
mod federation;

use std::net::Ipv4Addr;
use std::time::Duration;

use federation::{Federation, file_report, hex, id, subscribe, wait_for};
use liandong_control::clock;
use liandong_control::proto::{Act, Notice, Query, Request, Response};
use liandong_dispatch::figures::{Period, Report, Source};
use liandong_dispatch::wire::{Category, Mode, Timestamp};
use liandong_topology::{NodeId, Severity};

const CITY: &str = "350100";
const COUNTY: &str = "350102";
const TOWN_1: &str = "350102001";
const TOWN_2: &str = "350102002";
const VILLAGE: &str = "350102001001";

/// How long after the nodes' clocks start the month ends: enough to start
/// five nodes and file the reports.
const LEAD: Duration = Duration::from_secs(30);

fn row<'r>(report: &'r Report, node: &str) -> &'r liandong_dispatch::figures::Row {
    let node = id(node);
    report
        .rows
        .iter()
        .find(|r| r.node == node)
        .unwrap_or_else(|| panic!("no row for {node}: {report:#?}"))
}

async fn figures(client: &liandong_control::ControlClient, period: &str, center: Option<&str>) -> Response {
    client
        .call(Request::Query(Query::Figures {
            period: period.into(),
            center: center.map(id),
        }))
        .await
        .expect("figures call")
}

async fn report_of(client: &liandong_control::ControlClient, period: &str, center: Option<&str>) -> Report {
    match figures(client, period, center).await {
        Response::Figures(r) => *r,
        other => panic!("no report: {other:?}"),
    }
}

/// The next summary notice from `child` for `period` that `want` accepts,
/// within `wait`.
async fn summary_from(
    sub: &mut liandong_control::Subscription,
    child: &NodeId,
    period: Period,
    wait: Duration,
    mut want: impl FnMut(u32, bool) -> bool,
) -> (u32, bool) {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let next = tokio::time::timeout_at(deadline, sub.next())
            .await
            .unwrap_or_else(|_| panic!("no summary from {child} for {period} within {wait:?}"));
        match next {
            Some(Ok(Response::Pushed(p))) => {
                if let Notice::Summary {
                    child: c,
                    period: p,
                    version,
                    late,
                } = p.notice
                    && c == *child
                    && p == period
                    && want(version, late)
                {
                    return (version, late);
                }
            }
            Some(Ok(_)) => {}
            other => panic!("the subscription ended: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_township_updates_the_citys_month_and_is_marked_late() {
    let mut fed = Federation::demo(Ipv4Addr::new(127, 0, 18, 5));
    // The nodes' clocks: the month ends LEAD after now.
    let real = clock::now();
    let month = Period::month_of(real);
    let shift = month.end().0 as i64 - LEAD.as_millis() as i64 - real.0 as i64;
    fed.set_env(clock::OFFSET_VAR, &shift.to_string());
    fed.extend_topology("[policy.summary]\nperiods = [\"month\"]\ngrace = \"2s\"\n");
    let node_now = || Timestamp((clock::now().0 as i64 + shift) as u64);
    let period = month.to_string();

    for n in [CITY, COUNTY, TOWN_1, TOWN_2, VILLAGE] {
        fed.start(&id(n));
    }
    for (n, parent) in [(COUNTY, CITY), (TOWN_1, COUNTY), (TOWN_2, COUNTY), (VILLAGE, TOWN_1)] {
        fed.wait_log(&id(n), &format!("link up peer={parent}"), 1, Duration::from_secs(30));
    }
    let city = fed.client(&id(CITY), "值班员").await;
    let mut at_city = subscribe(&city).await;
    let town_1 = fed.client(&id(TOWN_1), "值班员").await;
    let mut at_town_1 = subscribe(&town_1).await;

    // Filed before the month's end: at the village a Routine (its
    // township's, accepted there) and a IV (the county's); at the second
    // township a Routine of its own and a drill.
    let village = fed.client(&id(VILLAGE), "网格员").await;
    let routine = file_report(&village, Severity::Routine, "邻里纠纷").await;
    file_report(&village, Severity::IV, "河道漫堤").await;
    wait_for(
        &mut at_town_1,
        "the Routine at the township",
        |n| matches!(n, Notice::IncidentRecorded { incident, .. } if incident.id == routine),
    )
    .await;
    let accepted = town_1
        .call(Request::Act(Act::Accept { incident: hex(routine) }))
        .await
        .expect("accept");
    assert!(matches!(accepted, Response::Done { .. }), "{accepted:?}");
    let town_2 = fed.client(&id(TOWN_2), "值班员").await;
    file_report(&town_2, Severity::Routine, "路灯损坏").await;
    let drill = town_2
        .call(Request::Act(Act::Report {
            severity: Severity::IV,
            category: Category::Fire,
            title: "消防演练".into(),
            detail: String::new(),
            place: "镇政府".into(),
            mode: Mode::Exercise,
        }))
        .await
        .expect("drill");
    assert!(matches!(drill, Response::Done { .. }), "{drill:?}");
    town_2.close().await;
    let before_end = month.end().since(node_now());
    assert!(
        before_end > Duration::from_secs(3),
        "setting up took too long: the month ends in {before_end:?}; raise LEAD"
    );
    // The second township goes down across the month's end.
    fed.stop(&id(TOWN_2));

    // At the month's end each center sends on its own; the county's first
    // version reaches the city without the second township.
    let wait = before_end + Duration::from_secs(60);
    let county = id(COUNTY);
    let first = summary_from(&mut at_city, &county, month, wait, |_, _| true).await;
    assert_eq!(first, (1, false));
    let report = report_of(&city, &period, Some(COUNTY)).await;
    assert!(report.missing.contains(&id(TOWN_2)), "{report:#?}");

    // Back after the month's end: its summary comes late, and so does the
    // county's new version at the city.
    fed.start(&id(TOWN_2));
    let (version, late) = summary_from(&mut at_city, &county, month, Duration::from_secs(60), |_, late| late).await;
    assert!(version >= 2 && late, "{version} {late}");

    let report = report_of(&city, &period, None).await;
    let county_row = row(&report, COUNTY);
    assert!(
        matches!(county_row.source, Source::Summary { late: true, version: v, .. } if v == version),
        "{county_row:?}"
    );
    // The county's subtree: the village's two, the township's own; each
    // township's row is what was filed there.
    assert_eq!(
        (report.actual.all.received, report.actual.all.owned),
        (3, 3),
        "{:?}",
        report.actual.all
    );
    assert_eq!(report.drill.all.received, 1, "the drill, apart");
    let county_report = report_of(&city, &period, Some(COUNTY)).await;
    let t1 = row(&county_report, TOWN_1);
    assert_eq!(
        (t1.actual.received, t1.actual.owned, t1.actual.accepted),
        (2, 1, 1),
        "{t1:?}"
    );
    assert_eq!(t1.actual.passed_up, 1, "the IV went up");
    let t2 = row(&county_report, TOWN_2);
    assert_eq!((t2.actual.received, t2.actual.owned), (1, 1), "{t2:?}");
    assert_eq!(
        (t2.drill.received, t2.drill.passed_up),
        (1, 1),
        "the drill IV went up, apart: {t2:?}"
    );
    assert!(county_report.missing.iter().all(|m| *m != id(TOWN_2)));

    // The same through the CLI at the city, as a table to print.
    let (cert, _) = fed.operator(&id(CITY), "值班员", "operator");
    let addr = fed.control_addr(&id(CITY)).to_string();
    let cli = |extra: &[&str]| {
        let mut args = vec![
            "safety-report",
            "--period",
            &period,
            "--node",
            &addr,
            "--cert",
            cert.to_str().expect("path"),
        ];
        args.extend_from_slice(extra);
        common::liandong(&args)
    };
    let md = cli(&[]);
    assert!(md.status.success(), "{}", common::stderr(&md));
    let md = common::stdout(&md);
    assert!(
        md.contains(&format!("| {COUNTY} 鼓楼区 | 迟报 late summary v{version} |")),
        "{md}"
    );
    let md = common::stdout(&cli(&["--center", COUNTY]));
    assert!(md.contains("from its summary version"), "{md}");
    assert!(md.contains(&format!("| {TOWN_2} ")), "{md}");

    // Centers the city cannot report on, each named.
    for (center, reason) in [
        (VILLAGE, "350102001001 is below 350102"),
        ("350121", "no summary from 350121"),
        ("350999", "350999 is not a node of this federation"),
    ] {
        let out = cli(&["--center", center]);
        assert_eq!(out.status.code(), Some(1), "{center}");
        assert!(
            common::stderr(&out).contains(reason),
            "{center}: {}",
            common::stderr(&out)
        );
    }
    let county_client = fed.client(&county, "值班员").await;
    // The county's own report says the same of its townships as the
    // summary the city holds.
    let at_county = report_of(&county_client, &period, None).await;
    for town in [TOWN_1, TOWN_2] {
        assert_eq!(row(&at_county, town).actual, row(&county_report, town).actual, "{town}");
        assert!(matches!(row(&at_county, town).source, Source::Summary { .. }), "{town}");
    }
    assert!(matches!(
        row(&at_county, TOWN_2).source,
        Source::Summary { late: true, .. }
    ));
    match figures(&county_client, &period, Some("350121")).await {
        Response::Refused { reason } => assert!(reason.contains("not in this center's subtree"), "{reason}"),
        other => panic!("{other:?}"),
    }
    fed.stop_all();
}
