//! `liandong safety-report --period 2026-11`: the subtree report
//! (平安报表) for a month or a day: this center's own figures, folded by
//! the node from its store, plus each child's latest summary, one row per
//! source, with `--center CHILD` a child's subtree from its summary. A
//! Markdown table to print (default), CSV for spreadsheets, JSON, or for a
//! month an SVG chart of each day's reports by source (`svg`). Actual
//! cases and drills are printed apart and never added together.

use std::fmt::Write as _;

use anyhow::bail;
use clap::Args;
use liandong_control::{Query, Request, Response};
use liandong_dispatch::calendar::days_in_month;
use liandong_dispatch::figures::{BOUNDS_S, Breakdown, Figures, Period, Report, Row, Source, Within, index_text};
use liandong_topology::{NodeId, Topology};

use crate::ops::view::print_json;
use crate::ops::{Connection, block_on, connect, query, unexpected};

mod svg;

#[derive(Args)]
#[command(after_help = "Examples:\n  liandong safety-report --period 2026-11\n  \
    liandong safety-report --period 2026-11 --center 350102001\n  \
    liandong safety-report --period 2026-11-05 --format csv > 2026-11-05.csv")]
pub struct SafetyArgs {
    /// A month (2026-11) or a day (2026-11-05), on China Standard Time.
    #[arg(long)]
    pub period: String,
    /// A child of this center: its subtree from its latest summary
    /// (default: this center's whole subtree).
    #[arg(long, value_name = "ID")]
    pub center: Option<NodeId>,
    /// md (a table to print), csv (for spreadsheets), json, or svg (a
    /// month's trend per day, by where reports came from).
    #[arg(long, default_value = "md", value_parser = ["md", "csv", "json", "svg"])]
    pub format: String,
    #[command(flatten)]
    pub conn: Connection,
}

pub fn run(args: SafetyArgs) -> anyhow::Result<()> {
    if args.format == "svg" {
        return block_on(|_| trend(args));
    }
    block_on(|_| async move {
        let ask = Query::Figures {
            period: args.period,
            center: args.center,
        };
        let report = match query(&args.conn, Request::Query(ask)).await? {
            Response::Figures(f) => *f,
            Response::Refused { reason } => bail!("{reason}"),
            other => return Err(unexpected(other, "Figures")),
        };
        match args.format.as_str() {
            "json" => print_json(&report),
            "csv" => {
                print!("{}", csv(&report));
                Ok(())
            }
            _ => {
                let topology = match query(&args.conn, Request::Query(Query::Topology)).await? {
                    Response::Topology(text) => Topology::parse(&text, None).ok(),
                    _ => None,
                };
                print!("{}", markdown(&report, topology.as_ref()));
                Ok(())
            }
        }
    })
}

/// `--format svg`: the report of every day of the month, drawn.
async fn trend(args: SafetyArgs) -> anyhow::Result<()> {
    let Ok(Period::Month { year, month }) = Period::parse(&args.period) else {
        bail!("an SVG trend is drawn for a month, like 2026-11, not {:?}", args.period);
    };
    let client = connect(&args.conn).await?;
    let mut days = Vec::new();
    for day in 1..=days_in_month(year.into(), month.into()) {
        let period = format!("{year:04}-{month:02}-{day:02}");
        let ask = Query::Figures {
            period,
            center: args.center.clone(),
        };
        match client.call(Request::Query(ask)).await? {
            Response::Figures(f) => days.push(*f),
            // A child's day with no summary yet is drawn as nothing.
            Response::Refused { reason } if args.center.is_some() && reason.starts_with("no summary") => {}
            Response::Refused { reason } => bail!("{reason}"),
            other => return Err(unexpected(other, "Figures")),
        }
    }
    let topology = match client.call(Request::Query(Query::Topology)).await? {
        Response::Topology(text) => Topology::parse(&text, None).ok(),
        _ => None,
    };
    client.close().await;
    let center = days.first().map(|d| d.center.clone());
    match center {
        Some(center) => print!("{}", svg::trend(&center, &args.period, &days, topology.as_ref())),
        None => bail!(
            "no summary of {} came for any day of {}",
            args.center.map_or_else(String::new, |c| c.to_string()),
            args.period
        ),
    }
    Ok(())
}

/// The columns of every table and of the CSV: header (zh / en) and value.
type Column = (&'static str, fn(&Figures) -> String);

const COLUMNS: [Column; 19] = [
    ("收到 received", |f| f.received.to_string()),
    ("承办 owned", |f| f.owned.to_string()),
    ("上交 passed up", |f| f.passed_up.to_string()),
    ("受理 accepted", |f| f.accepted.to_string()),
    ("按时受理率 on time", |f| percent(f.on_time_rate())),
    ("办结 resolved", |f| f.resolved.to_string()),
    ("办结率 rate", |f| percent(f.resolution_rate())),
    ("核查 verified", |f| f.verified.to_string()),
    ("结案 closed", |f| f.closed.to_string()),
    ("受理用时 to accept (median)", |f| within(f.to_accept.quantile(0.5))),
    ("受理用时 to accept (p90)", |f| within(f.to_accept.quantile(0.9))),
    ("结案用时 to close (median)", |f| within(f.to_close.quantile(0.5))),
    ("结案用时 to close (p90)", |f| within(f.to_close.quantile(0.9))),
    ("督办 supervised", |f| f.supervised.to_string()),
    ("上交次数 escalations", |f| f.escalations.to_string()),
    ("交办 orders", |f| f.orders.to_string()),
    ("交办对象 order targets", |f| f.order_targets.to_string()),
    ("按时签收率 signed on time", |f| percent(f.sign_for_rate())),
    ("办毕 done", |f| f.done.to_string()),
];

fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "-".into(), |r| format!("{:.1}%", r * 100.0))
}

/// A bucket bound as people say it.
fn within(w: Option<Within>) -> String {
    let words = |s: u64| match s {
        s if s < 3_600 => format!("{} min", s / 60),
        s if s < 86_400 => format!("{} h", s / 3_600),
        s => format!("{} d", s / 86_400),
    };
    match w {
        None => "-".into(),
        Some(Within::Seconds(s)) => format!("≤ {}", words(s)),
        Some(Within::Over(s)) => format!("> {}", words(s)),
    }
}

/// How a row's figures came, in zh and en.
fn source(s: &Source) -> String {
    match s {
        Source::Own => "本级 own".into(),
        Source::Summary {
            version, late: false, ..
        } => format!("报送 summary v{version}"),
        Source::Summary {
            version, late: true, ..
        } => format!("迟报 late summary v{version}"),
        Source::Reported => "报送 in summary".into(),
        Source::Awaiting => "未报送 awaiting".into(),
    }
}

/// The report as Markdown: the whole, then actual and drills apart, each
/// by source, severity and category.
pub fn markdown(r: &Report, topology: Option<&Topology>) -> String {
    let name = |id: &NodeId| {
        topology
            .and_then(|t| t.get(id))
            .map_or_else(|| id.to_string(), |n| format!("{id} {}", n.name))
    };
    let mut out = String::new();
    let _ = writeln!(out, "# 平安报表 Safety report · {} · {}\n", name(&r.center), r.period);
    let whence = match &r.source {
        Source::Summary { version, late, .. } => format!(
            "辖区数据, 来自其报送第 {version} 版{} / the subtree, from its summary version {version}{}",
            if *late { " (迟报)" } else { "" },
            if *late { " (late)" } else { "" }
        ),
        _ => "辖区数据 / the subtree: this center's own figures and each child's latest summary".into(),
    };
    let _ = writeln!(
        out,
        "{whence}. Every incident counts once, at its owner; time buckets up to {} days.\n",
        BOUNDS_S[BOUNDS_S.len() - 1] / 86_400
    );
    let _ = writeln!(
        out,
        "平安指数 safety index: **{}**{}\n",
        index_text(r.index),
        if r.alarm {
            " ⚠ 低于预警线 below the alarm line"
        } else {
            ""
        }
    );
    if !r.missing.is_empty() {
        let missing: Vec<String> = r.missing.iter().map(&name).collect();
        let _ = writeln!(
            out,
            "未报送 awaiting summaries from: {} (their rows show only what reached this center)\n",
            missing.join(", ")
        );
    }
    for (title, b, drill) in [
        ("实战 Actual", &r.actual, false),
        ("演练 Drills (apart, never added in)", &r.drill, true),
    ] {
        let _ = writeln!(out, "## {title}\n");
        table(&mut out, r, b, drill, &name);
    }
    out
}

fn table(out: &mut String, r: &Report, b: &Breakdown, drill: bool, name: &dyn Fn(&NodeId) -> String) {
    let header: Vec<&str> = COLUMNS.iter().map(|c| c.0).collect();
    let _ = writeln!(
        out,
        "| 来自 from | 数据 source | {} | 平安指数 index |",
        header.join(" | ")
    );
    let _ = writeln!(out, "|---|---|{}---:|", "---:|".repeat(COLUMNS.len()));
    let line = |out: &mut String, label: String, whence: String, f: &Figures, index: String| {
        let cells: Vec<String> = COLUMNS.iter().map(|c| (c.1)(f)).collect();
        let _ = writeln!(out, "| {label} | {whence} | {} | {index} |", cells.join(" | "));
    };
    let index = |i: Option<u32>, alarm: bool| match (drill, i) {
        (false, Some(i)) => format!("{}{}", index_text(i), if alarm { " ⚠" } else { "" }),
        _ => String::new(),
    };
    line(
        out,
        "**合计 total**".into(),
        String::new(),
        &b.all,
        index(Some(r.index), r.alarm),
    );
    for row in &r.rows {
        let f = if drill { &row.drill } else { &row.actual };
        line(
            out,
            name(&row.node),
            source(&row.source),
            f,
            index(row.index, row.alarm),
        );
    }
    for (severity, f) in &b.by_severity {
        line(
            out,
            format!("级别 severity {severity}"),
            String::new(),
            f,
            String::new(),
        );
    }
    for (category, f) in &b.by_category {
        line(
            out,
            format!("类别 category {category:?}"),
            String::new(),
            f,
            String::new(),
        );
    }
    out.push('\n');
}

/// The report as CSV: one line per mode and slice (all, each source row,
/// each severity, each category).
pub fn csv(r: &Report) -> String {
    let mut out = String::from("center,period,mode,slice,key,source");
    for c in COLUMNS {
        let _ = write!(out, ",{}", c.0);
    }
    out.push_str(",平安指数 index\n");
    for (mode, b) in [("actual", &r.actual), ("drill", &r.drill)] {
        let mut line = |slice: &str, key: String, whence: String, fig: &Figures, index: Option<u32>| {
            let _ = write!(out, "{},{},{mode},{slice},{key},{whence}", r.center, r.period);
            for c in COLUMNS {
                let _ = write!(out, ",{}", (c.1)(fig));
            }
            // Indexes are of actual figures.
            match index.filter(|_| mode == "actual") {
                Some(i) => {
                    let _ = write!(out, ",{}", index_text(i));
                }
                None => out.push(','),
            }
            out.push('\n');
        };
        line("all", String::new(), String::new(), &b.all, Some(r.index));
        for Row {
            node,
            source: whence,
            actual,
            drill,
            index,
            ..
        } in &r.rows
        {
            let f = if mode == "actual" { actual } else { drill };
            line("row", node.to_string(), source(whence), f, *index);
        }
        for (k, fig) in &b.by_severity {
            line("severity", k.to_string(), String::new(), fig, None);
        }
        for (k, fig) in &b.by_category {
            line("category", format!("{k:?}"), String::new(), fig, None);
        }
    }
    out
}
