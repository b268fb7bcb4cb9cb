//! The timeline picture of a run, as one self-contained SVG document.
//!
//! Two panels share the simulated-time axis: deliveries per bucket as bars
//! on top, delivery latency p50 and p99 as lines below (in milliseconds;
//! a bucket with no deliveries leaves a gap in the lines). Every fault
//! window is shaded across both panels and labelled above them, with a
//! `<title>` giving its exact span. A legend names each mark.
//!
//! The output is plain text built with `write!`: no external crate, no
//! fonts or scripts to fetch, and no floating-point text that depends on
//! anything but the input (every number is printed with a fixed precision),
//! so the same timeline always gives byte-identical SVG.
//!
//! [`render`] draws a [`Chart`], plain data that tests can build by hand;
//! [`timeline`] draws the simulator's [`crate::Timeline`] (converted to a
//! [`Chart`] by the `From` impl beside it in `report`).

use std::fmt::Write as _;
use std::time::Duration;

/// What the picture shows: one entry per bucket of simulated time, plus the
/// fault windows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Chart {
    /// Width of one bucket of simulated time (buckets start at time zero).
    pub bucket: Duration,
    /// Deliveries, latencies per bucket, in time order.
    pub buckets: Vec<Point>,
    /// Fault windows to shade, in any order.
    pub faults: Vec<Window>,
    /// Length of the whole run; the x axis covers `max(total, buckets)`.
    pub total: Duration,
}

/// One bucket of the timeline.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Point {
    /// Messages delivered to an application in this bucket.
    pub delivered: u64,
    /// Median delivery latency of those messages (`None`: nothing delivered).
    pub p50: Option<Duration>,
    /// 99th percentile delivery latency (`None`: nothing delivered).
    pub p99: Option<Duration>,
}

/// A shaded fault window `[start, end)` of simulated time.
#[derive(Clone, Debug, PartialEq)]
pub struct Window {
    pub start: Duration,
    pub end: Duration,
    pub label: String,
}

/// Draws the simulator's timeline with `title` above it.
pub fn timeline(timeline: &crate::Timeline, title: &str) -> String {
    render(&Chart::from(timeline), title)
}

// Layout, in SVG user units.
const WIDTH: f64 = 1000.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 30.0;
const TOP: f64 = 56.0;
/// Room above the panels for up to three rows of fault labels.
const LABEL_ROWS: usize = 3;
const LABEL_ROW_HEIGHT: f64 = 14.0;
const PANEL_HEIGHT: f64 = 180.0;
const PANEL_GAP: f64 = 48.0;
const BOTTOM: f64 = 90.0;

const BAR_FILL: &str = "#4e79a7";
const P50_STROKE: &str = "#59a14f";
const P99_STROKE: &str = "#e15759";
const FAULT_FILL: &str = "#f28e2b";

/// Draws `chart` as a standalone SVG document titled `title`.
pub fn render(chart: &Chart, title: &str) -> String {
    let plot_w = WIDTH - LEFT - RIGHT;
    let bars_top = TOP + LABEL_ROWS as f64 * LABEL_ROW_HEIGHT + 8.0;
    let lat_top = bars_top + PANEL_HEIGHT + PANEL_GAP;
    let plot_bottom = lat_top + PANEL_HEIGHT;
    let height = plot_bottom + BOTTOM;

    let bucket_s = chart.bucket.as_secs_f64();
    let covered = bucket_s * chart.buckets.len() as f64;
    let fault_end = chart.faults.iter().map(|w| w.end.as_secs_f64()).fold(0.0, f64::max);
    let span = chart.total.as_secs_f64().max(covered).max(fault_end).max(1e-9);
    let x = |secs: f64| LEFT + (secs / span).clamp(0.0, 1.0) * plot_w;

    let max_delivered = chart.buckets.iter().map(|p| p.delivered).max().unwrap_or(0);
    let count_axis = Axis::new(max_delivered as f64);
    let latencies = || chart.buckets.iter().flat_map(|p| [p.p50, p.p99]).flatten().map(ms);
    let latency_axis = LogAxis::new(
        latencies().filter(|&v| v > 0.0).fold(f64::INFINITY, f64::min),
        latencies().fold(0.0, f64::max),
    );
    let time_axis = TimeAxis::new(span);

    let mut s = String::with_capacity(8192 + chart.buckets.len() * 200);
    let _ = writeln!(s, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0}" height="{h:.0}" viewBox="0 0 {w:.0} {h:.0}" font-family="sans-serif" font-size="12">"#,
        w = WIDTH,
        h = height
    );
    let _ = writeln!(s, "<title>{}</title>", escape(title));
    let _ = writeln!(
        s,
        r##"<rect x="0" y="0" width="{WIDTH:.0}" height="{height:.0}" fill="#ffffff"/>"##
    );
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="24" font-size="16" font-weight="bold">{}</text>"#,
        LEFT,
        escape(title)
    );

    // Fault windows first, so bars and lines are drawn over the shading.
    let mut faults: Vec<&Window> = chart.faults.iter().collect();
    faults.sort_by(|a, b| (a.start, a.end, &a.label).cmp(&(b.start, b.end, &b.label)));
    let _ = writeln!(s, r#"<g class="faults">"#);
    for (i, w) in faults.iter().enumerate() {
        let x0 = x(w.start.as_secs_f64());
        let x1 = x(w.end.as_secs_f64()).max(x0 + 1.0);
        let label_y = TOP + (i % LABEL_ROWS) as f64 * LABEL_ROW_HEIGHT + 10.0;
        let _ = writeln!(
            s,
            r#"<rect class="fault" x="{x0:.1}" y="{bars_top:.1}" width="{:.1}" height="{:.1}" fill="{FAULT_FILL}" fill-opacity="0.18" stroke="{FAULT_FILL}" stroke-opacity="0.6"><title>{} ({} to {})</title></rect>"#,
            x1 - x0,
            plot_bottom - bars_top,
            escape(&w.label),
            clock(w.start),
            clock(w.end),
        );
        let _ = writeln!(
            s,
            r#"<line x1="{x0:.1}" y1="{:.1}" x2="{x0:.1}" y2="{bars_top:.1}" stroke="{FAULT_FILL}" stroke-opacity="0.6"/>"#,
            label_y + 2.0
        );
        // Keep the label on the canvas: one that would run past the right
        // edge ends there instead (width estimated, CJK counted double).
        let text_w = w
            .label
            .chars()
            .map(|c| if c.is_ascii() { 6.2 } else { 11.0 })
            .sum::<f64>();
        let (label_x, anchor) = if x0 + 2.0 + text_w > WIDTH - 4.0 {
            (WIDTH - 4.0, "end")
        } else {
            (x0 + 2.0, "start")
        };
        let _ = writeln!(
            s,
            r##"<text class="fault-label" x="{label_x:.1}" y="{label_y:.1}" text-anchor="{anchor}" font-size="11" fill="#9c4a00">{}</text>"##,
            escape(&w.label)
        );
    }
    let _ = writeln!(s, "</g>");

    // Panel frames, grid lines and y axes.
    let count_ticks: Vec<(f64, String)> = count_axis
        .ticks()
        .map(|v| (v / count_axis.max, format!("{v:.0}")))
        .collect();
    panel(&mut s, bars_top, plot_w, &count_ticks, "delivered per bucket");
    panel(&mut s, lat_top, plot_w, &latency_axis.ticks(), "latency (log scale)");

    // Deliveries as bars.
    let bar_y = |v: f64| bars_top + PANEL_HEIGHT - v / count_axis.max * PANEL_HEIGHT;
    let _ = writeln!(s, r#"<g class="delivered" fill="{BAR_FILL}">"#);
    for (i, p) in chart.buckets.iter().enumerate() {
        if p.delivered == 0 {
            continue;
        }
        let x0 = x(i as f64 * bucket_s);
        let x1 = x((i + 1) as f64 * bucket_s);
        let w = ((x1 - x0) * 0.85).max(0.5);
        let y = bar_y(p.delivered as f64);
        let _ = writeln!(
            s,
            r#"<rect x="{x0:.1}" y="{y:.1}" width="{w:.1}" height="{:.1}"><title>{}: {} delivered</title></rect>"#,
            bars_top + PANEL_HEIGHT - y,
            clock(chart.bucket * i as u32),
            p.delivered
        );
    }
    let _ = writeln!(s, "</g>");

    // Latency as lines through bucket midpoints, broken where a bucket is empty.
    let lat_y = |v: f64| lat_top + PANEL_HEIGHT - latency_axis.fraction(v) * PANEL_HEIGHT;
    for (class, stroke, pick) in [
        ("p50", P50_STROKE, (|p: &Point| p.p50) as fn(&Point) -> Option<Duration>),
        ("p99", P99_STROKE, |p: &Point| p.p99),
    ] {
        let mut d = String::new();
        // Points in the current piece of the line; a piece of one point gets
        // a tiny stroke so that (with round caps) it shows as a dot.
        let mut piece = 0;
        for (i, p) in chart.buckets.iter().enumerate() {
            match pick(p) {
                Some(v) => {
                    let cmd = if piece > 0 { 'L' } else { 'M' };
                    let _ = write!(d, "{cmd}{:.1},{:.1} ", x((i as f64 + 0.5) * bucket_s), lat_y(ms(v)));
                    piece += 1;
                }
                None => {
                    if piece == 1 {
                        d.push_str("h0.1 ");
                    }
                    piece = 0;
                }
            }
        }
        if piece == 1 {
            d.push_str("h0.1 ");
        }
        if !d.is_empty() {
            let _ = writeln!(
                s,
                r#"<path class="{class}" d="{}" fill="none" stroke="{stroke}" stroke-width="1.5" stroke-linejoin="round" stroke-linecap="round"/>"#,
                d.trim_end()
            );
        }
    }

    // Shared x axis: ticks on both panels, labels under the lower one.
    let _ = writeln!(s, r##"<g class="x-axis" stroke="#333333">"##);
    for (secs, _) in time_axis.ticks() {
        let tx = x(secs);
        for bottom in [bars_top + PANEL_HEIGHT, plot_bottom] {
            let _ = writeln!(
                s,
                r#"<line x1="{tx:.1}" y1="{bottom:.1}" x2="{tx:.1}" y2="{:.1}"/>"#,
                bottom + 5.0
            );
        }
    }
    let _ = writeln!(s, "</g>");
    let _ = writeln!(s, r##"<g class="x-labels" text-anchor="middle" fill="#333333">"##);
    for (secs, label) in time_axis.ticks() {
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}">{label}</text>"#,
            x(secs),
            plot_bottom + 18.0
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}">simulated time ({})</text>"#,
        LEFT + plot_w / 2.0,
        plot_bottom + 38.0,
        time_axis.unit.name
    );
    let _ = writeln!(s, "</g>");

    legend(&mut s, plot_bottom + 60.0, !faults.is_empty());
    let _ = writeln!(s, "</svg>");
    s
}

/// One panel: frame, horizontal grid lines with y tick labels (at a
/// fraction of the panel's height), y-axis title.
fn panel(s: &mut String, top: f64, plot_w: f64, ticks: &[(f64, String)], title: &str) {
    let bottom = top + PANEL_HEIGHT;
    let _ = writeln!(s, r#"<g class="y-axis" font-size="11">"#);
    for (fraction, label) in ticks {
        let y = bottom - fraction * PANEL_HEIGHT;
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#dddddd"/>"##,
            LEFT + plot_w
        );
        let _ = writeln!(
            s,
            r##"<line x1="{:.1}" y1="{y:.1}" x2="{LEFT:.1}" y2="{y:.1}" stroke="#333333"/>"##,
            LEFT - 5.0
        );
        let _ = writeln!(
            s,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end" fill="#333333">{}</text>"##,
            LEFT - 8.0,
            y + 4.0,
            label
        );
    }
    let _ = writeln!(
        s,
        r##"<rect x="{LEFT:.1}" y="{top:.1}" width="{plot_w:.1}" height="{PANEL_HEIGHT:.1}" fill="none" stroke="#333333"/>"##
    );
    let cy = top + PANEL_HEIGHT / 2.0;
    let _ = writeln!(
        s,
        r##"<text x="18" y="{cy:.1}" text-anchor="middle" transform="rotate(-90 18 {cy:.1})" fill="#333333">{}</text>"##,
        escape(title)
    );
    let _ = writeln!(s, "</g>");
}

fn legend(s: &mut String, y: f64, with_faults: bool) {
    let _ = writeln!(s, r#"<g class="legend" font-size="12">"#);
    let mut lx = LEFT;
    let _ = writeln!(
        s,
        r#"<rect x="{lx:.1}" y="{:.1}" width="14" height="10" fill="{BAR_FILL}"/>"#,
        y - 9.0
    );
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{y:.1}">delivered per bucket</text>"#,
        lx + 20.0
    );
    lx += 170.0;
    for (name, stroke) in [("latency p50", P50_STROKE), ("latency p99", P99_STROKE)] {
        let _ = writeln!(
            s,
            r#"<line x1="{lx:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{stroke}" stroke-width="2"/>"#,
            y - 4.0,
            lx + 18.0,
            y - 4.0
        );
        let _ = writeln!(s, r#"<text x="{:.1}" y="{y:.1}">{name}</text>"#, lx + 24.0);
        lx += 120.0;
    }
    if with_faults {
        let _ = writeln!(
            s,
            r#"<rect x="{lx:.1}" y="{:.1}" width="14" height="10" fill="{FAULT_FILL}" fill-opacity="0.18" stroke="{FAULT_FILL}" stroke-opacity="0.6"/>"#,
            y - 9.0
        );
        let _ = writeln!(s, r#"<text x="{:.1}" y="{y:.1}">fault window</text>"#, lx + 20.0);
    }
    let _ = writeln!(s, "</g>");
}

/// A linear value axis from zero with "nice" steps (1, 2 or 5 times a power
/// of ten), about five ticks.
struct Axis {
    step: f64,
    max: f64,
}

impl Axis {
    fn new(data_max: f64) -> Axis {
        if !data_max.is_finite() || data_max <= 0.0 {
            return Axis { step: 1.0, max: 1.0 };
        }
        let raw = data_max / 5.0;
        let magnitude = 10f64.powf(raw.log10().floor());
        let step = [1.0, 2.0, 5.0, 10.0]
            .iter()
            .map(|m| m * magnitude)
            .find(|&st| st >= raw)
            .unwrap_or(10.0 * magnitude);
        let max = (data_max / step).ceil().max(1.0) * step;
        Axis { step, max }
    }

    fn ticks(&self) -> impl Iterator<Item = f64> + '_ {
        let n = (self.max / self.step).round() as u64;
        (0..=n).map(|i| i as f64 * self.step)
    }
}

/// A log10 latency axis in milliseconds. Ticks sit at round durations
/// (1 ms, 10 ms, ..., 1 s, 10 s, 1 min, 10 min, 1 h, 10 h, 1 d), with the
/// ones in between (2, 5, 30, ...) when the axis spans two major ticks or
/// fewer. The axis runs from the tick at or below the fastest latency to
/// the tick at or above the slowest.
struct LogAxis {
    lo: f64,
    hi: f64,
}

/// Candidate ticks in milliseconds; `true` marks a major one.
const LATENCY_TICKS: [(f64, bool); 29] = [
    (0.1, true),
    (0.2, false),
    (0.5, false),
    (1.0, true),
    (2.0, false),
    (5.0, false),
    (10.0, true),
    (20.0, false),
    (50.0, false),
    (100.0, true),
    (200.0, false),
    (500.0, false),
    (1e3, true),
    (2e3, false),
    (5e3, false),
    (1e4, true),
    (3e4, false),
    (6e4, true),
    (1.2e5, false),
    (3e5, false),
    (6e5, true),
    (1.8e6, false),
    (3.6e6, true),
    (7.2e6, false),
    (1.8e7, false),
    (3.6e7, true),
    (8.64e7, true),
    (8.64e8, true),
    (8.64e9, true),
];

impl LogAxis {
    fn new(min_positive: f64, max: f64) -> LogAxis {
        if !max.is_finite() || max <= 0.0 || !min_positive.is_finite() {
            return LogAxis { lo: 1.0, hi: 1e3 };
        }
        let majors = || LATENCY_TICKS.iter().filter(|t| t.1).map(|t| t.0);
        let lo = majors()
            .rev()
            .find(|&v| v <= min_positive * (1.0 + 1e-9))
            .unwrap_or(0.1);
        let hi = majors().find(|&v| v >= max * (1.0 - 1e-9) && v > lo).unwrap_or(8.64e9);
        LogAxis { lo, hi }
    }

    /// Where `ms` sits, 0 at the bottom and 1 at the top; zero and below sit at the bottom.
    fn fraction(&self, ms: f64) -> f64 {
        if ms.is_nan() || ms <= 0.0 {
            return 0.0;
        }
        ((ms.log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())).clamp(0.0, 1.0)
    }

    fn ticks(&self) -> Vec<(f64, String)> {
        let within = |v: f64| v >= self.lo * (1.0 - 1e-9) && v <= self.hi * (1.0 + 1e-9);
        let majors = LATENCY_TICKS.iter().filter(|t| t.1 && within(t.0)).count();
        LATENCY_TICKS
            .iter()
            .filter(|&&(v, major)| within(v) && (major || majors <= 3))
            .map(|&(v, _)| (self.fraction(v), format_latency(v)))
            .collect()
    }
}

struct TimeUnit {
    name: &'static str,
    secs: f64,
}

const SECONDS: TimeUnit = TimeUnit { name: "s", secs: 1.0 };
const MINUTES: TimeUnit = TimeUnit {
    name: "min",
    secs: 60.0,
};
const HOURS: TimeUnit = TimeUnit {
    name: "h",
    secs: 3600.0,
};

/// The simulated-time axis: a step from a fixed list of round durations,
/// about eight ticks, labelled in the unit of the step.
struct TimeAxis {
    step: f64,
    span: f64,
    unit: TimeUnit,
}

impl TimeAxis {
    fn new(span: f64) -> TimeAxis {
        const STEPS: [f64; 24] = [
            0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0,
            600.0, 900.0, 1800.0, 3600.0, 7200.0, 10800.0,
        ];
        let raw = span / 8.0;
        let step = STEPS
            .iter()
            .copied()
            .find(|&st| st >= raw)
            .unwrap_or_else(|| (raw / 21600.0).ceil() * 21600.0);
        let unit = if step >= 3600.0 {
            HOURS
        } else if step >= 60.0 {
            MINUTES
        } else {
            SECONDS
        };
        TimeAxis { step, span, unit }
    }

    fn ticks(&self) -> impl Iterator<Item = (f64, String)> + '_ {
        let n = (self.span / self.step + 1e-9).floor() as u64;
        (0..=n).map(move |i| {
            let secs = i as f64 * self.step;
            let v = secs / self.unit.secs;
            let label = if (v - v.round()).abs() < 1e-9 {
                format!("{v:.0}")
            } else if (v * 10.0 - (v * 10.0).round()).abs() < 1e-9 {
                format!("{v:.1}")
            } else {
                format!("{v:.3}")
            };
            (secs, label)
        })
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// A latency tick label: `0.5 ms`, `20 ms`, `1 s`, `10 min`, `1 h`, `1 d`.
fn format_latency(ms: f64) -> String {
    let (value, unit) = if ms < 1e3 {
        (ms, "ms")
    } else if ms < 6e4 {
        (ms / 1e3, "s")
    } else if ms < 3.6e6 {
        (ms / 6e4, "min")
    } else if ms < 8.64e7 {
        (ms / 3.6e6, "h")
    } else {
        (ms / 8.64e7, "d")
    };
    format!("{} {unit}", trim_number(value))
}

/// A number with no trailing zeros: `2`, `0.5`, `0.02`.
fn trim_number(v: f64) -> String {
    let text = format!("{v:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Simulated time as `h:mm:ss`, with milliseconds when there are any.
fn clock(d: Duration) -> String {
    let secs = d.as_secs();
    let millis = d.subsec_millis();
    let hms = format!("{}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
    if millis == 0 { hms } else { format!("{hms}.{millis:03}") }
}

/// Escapes text for element content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters other than tab and newline are not allowed in XML 1.0.
            c if (c as u32) < 0x20 && c != '\t' && c != '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Chart {
        let buckets = (0..48)
            .map(|i| {
                if (20..24).contains(&i) {
                    Point::default()
                } else {
                    Point {
                        delivered: 100 + (i * 37 % 50),
                        p50: Some(Duration::from_millis(20 + i % 7)),
                        p99: Some(Duration::from_millis(180 + (i * 13 % 90))),
                    }
                }
            })
            .collect();
        Chart {
            bucket: Duration::from_secs(60),
            buckets,
            faults: vec![
                Window {
                    start: Duration::from_secs(20 * 60),
                    end: Duration::from_secs(24 * 60),
                    label: "county 320102 down".into(),
                },
                Window {
                    start: Duration::from_secs(5 * 60),
                    end: Duration::from_secs(9 * 60),
                    label: "flap <a> & \"b\"".into(),
                },
            ],
            total: Duration::from_secs(48 * 60),
        }
    }

    /// Checks that every tag is closed in order, attributes are quoted, and
    /// no raw `&` or `<` appears in text. Returns the element names opened.
    fn check_balanced(svg: &str) -> Vec<String> {
        let mut stack: Vec<String> = Vec::new();
        let mut opened = Vec::new();
        let mut rest = svg;
        while let Some(lt) = rest.find('<') {
            let text = &rest[..lt];
            check_text(text);
            let gt = rest[lt..].find('>').expect("unterminated tag") + lt;
            let tag = &rest[lt + 1..gt];
            rest = &rest[gt + 1..];
            if tag.starts_with('?') {
                assert!(tag.ends_with('?'), "bad declaration {tag}");
                continue;
            }
            assert!(!tag.contains('<'), "'<' inside tag {tag}");
            if let Some(name) = tag.strip_prefix('/') {
                let open = stack.pop().unwrap_or_else(|| panic!("</{name}> closes nothing"));
                assert_eq!(open, name, "</{name}> closes <{open}>");
                continue;
            }
            let self_closing = tag.ends_with('/');
            let body = tag.trim_end_matches('/');
            let name = body.split_whitespace().next().expect("empty tag").to_string();
            assert!(
                body.matches('"').count().is_multiple_of(2),
                "unbalanced quotes in <{body}>"
            );
            opened.push(name.clone());
            if !self_closing {
                stack.push(name);
            }
        }
        check_text(rest);
        assert!(stack.is_empty(), "unclosed: {stack:?}");
        opened
    }

    fn check_text(text: &str) {
        let mut rest = text;
        while let Some(amp) = rest.find('&') {
            let semi = rest[amp..].find(';').expect("& without ;") + amp;
            let entity = &rest[amp + 1..semi];
            assert!(
                ["amp", "lt", "gt", "quot", "apos"].contains(&entity),
                "unknown entity &{entity};"
            );
            rest = &rest[semi + 1..];
        }
    }

    #[test]
    fn well_formed_with_one_shaded_rect_per_fault_window() {
        let chart = sample();
        let svg = render(&chart, "partitioned-province, seed 7");
        assert!(svg.starts_with("<?xml"), "{svg}");
        let opened = check_balanced(&svg);
        assert_eq!(opened.first().map(String::as_str), Some("svg"));
        assert_eq!(svg.matches(r#"<rect class="fault""#).count(), chart.faults.len());
        assert_eq!(svg.matches(r#"class="fault-label""#).count(), chart.faults.len());
        assert!(svg.contains(">county 320102 down</text>"), "{svg}");
        assert!(svg.contains("flap &lt;a&gt; &amp; &quot;b&quot;"), "{svg}");
        assert!(svg.contains("<title>county 320102 down (0:20:00 to 0:24:00)</title>"));
        // Window 20..24 min of a 48 min run starts at 20/48 of the plot width.
        let x0 = LEFT + 20.0 / 48.0 * (WIDTH - LEFT - RIGHT);
        assert!(svg.contains(&format!(r#"<rect class="fault" x="{x0:.1}""#)), "{svg}");
    }

    #[test]
    fn draws_bars_lines_axes_and_legend() {
        let chart = sample();
        let svg = render(&chart, "t");
        let bars = svg
            .split(r#"<g class="delivered""#)
            .nth(1)
            .unwrap()
            .split("</g>")
            .next()
            .unwrap();
        // One bar per non-empty bucket.
        assert_eq!(bars.matches("<rect").count(), 44);
        // The empty buckets 20..24 break each latency line into two pieces.
        for class in ["p50", "p99"] {
            let line = svg.split(&format!(r#"class="{class}" d=""#)).nth(1).unwrap();
            let d = line.split('"').next().unwrap();
            assert_eq!(d.matches('M').count(), 2, "{class}: {d}");
            assert_eq!(d.matches('L').count(), 42, "{class}: {d}");
        }
        // 48 minutes: ticks every 10 minutes, labelled in minutes.
        assert!(svg.contains("simulated time (min)"), "{svg}");
        for label in ["0", "10", "20", "30", "40"] {
            assert!(svg.contains(&format!(">{label}</text>")), "tick {label}");
        }
        assert!(svg.contains("latency (log scale)"));
        // Latencies 20 ms to 269 ms: decades 10 ms to 1 s, with 2x and 5x ticks.
        for label in ["10 ms", "20 ms", "50 ms", "100 ms", "200 ms", "500 ms", "1 s"] {
            assert!(svg.contains(&format!(">{label}</text>")), "latency tick {label}");
        }
        assert!(svg.contains("delivered per bucket"));
        for name in ["latency p50", "latency p99", "fault window"] {
            assert!(svg.contains(&format!(">{name}</text>")), "legend {name}");
        }
    }

    #[test]
    fn labels_stay_on_the_canvas_and_lone_points_show() {
        let mut chart = sample();
        chart.faults = vec![Window {
            start: Duration::from_secs(46 * 60),
            end: Duration::from_secs(48 * 60),
            label: "flap 320103013 320109012 320202010 and 17 more".into(),
        }];
        // One latency point alone between empty buckets.
        chart.buckets[30] = Point::default();
        chart.buckets[32] = Point::default();
        let svg = render(&chart, "t");
        check_balanced(&svg);
        assert!(
            svg.contains(r##"text-anchor="end" font-size="11" fill="#9c4a00">flap"##),
            "{svg}"
        );
        let d = svg
            .split(r#"class="p50" d=""#)
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        assert_eq!(d.matches("h0.1").count(), 1, "{d}");
    }

    #[test]
    fn same_chart_same_bytes() {
        assert_eq!(render(&sample(), "x"), render(&sample(), "x"));
    }

    #[test]
    fn empty_chart_is_still_well_formed() {
        let svg = render(&Chart::default(), "nothing <ran>");
        check_balanced(&svg);
        assert!(svg.contains("nothing &lt;ran&gt;"));
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
        assert!(!svg.contains("fault window"));
    }

    #[test]
    fn a_day_is_labelled_in_hours() {
        let chart = Chart {
            bucket: Duration::from_secs(600),
            buckets: vec![Point::default(); 144],
            faults: vec![],
            total: Duration::from_secs(86_400),
        };
        let svg = render(&chart, "day");
        check_balanced(&svg);
        assert!(svg.contains("simulated time (h)"));
        assert!(svg.contains(">24</text>") && svg.contains(">3</text>"), "{svg}");
    }

    #[test]
    fn nice_axes() {
        let a = Axis::new(173.0);
        assert_eq!((a.step, a.max), (50.0, 200.0));
        let a = Axis::new(0.0);
        assert_eq!((a.step, a.max), (1.0, 1.0));
        let a = Axis::new(7.0);
        assert_eq!((a.step, a.max), (2.0, 8.0));
        let l = LogAxis::new(0.4, 700_000.0);
        assert_eq!((l.lo, l.hi), (0.1, 3.6e6));
        let labels: Vec<String> = l.ticks().into_iter().map(|t| t.1).collect();
        assert_eq!(
            labels,
            [
                "0.1 ms", "1 ms", "10 ms", "100 ms", "1 s", "10 s", "1 min", "10 min", "1 h"
            ]
        );
        assert_eq!(l.ticks()[0].0, 0.0);
        assert_eq!(l.ticks()[8].0, 1.0);
        assert_eq!(l.fraction(0.0), 0.0);
        let l = LogAxis::new(10.0, 100.0);
        assert_eq!((l.lo, l.hi), (10.0, 100.0));
        assert_eq!(l.ticks().len(), 4, "10, 20, 50, 100 ms");
        assert_eq!(format_latency(1.8e7), "5 h");
        assert_eq!(format_latency(3e4), "30 s");
        assert_eq!(format_latency(0.5), "0.5 ms");
        assert_eq!(TimeAxis::new(90.0).step, 15.0);
        assert_eq!(TimeAxis::new(3600.0).step, 600.0);
    }
}
