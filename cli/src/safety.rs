//! `liandong safety-report --period 2026-11`: this center's own figures
//! (平安报表) for a month or a day, as the node folds them from its store:
//! a Markdown table to print (default), CSV for spreadsheets, JSON, or
//! for a month an SVG chart of each day's reports by where they came from
//! (`svg`).
//! Actual cases and drills are printed apart and never added together.
//!
//! Today the report is the center's own figures; its children's summaries
//! climbing the tree (the subtree report) come next.

use std::fmt::Write as _;

use anyhow::bail;
use clap::Args;
use liandong_control::{Query, Request, Response};
use liandong_dispatch::calendar::days_in_month;
use liandong_dispatch::figures::{BOUNDS_S, Breakdown, CenterFigures, Figures, Period, Within};
use liandong_topology::Topology;

use crate::ops::view::print_json;
use crate::ops::{Connection, block_on, connect, query, unexpected};

mod svg;

#[derive(Args)]
#[command(after_help = "Examples:\n  liandong safety-report --period 2026-11\n  \
    liandong safety-report --period 2026-11-05 --format csv > 2026-11-05.csv")]
pub struct SafetyArgs {
    /// A month (2026-11) or a day (2026-11-05), on China Standard Time.
    #[arg(long)]
    pub period: String,
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
        let figures = match query(&args.conn, Request::Query(Query::Figures { period: args.period })).await? {
            Response::Figures(f) => *f,
            Response::Refused { reason } => bail!("{reason}"),
            other => return Err(unexpected(other, "Figures")),
        };
        match args.format.as_str() {
            "json" => print_json(&figures),
            "csv" => {
                print!("{}", csv(&figures));
                Ok(())
            }
            _ => {
                let topology = match query(&args.conn, Request::Query(Query::Topology)).await? {
                    Response::Topology(text) => Topology::parse(&text, None).ok(),
                    _ => None,
                };
                print!("{}", markdown(&figures, topology.as_ref()));
                Ok(())
            }
        }
    })
}

/// `--format svg`: the figures of every day of the month, drawn.
async fn trend(args: SafetyArgs) -> anyhow::Result<()> {
    let Ok(Period::Month { year, month }) = Period::parse(&args.period) else {
        bail!("an SVG trend is drawn for a month, like 2026-11, not {:?}", args.period);
    };
    let client = connect(&args.conn).await?;
    let mut days = Vec::new();
    for day in 1..=days_in_month(year.into(), month.into()) {
        let period = format!("{year:04}-{month:02}-{day:02}");
        match client.call(Request::Query(Query::Figures { period })).await? {
            Response::Figures(f) => days.push(*f),
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
        None => bail!("the month {} has no days", args.period),
    }
    Ok(())
}

/// The columns of every table and of the CSV: header (zh / en) and value.
type Column = (&'static str, fn(&Figures) -> String);

const COLUMNS: [Column; 14] = [
    ("收到 received", |f| f.received.to_string()),
    ("承办 owned", |f| f.owned.to_string()),
    ("上交 passed up", |f| f.passed_up.to_string()),
    ("受理 accepted", |f| f.accepted.to_string()),
    ("按时受理率 on time", |f| percent(f.on_time_rate())),
    ("办结 resolved", |f| f.resolved.to_string()),
    ("办结率 rate", |f| percent(f.resolution_rate())),
    ("结案 closed", |f| f.closed.to_string()),
    ("受理用时 to accept (median)", |f| within(f.to_accept.quantile(0.5))),
    ("结案用时 to close (median)", |f| within(f.to_close.quantile(0.5))),
    ("督办 supervised", |f| f.supervised.to_string()),
    ("上交次数 escalations", |f| f.escalations.to_string()),
    ("交办对象 order targets", |f| f.order_targets.to_string()),
    ("按时签收率 signed on time", |f| percent(f.sign_for_rate())),
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

/// The figures as Markdown: actual, then drills, each by where from.
pub fn markdown(f: &CenterFigures, topology: Option<&Topology>) -> String {
    let name = |id: &liandong_topology::NodeId| {
        topology
            .and_then(|t| t.get(id))
            .map_or_else(|| id.to_string(), |n| format!("{id} {}", n.name))
    };
    let mut out = String::new();
    let _ = writeln!(out, "# 平安报表 Safety report · {} · {}\n", name(&f.center), f.period);
    let _ = writeln!(
        out,
        "本级数据 / this center's own figures. Every incident counts once, at its owner; \
         time buckets up to {} days.\n",
        BOUNDS_S[BOUNDS_S.len() - 1] / 86_400
    );
    let _ = writeln!(
        out,
        "平安指数 safety index: **{:.1}**{}\n",
        f64::from(f.index) / 10.0,
        if f.alarm {
            " ⚠ 低于预警线 below the alarm line"
        } else {
            ""
        }
    );
    for (title, b) in [
        ("实战 Actual", &f.actual),
        ("演练 Drills (apart, never added in)", &f.drill),
    ] {
        let _ = writeln!(out, "## {title}\n");
        table(&mut out, b, &f.center, &name);
    }
    out
}

fn table(
    out: &mut String,
    b: &Breakdown,
    me: &liandong_topology::NodeId,
    name: &dyn Fn(&liandong_topology::NodeId) -> String,
) {
    let header: Vec<&str> = COLUMNS.iter().map(|c| c.0).collect();
    let _ = writeln!(out, "| 来自 from | {} |", header.join(" | "));
    let _ = writeln!(out, "|---|{}", "---:|".repeat(COLUMNS.len()));
    let row = |out: &mut String, label: String, f: &Figures| {
        let cells: Vec<String> = COLUMNS.iter().map(|c| (c.1)(f)).collect();
        let _ = writeln!(out, "| {label} | {} |", cells.join(" | "));
    };
    row(out, "**合计 total**".into(), &b.all);
    for (child, f) in &b.by_child {
        let label = if child == me {
            format!("{} (本级 own)", name(child))
        } else {
            name(child)
        };
        row(out, label, f);
    }
    for (severity, f) in &b.by_severity {
        row(out, format!("级别 severity {severity}"), f);
    }
    for (category, f) in &b.by_category {
        row(out, format!("类别 category {category:?}"), f);
    }
    out.push('\n');
}

/// The figures as CSV: one line per mode and slice.
pub fn csv(f: &CenterFigures) -> String {
    let mut out = String::from("center,period,mode,slice,key");
    for c in COLUMNS {
        let _ = write!(out, ",{}", c.0);
    }
    out.push_str(",平安指数 index\n");
    for (mode, b) in [("actual", &f.actual), ("drill", &f.drill)] {
        let mut line = |slice: &str, key: String, fig: &Figures| {
            let _ = write!(out, "{},{},{mode},{slice},{key}", f.center, f.period);
            for c in COLUMNS {
                let _ = write!(out, ",{}", (c.1)(fig));
            }
            // The index is the center's, of its actual figures.
            if mode == "actual" && slice == "all" {
                let _ = write!(out, ",{:.1}", f64::from(f.index) / 10.0);
            } else {
                out.push(',');
            }
            out.push('\n');
        };
        line("all", String::new(), &b.all);
        for (k, fig) in &b.by_child {
            line("child", k.to_string(), fig);
        }
        for (k, fig) in &b.by_severity {
            line("severity", k.to_string(), fig);
        }
        for (k, fig) in &b.by_category {
            line("category", format!("{k:?}"), fig);
        }
    }
    out
}
