//! A month's trend as an SVG chart: reports received per day from each
//! child subtree (and the center's own), one line each, with axes and a
//! legend in zh and en. Plain SVG 1.1 text, no script, no external font.

use std::fmt::Write as _;

use liandong_dispatch::figures::{Report, Source};
use liandong_topology::{NodeId, Topology};

const WIDTH: f64 = 860.0;
const HEIGHT: f64 = 420.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 220.0;
const TOP: f64 = 56.0;
const BOTTOM: f64 = 48.0;
const PALETTE: [&str; 10] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
];

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The chart of `days` (one center's report per day of `month`, in
/// order): a line per row (the center's own, each child's subtree).
pub fn trend(center: &NodeId, month: &str, days: &[Report], topology: Option<&Topology>) -> String {
    let name = |id: &NodeId| {
        topology
            .and_then(|t| t.get(id))
            .map_or_else(|| id.to_string(), |n| format!("{id} {}", n.name))
    };
    let mut children: Vec<NodeId> = days
        .iter()
        .flat_map(|d| d.rows.iter().map(|r| r.node.clone()))
        .collect();
    // The center's own line first, then its children in id order.
    children.sort_by_key(|c| (c != center, c.clone()));
    children.dedup();
    let series: Vec<(NodeId, Vec<u64>)> = children
        .into_iter()
        .map(|c| {
            let values = days
                .iter()
                .map(|d| d.rows.iter().find(|r| r.node == c).map_or(0, |r| r.actual.received))
                .collect();
            (c, values)
        })
        .collect();
    // Days each source was awaited (no summary yet) or came late.
    let status = |c: &NodeId| {
        let rows = || days.iter().filter_map(|d| d.rows.iter().find(|r| r.node == *c));
        let awaited = rows().filter(|r| r.source == Source::Awaiting).count();
        let late = rows()
            .filter(|r| matches!(r.source, Source::Summary { late: true, .. }))
            .count();
        let mut words = Vec::new();
        if awaited > 0 {
            words.push(format!("未报送 {awaited} 天 awaited {awaited} d"));
        }
        if late > 0 {
            words.push(format!("迟报 {late} 天 late {late} d"));
        }
        words.join(" · ")
    };
    let highest = series.iter().flat_map(|(_, v)| v.iter().copied()).max().unwrap_or(0);
    // Gridlines at a round step (1, 2, 5, 10, 20, ...), at most five.
    let step = [1u64, 2, 5]
        .iter()
        .flat_map(|m| (0..12).map(move |e| m * 10u64.pow(e)))
        .filter(|step| highest.div_ceil(*step) <= 5)
        .min()
        .unwrap_or(1);
    let max = highest.div_ceil(step).max(1) * step;
    let n = days.len().max(2);
    let (plot_w, plot_h) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    let x = |i: usize| LEFT + plot_w * i as f64 / (n - 1) as f64;
    let y = |v: u64| TOP + plot_h * (1.0 - v as f64 / max as f64);

    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{LEFT}" y="24" font-size="16" font-weight="bold">{}</text>"#,
        escape(&format!(
            "平安报表 · 每日收到 reports received per day · {} · {month}",
            name(center)
        ))
    );
    let _ = writeln!(
        svg,
        r##"<text x="{LEFT}" y="42" fill="#555">{}</text>"##,
        escape("按来源 by where from (本级 own, 下级 each child's subtree); 实战 actual only")
    );
    // Axes and the y grid.
    for k in 0..=max / step {
        let v = k * step;
        let yy = y(v);
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#333">{v}</text>"##,
            LEFT + plot_w,
            LEFT - 6.0,
            yy + 4.0
        );
    }
    let _ = writeln!(
        svg,
        r##"<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{:.1}" stroke="#333"/><line x1="{LEFT}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#333"/>"##,
        TOP + plot_h,
        TOP + plot_h,
        LEFT + plot_w,
        TOP + plot_h
    );
    for (i, _) in days.iter().enumerate() {
        if i % 5 == 0 || i + 1 == days.len() {
            let _ = writeln!(
                svg,
                r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#333">{}</text>"##,
                x(i),
                TOP + plot_h + 16.0,
                i + 1
            );
        }
    }
    let _ = writeln!(
        svg,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#333">日 day</text>"##,
        LEFT + plot_w / 2.0,
        HEIGHT - 10.0
    );
    // One line per source, and the legend.
    for (k, (child, values)) in series.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        let points: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v)))
            .collect();
        let _ = writeln!(
            svg,
            r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"/>"#,
            points.join(" ")
        );
        let ly = TOP + 32.0 * k as f64;
        let own = if child == center { " (本级 own)" } else { "" };
        let total: u64 = values.iter().sum();
        let _ = writeln!(
            svg,
            r#"<rect x="{:.1}" y="{:.1}" width="14" height="4" fill="{color}"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            WIDTH - RIGHT + 16.0,
            ly - 4.0,
            WIDTH - RIGHT + 36.0,
            ly + 2.0,
            escape(&format!("{}{own}: {total}", name(child)))
        );
        let words = status(child);
        if !words.is_empty() {
            let _ = writeln!(
                svg,
                r##"<text x="{:.1}" y="{:.1}" font-size="10" fill="#777">{}</text>"##,
                WIDTH - RIGHT + 36.0,
                ly + 15.0,
                escape(&words)
            );
        }
    }
    if series.is_empty() {
        let _ = writeln!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#777">{}</text>"##,
            LEFT + plot_w / 2.0,
            TOP + plot_h / 2.0,
            escape("本月无数据 nothing this month")
        );
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use liandong_dispatch::figures::{Breakdown, Figures, Period, Row};

    use super::*;

    fn id(s: &str) -> NodeId {
        NodeId::parse(s).unwrap()
    }

    /// A month of three sources with known totals: one line each, the
    /// legend naming each with its total, every point inside the plot.
    #[test]
    fn a_line_per_source_with_its_total_in_the_legend() {
        let county = id("350102");
        let sources = [county.clone(), id("350102001"), id("350102002")];
        let days: Vec<Report> = (1..=30u64)
            .map(|d| {
                let rows = (sources.iter().enumerate())
                    .map(|(k, s)| Row {
                        node: s.clone(),
                        source: Source::Own,
                        actual: Figures {
                            received: (d * (k as u64 + 1) * 7) % 11,
                            ..Figures::default()
                        },
                        drill: Figures::default(),
                        index: None,
                        alarm: false,
                    })
                    .collect();
                Report {
                    center: county.clone(),
                    period: Period::parse(&format!("2026-11-{d:02}")).unwrap(),
                    source: Source::Own,
                    actual: Breakdown::default(),
                    drill: Breakdown::default(),
                    index: 1000,
                    alarm: false,
                    rows,
                    missing: Vec::new(),
                }
            })
            .collect();
        let svg = trend(&county, "2026-11", &days, None);
        assert_eq!(svg.matches("<polyline").count(), 3);
        for (k, s) in sources.iter().enumerate() {
            let total: u64 = (1..=30u64).map(|d| (d * (k as u64 + 1) * 7) % 11).sum();
            let own = if k == 0 { " (本级 own)" } else { "" };
            assert!(svg.contains(&format!(">{s}{own}: {total}</text>")), "{s}: {svg}");
        }
        for pair in svg.split("points=\"").skip(1).map(|p| p.split('"').next().unwrap()) {
            for point in pair.split(' ') {
                let (x, y) = point.split_once(',').unwrap();
                let (x, y): (f64, f64) = (x.parse().unwrap(), y.parse().unwrap());
                assert!(
                    (LEFT..=WIDTH - RIGHT).contains(&x) && (TOP..=HEIGHT - BOTTOM).contains(&y),
                    "{point}"
                );
            }
        }
        if let Some(dir) = std::env::var_os("LIANDONG_SVG_OUT") {
            std::fs::write(std::path::Path::new(&dir).join("trend.svg"), &svg).unwrap();
        }
    }

    /// A county's month as drawn, snapshot whole: its own line, two
    /// townships from their daily summaries, the police unit awaited.
    #[test]
    fn a_counties_month_as_drawn() {
        use liandong_topology::{Addressing, Preset, Shape, generate};
        let topology = generate(&Shape::Preset(Preset::Demo), Addressing::default()).unwrap();
        let county = id("350102");
        let days: Vec<Report> = (1..=30u64)
            .map(|d| {
                let f = |received| Figures {
                    received,
                    ..Figures::default()
                };
                let summary = Source::Summary {
                    version: 1,
                    late: d == 12,
                    at: liandong_dispatch::wire::Timestamp(0),
                };
                let row = |node: &str, source: Source, received| Row {
                    node: id(node),
                    source,
                    actual: f(received),
                    drill: Figures::default(),
                    index: None,
                    alarm: false,
                };
                Report {
                    center: county.clone(),
                    period: Period::parse(&format!("2026-11-{d:02}")).unwrap(),
                    source: Source::Own,
                    actual: Breakdown::default(),
                    drill: Breakdown::default(),
                    index: 1000,
                    alarm: false,
                    rows: vec![
                        row("350102", Source::Own, d % 4),
                        row("350102001", summary.clone(), 3 + (d * 5) % 7),
                        // A flood week in the second township.
                        row(
                            "350102002",
                            summary,
                            if (18..=24).contains(&d) {
                                12 - (d - 18)
                            } else {
                                2 + d % 3
                            },
                        ),
                        row("350102-police", Source::Awaiting, 0),
                    ],
                    missing: vec![id("350102-police")],
                }
            })
            .collect();
        let svg = trend(&county, "2026-11", &days, Some(&topology));
        insta::assert_snapshot!(svg);
        if let Some(dir) = std::env::var_os("LIANDONG_SVG_OUT") {
            std::fs::write(std::path::Path::new(&dir).join("county-month.svg"), &svg).unwrap();
        }
    }
}
