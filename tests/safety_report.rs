//! `liandong safety-report` against a real node (the demo's county, alone):
//! reports filed and accepted there are in its figures for their month,
//! as Markdown, CSV and JSON, its townships' rows awaiting their
//! summaries; a drill is apart; a period that is not one is refused
//! naming the forms that are. (The roll-up through a month's end is
//! `safety_rollup.rs`.)

mod common;
mod federation;

use std::net::Ipv4Addr;

use federation::{Federation, file_report, hex, id, incident_at};
use liandong_control::proto::{Act, Request, Response};
use liandong_dispatch::figures::{Period, Report, Source};
use liandong_dispatch::wire::{Category, Mode};
use liandong_topology::Severity;

const COUNTY: &str = "350102";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_counties_own_figures_for_the_month_as_markdown_csv_and_json() {
    let mut fed = Federation::demo(Ipv4Addr::new(127, 0, 18, 4));
    let county = id(COUNTY);
    fed.start(&county);
    let op = fed.client(&county, "值班员").await;
    let first = file_report(&op, Severity::IV, "河道漫堤").await;
    file_report(&op, Severity::IV, "路面积水").await;
    let accepted = op
        .call(Request::Act(Act::Accept { incident: hex(first) }))
        .await
        .expect("accept");
    assert!(matches!(accepted, Response::Done { .. }), "{accepted:?}");
    let drill = op
        .call(Request::Act(Act::Report {
            severity: Severity::IV,
            category: Category::Fire,
            title: "消防演练".into(),
            detail: String::new(),
            place: "县政府大院".into(),
            mode: Mode::Exercise,
        }))
        .await
        .expect("drill");
    assert!(matches!(drill, Response::Done { .. }), "{drill:?}");
    let period = Period::month_of(incident_at(&op, first).await.expect("the incident").reported).to_string();

    let (cert, _) = fed.operator(&county, "值班员", "operator");
    let addr = fed.control_addr(&county).to_string();
    let run = |format: &str| {
        common::liandong(&[
            "safety-report",
            "--period",
            &period,
            "--format",
            format,
            "--node",
            &addr,
            "--cert",
            cert.to_str().expect("path"),
        ])
    };
    let json = run("json");
    assert!(json.status.success(), "{}", common::stderr(&json));
    let figures: Report = serde_json::from_str(&common::stdout(&json)).expect("the report as JSON");
    assert_eq!(figures.rows[0].source, Source::Own);
    // No township ever sent a summary: each is awaited, its row empty.
    assert_eq!(figures.missing.len(), 3, "{:?}", figures.missing);
    let all = &figures.actual.all;
    assert_eq!(
        (all.received, all.owned, all.accepted, all.accepted_on_time),
        (2, 2, 1, 1),
        "{all:?}"
    );
    assert_eq!(figures.actual.by_category[&Category::Flood].owned, 2);
    assert_eq!((figures.drill.all.received, figures.drill.all.owned), (1, 1));

    let md = common::stdout(&run("md"));
    assert!(md.contains(&format!("# 平安报表 Safety report · {COUNTY} ")), "{md}");
    assert!(md.contains("| **合计 total** |  | 2 | 2 | 0 | 1 | 50.0% |"), "{md}");
    assert!(md.contains("| 350102001 鼓东街道 | 未报送 awaiting | 0 |"), "{md}");
    assert!(md.contains("## 演练 Drills"), "{md}");
    // (40 × 1/2 + 40 × 0) / 80 = 25, minus 2 IV owned: 23.
    assert_eq!(figures.index, 230);
    assert!(figures.alarm);
    assert!(md.contains("平安指数 safety index: **23.0** ⚠"), "{md}");
    let csv = common::stdout(&run("csv"));
    assert!(
        csv.lines()
            .any(|l| l.starts_with(&format!("{COUNTY},{period},actual,all,,,2,2,0,1,50.0%"))),
        "{csv}"
    );
    assert!(
        csv.lines()
            .any(|l| l.starts_with(&format!("{COUNTY},{period},drill,all,,,1,1,"))),
        "{csv}"
    );

    // The month's trend, drawn: well-formed SVG (xmllint, when here) with
    // the county's own line holding its two reports.
    let svg = run("svg");
    assert!(svg.status.success(), "{}", common::stderr(&svg));
    let svg = common::stdout(&svg);
    assert!(svg.starts_with("<svg ") && svg.trim_end().ends_with("</svg>"), "{svg}");
    assert!(
        svg.contains("<polyline") && svg.contains(&format!("{COUNTY} 鼓楼区 (本级 own): 2")),
        "{svg}"
    );
    if common::tool::require(
        "xmllint",
        "the safety report's SVG check",
        "checks the SVG is well-formed XML",
    ) {
        let file = fed.path().join("trend.svg");
        std::fs::write(&file, &svg).expect("write the SVG");
        let out = std::process::Command::new("xmllint")
            .args(["--noout", "--nonet"])
            .arg(&file)
            .output()
            .expect("xmllint");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }

    let bad = common::liandong(&[
        "safety-report",
        "--period",
        "2026-13",
        "--node",
        &addr,
        "--cert",
        cert.to_str().expect("path"),
    ]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        common::stderr(&bad).contains("\"2026-13\" is not a period: give a month as 2026-11 or a day as 2026-11-05"),
        "{}",
        common::stderr(&bad)
    );
    fed.stop_all();
}
