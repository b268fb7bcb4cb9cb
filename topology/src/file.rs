//! Reading and writing the topology file (format in the crate doc).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::duration;
use crate::error::{LineIndex, Problem, ProblemKind};
use crate::policy::{Deadlines, IndexWeights, LinkClass, LinkSettings, Policy, Reach, SummarySettings};
use crate::tree::{DocumentHeader, FileSpans, NodeInfo, NodeSpans, assemble};
use crate::{Kind, Level, LoadError, NodeId, Severity, Topology};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    /// Present in a federation document: its version and when it was
    /// published.
    document: Option<RawDocument>,
    /// A federation document's revocation list: read by the certs crate
    /// from the same text, ignored here.
    #[serde(default, rename = "revoked")]
    _revoked: Vec<serde::de::IgnoredAny>,
    federation: Option<RawFederation>,
    #[serde(default)]
    policy: RawPolicy,
    #[serde(default)]
    link: RawLink,
    #[serde(default, rename = "node")]
    nodes: Vec<RawNode>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDocument {
    version: Spanned<u64>,
    published: Option<String>,
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFederation {
    name: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    #[serde(default)]
    reach: BTreeMap<Severity, Spanned<String>>,
    #[serde(default)]
    deadlines: BTreeMap<Severity, RawDeadlines>,
    alert_path: Option<Vec<Severity>>,
    room_auto_open: Option<Vec<Severity>>,
    index: Option<Spanned<RawIndex>>,
    summary: Option<RawSummary>,
}

/// `[policy.summary]`: when centers send their figures up.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSummary {
    periods: Option<Spanned<Vec<String>>>,
    grace: Option<Spanned<String>>,
}

/// `[policy.index]`: the safety index's weights; what is absent keeps
/// its default.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIndex {
    on_time: Option<u32>,
    resolved: Option<u32>,
    signed_for: Option<u32>,
    #[serde(default)]
    per_incident: BTreeMap<Severity, u32>,
    per_supervised: Option<u32>,
    per_centers: Option<u32>,
    alarm_below: Option<Spanned<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDeadlines {
    accept: Option<Spanned<String>>,
    sign_for: Option<Spanned<String>>,
    finish: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLink {
    heartbeat: Option<Spanned<String>>,
    failover_after: Option<Spanned<String>>,
    province: Option<RawLinkClass>,
    city: Option<RawLinkClass>,
    county: Option<RawLinkClass>,
    township: Option<RawLinkClass>,
    village: Option<RawLinkClass>,
    grid: Option<RawLinkClass>,
}

/// `[link.village]`: what that level's links to their parents are.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLinkClass {
    rate_kbps: Option<Spanned<u32>>,
    urgent_copies: Option<Spanned<u8>>,
    window: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNode {
    id: Spanned<String>,
    name: String,
    level: Spanned<Level>,
    #[serde(default)]
    kind: Kind,
    parent: Option<Spanned<String>>,
    listen: Spanned<String>,
}

impl Topology {
    /// Reads and validates a topology file. Every problem found is
    /// returned, each naming the file, line and column.
    pub fn load(path: &Path) -> Result<Topology, LoadError> {
        let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
            path: path.to_owned(),
            source,
        })?;
        Topology::parse(&text, Some(path.to_owned()))
    }

    /// Parses and validates topology text; `file` is only used in messages.
    pub fn parse(text: &str, file: Option<PathBuf>) -> Result<Topology, LoadError> {
        let lines = LineIndex::new(text, file.map(Arc::new));
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let at = e.span().map(|s| lines.locate(s.start));
            LoadError::Invalid(vec![Problem {
                at,
                kind: ProblemKind::Syntax(e.message().trim().to_owned()),
            }])
        })?;
        let mut problems = Vec::new();
        let mut report = |span: std::ops::Range<usize>, kind: ProblemKind| {
            problems.push(Problem {
                at: Some(lines.locate(span.start)),
                kind,
            })
        };

        let policy = read_policy(&raw.policy, &mut report);
        let link = read_link(&raw.link, &mut report);
        let document = raw.document.map(|d| {
            if *d.version.get_ref() == 0 {
                report(d.version.span(), ProblemKind::ZeroVersion);
            }
            DocumentHeader {
                version: d.version.into_inner(),
                published: d.published,
                note: d.note,
            }
        });

        let mut nodes = Vec::with_capacity(raw.nodes.len());
        let mut spans = Vec::with_capacity(raw.nodes.len());
        for r in raw.nodes {
            let id = match NodeId::parse(r.id.get_ref()) {
                Ok(id) => id,
                Err(e) => {
                    report(r.id.span(), e.into());
                    continue;
                }
            };
            let parent = match r.parent.as_ref().map(|p| NodeId::parse(p.get_ref())) {
                None => None,
                Some(Ok(p)) => Some(p),
                Some(Err(e)) => {
                    report(r.parent.as_ref().map_or(0..0, |p| p.span()), e.into());
                    continue;
                }
            };
            let listen = match r.listen.get_ref().parse() {
                Ok(addr) => addr,
                Err(_) => {
                    report(
                        r.listen.span(),
                        ProblemKind::BadAddress {
                            id,
                            addr: r.listen.into_inner(),
                        },
                    );
                    continue;
                }
            };
            spans.push(NodeSpans {
                id: lines.locate(r.id.span().start),
                level: lines.locate(r.level.span().start),
                parent: r.parent.as_ref().map(|p| lines.locate(p.span().start)),
                listen: lines.locate(r.listen.span().start),
            });
            nodes.push(NodeInfo {
                id,
                name: r.name,
                level: r.level.into_inner(),
                kind: r.kind,
                parent,
                listen,
            });
        }
        let name = raw
            .federation
            .map(|f| f.name)
            .unwrap_or_else(|| "Liandong federation".to_owned());
        let reach = raw
            .policy
            .reach
            .iter()
            .map(|(&s, text)| (s, lines.locate(text.span().start)))
            .collect();
        let spans = FileSpans { nodes: spans, reach };
        let mut topology = assemble(name, nodes, Some(spans), policy, link, problems)?;
        topology.document = document;
        Ok(topology)
    }

    /// Writes the topology in the file format, with a header that explains
    /// it. Loading the result gives an equal topology.
    pub fn to_toml(&self) -> String {
        let mut out = String::with_capacity(self.len() * 120 + 2048);
        let _ = writeln!(out, "# Liandong topology: {} ({}).", self.name(), self.summary());
        out.push_str(HEADER);
        if let Some(d) = self.document() {
            let _ = writeln!(out, "\n[document]\nversion = {}", d.version);
            if let Some(p) = &d.published {
                let _ = writeln!(out, "published = {}", quote(p));
            }
            if let Some(n) = &d.note {
                let _ = writeln!(out, "note = {}", quote(n));
            }
        }
        let _ = writeln!(out, "\n[federation]\nname = {}", quote(self.name()));

        let policy = self.policy();
        out.push_str(
            "\n[policy]\n# Which level each severity must reach; \"top\" is the root of this tree.\nreach = { ",
        );
        let reach: Vec<String> = Severity::ALL
            .iter()
            .map(|&s| format!("{s} = \"{}\"", policy.reach(s)))
            .collect();
        out.push_str(&reach.join(", "));
        out.push_str(" }\n# Severities that also alert every center on the way at once.\n");
        let alert: Vec<String> = policy.alert_path().iter().map(|s| format!("\"{s}\"")).collect();
        let _ = writeln!(out, "alert_path = [{}]", alert.join(", "));
        out.push_str("# Severities whose owner opens a coordination room at once (others: a leader opens it).\n");
        let rooms: Vec<String> = policy.room_auto_open().iter().map(|s| format!("\"{s}\"")).collect();
        let _ = writeln!(out, "room_auto_open = [{}]", rooms.join(", "));
        let index = policy.index();
        if index != IndexWeights::default() {
            let per: Vec<String> = Severity::ALL
                .iter()
                .map(|&s| format!("{s} = {}", index.per_incident[s.rank()]))
                .collect();
            let _ = writeln!(
                out,
                "\n[policy.index]\n# The safety index (平安指数): weights of the rates, points off per owned incident and\n# per supervised item, and the index under which a child alarms its parent.\non_time = {}\nresolved = {}\nsigned_for = {}\nper_incident = {{ {} }}\nper_supervised = {}\nper_centers = {}\nalarm_below = {}",
                index.on_time,
                index.resolved,
                index.signed_for,
                per.join(", "),
                index.per_supervised,
                index.per_centers,
                index.alarm_below
            );
        }
        let summary = policy.summary();
        if summary != SummarySettings::default() {
            let periods: Vec<&str> = [(summary.day, "\"day\""), (summary.month, "\"month\"")]
                .into_iter()
                .filter_map(|(on, name)| on.then_some(name))
                .collect();
            let _ = writeln!(
                out,
                "\n[policy.summary]\n# Which periods' ends send a center's figures to its parent, and the wait after\n# a period's end per level below the sender.\nperiods = [{}]\ngrace = \"{}\"",
                periods.join(", "),
                crate::duration::format(summary.grace)
            );
        }
        out.push_str("\n[policy.deadlines]\n# accept: report at its owner -> accepted; sign_for: order delivered -> signed for;\n# finish: accepted or signed for -> done.\n");
        for s in Severity::ALL {
            let d = policy.deadlines(s);
            let _ = writeln!(
                out,
                "{s} = {{ accept = \"{}\", sign_for = \"{}\", finish = \"{}\" }}",
                duration::format(d.accept),
                duration::format(d.sign_for),
                duration::format(d.finish)
            );
        }
        let link = self.link();
        let _ = writeln!(
            out,
            "\n[link]\nheartbeat = \"{}\"\nfailover_after = \"{}\"",
            duration::format(link.heartbeat),
            duration::format(link.failover_after)
        );
        for level in Level::ALL {
            let class = link.class(level);
            if class == LinkClass::default() {
                continue;
            }
            let _ = writeln!(out, "\n[link.{}]", level.name());
            if let Some(rate) = class.rate {
                let _ = writeln!(out, "rate_kbps = {}", rate / 125);
            }
            if class.urgent_copies > 0 {
                let _ = writeln!(out, "urgent_copies = {}", class.urgent_copies);
            }
            if class.window != LinkClass::default().window {
                let _ = writeln!(out, "window = \"{}\"", duration::format(class.window));
            }
        }
        for n in self.nodes() {
            let _ = write!(
                out,
                "\n[[node]]\nid = \"{}\"\nname = {}\nlevel = \"{}\"\n",
                n.id,
                quote(&n.name),
                n.level
            );
            if n.kind != Kind::Center {
                let _ = writeln!(out, "kind = \"{}\"", n.kind);
            }
            if let Some(p) = &n.parent {
                let _ = writeln!(out, "parent = \"{p}\"");
            }
            let _ = writeln!(out, "listen = \"{}\"", n.listen);
        }
        out
    }
}

const HEADER: &str = "\
# Format: [federation] name; [policy] reach, alert_path, room_auto_open and deadlines per
# severity (Routine, IV, III, II, I), [policy.index] the safety index's weights and
# [policy.summary] when figures go up;
# [link] heartbeat and failover_after;
# then one [[node]] per center or member unit with id (division code, or
# code-unit for a member unit), name, level (province, city, county,
# township, village, grid), kind (center, the default, or member-unit),
# parent (absent only for the root) and listen (IP:PORT).
# The full reference is the liandong-topology crate doc. Check a file
# with `liandong topology check FILE`.
";

fn quote(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

fn read_duration(
    raw: &Option<Spanned<String>>,
    what: &str,
    default: Duration,
    report: &mut impl FnMut(std::ops::Range<usize>, ProblemKind),
) -> Duration {
    let Some(raw) = raw else { return default };
    duration::parse(raw.get_ref()).unwrap_or_else(|why| {
        report(
            raw.span(),
            ProblemKind::BadDuration {
                what: what.to_owned(),
                text: raw.get_ref().clone(),
                why,
            },
        );
        default
    })
}

fn read_policy(raw: &RawPolicy, report: &mut impl FnMut(std::ops::Range<usize>, ProblemKind)) -> Policy {
    let mut policy = Policy::default();
    for (&severity, text) in &raw.reach {
        match Reach::parse(text.get_ref()) {
            Some(reach) => policy.set_reach(severity, reach),
            None => report(
                text.span(),
                ProblemKind::BadReach {
                    severity,
                    text: text.get_ref().clone(),
                },
            ),
        }
    }
    for (&severity, d) in &raw.deadlines {
        let base = policy.deadlines(severity);
        let deadlines = Deadlines {
            accept: read_duration(
                &d.accept,
                &format!("policy.deadlines.{severity}.accept"),
                base.accept,
                report,
            ),
            sign_for: read_duration(
                &d.sign_for,
                &format!("policy.deadlines.{severity}.sign_for"),
                base.sign_for,
                report,
            ),
            finish: read_duration(
                &d.finish,
                &format!("policy.deadlines.{severity}.finish"),
                base.finish,
                report,
            ),
        };
        policy.set_deadlines(severity, deadlines);
    }
    if let Some(alert) = &raw.alert_path {
        policy.set_alert_path(alert.clone());
    }
    if let Some(rooms) = &raw.room_auto_open {
        policy.set_room_auto_open(rooms.clone());
    }
    if let Some(spanned) = &raw.index {
        let (raw, span) = (spanned.get_ref(), spanned.span());
        let mut w = policy.index();
        w.on_time = raw.on_time.unwrap_or(w.on_time);
        w.resolved = raw.resolved.unwrap_or(w.resolved);
        w.signed_for = raw.signed_for.unwrap_or(w.signed_for);
        for (severity, points) in &raw.per_incident {
            w.per_incident[severity.rank()] = *points;
        }
        w.per_supervised = raw.per_supervised.unwrap_or(w.per_supervised);
        w.per_centers = raw.per_centers.unwrap_or(w.per_centers);
        if let Some(below) = &raw.alarm_below {
            if *below.get_ref() > 100 {
                report(
                    below.span(),
                    ProblemKind::BadIndex(format!(
                        "policy.index.alarm_below is {}; the index runs from 0 to 100",
                        below.get_ref()
                    )),
                );
            } else {
                w.alarm_below = *below.get_ref();
            }
        }
        if w.on_time + w.resolved + w.signed_for == 0 {
            report(
                span,
                ProblemKind::BadIndex(
                    "policy.index gives the rates no weight: on_time, resolved and signed_for are all 0".into(),
                ),
            );
        }
        policy.set_index(w);
    }
    if let Some(raw) = &raw.summary {
        policy.set_summary(summary_settings(raw, policy.summary(), report));
    }
    policy
}

/// `[policy.summary]` over the defaults; what is wrong is reported.
fn summary_settings(
    raw: &RawSummary,
    mut s: SummarySettings,
    report: &mut impl FnMut(std::ops::Range<usize>, ProblemKind),
) -> SummarySettings {
    if let Some(periods) = &raw.periods {
        s.day = false;
        s.month = false;
        for p in periods.get_ref() {
            match p.as_str() {
                "day" => s.day = true,
                "month" => s.month = true,
                other => report(
                    periods.span(),
                    ProblemKind::BadSummary(format!(
                        "policy.summary.periods names {other:?}; the periods are \"day\" and \"month\""
                    )),
                ),
            }
        }
    }
    if let Some(grace) = &raw.grace {
        match crate::duration::parse(grace.get_ref()) {
            Ok(d) if d <= std::time::Duration::from_secs(6 * 3600) => s.grace = d,
            Ok(_) => report(
                grace.span(),
                ProblemKind::BadSummary(format!(
                    "policy.summary.grace is {:?}; at most 6h, as a city waits it once per level",
                    grace.get_ref()
                )),
            ),
            Err(why) => report(
                grace.span(),
                ProblemKind::BadDuration {
                    what: "policy.summary.grace".into(),
                    text: grace.get_ref().clone(),
                    why,
                },
            ),
        }
    }
    s
}

fn read_link_class(
    level: Level,
    raw: &RawLinkClass,
    report: &mut impl FnMut(std::ops::Range<usize>, ProblemKind),
) -> LinkClass {
    let mut class = LinkClass::default();
    let what = format!("link.{}.window", level.name());
    class.window = read_duration(&raw.window, &what, class.window, report);
    if let Some(kbps) = &raw.rate_kbps {
        if *kbps.get_ref() < LinkClass::MIN_KBPS {
            report(
                kbps.span(),
                ProblemKind::BadLinkClass {
                    what: format!("link.{}.rate_kbps", level.name()),
                    why: format!("{} is below {} kbit/s", kbps.get_ref(), LinkClass::MIN_KBPS),
                },
            );
        } else {
            class.rate = Some(kbps.get_ref().saturating_mul(125));
        }
    }
    if let Some(copies) = &raw.urgent_copies {
        if *copies.get_ref() > LinkClass::MAX_COPIES {
            report(
                copies.span(),
                ProblemKind::BadLinkClass {
                    what: format!("link.{}.urgent_copies", level.name()),
                    why: format!("{} is more than {}", copies.get_ref(), LinkClass::MAX_COPIES),
                },
            );
        } else {
            class.urgent_copies = *copies.get_ref();
        }
    }
    class
}

fn read_link(raw: &RawLink, report: &mut impl FnMut(std::ops::Range<usize>, ProblemKind)) -> LinkSettings {
    let base = LinkSettings::default();
    let mut link = LinkSettings {
        heartbeat: read_duration(&raw.heartbeat, "link.heartbeat", base.heartbeat, report),
        failover_after: read_duration(&raw.failover_after, "link.failover_after", base.failover_after, report),
        ..base
    };
    let classes = [
        (Level::Province, &raw.province),
        (Level::City, &raw.city),
        (Level::County, &raw.county),
        (Level::Township, &raw.township),
        (Level::Village, &raw.village),
        (Level::Grid, &raw.grid),
    ];
    for (level, class) in classes {
        if let Some(class) = class {
            link.set_class(level, read_link_class(level, class, report));
        }
    }
    if link.failover_after < link.heartbeat * 2 {
        let at = raw
            .failover_after
            .as_ref()
            .or(raw.heartbeat.as_ref())
            .map_or(0..0, |s| s.span());
        report(
            at,
            ProblemKind::FailoverTooShort {
                heartbeat: duration::format(link.heartbeat),
                failover: duration::format(link.failover_after),
            },
        );
    }
    link
}

#[cfg(test)]
mod document_tests {
    use super::*;

    const CHAIN: &str = r#"
[policy]
reach = { Routine = "county", IV = "county", III = "city", II = "top", I = "top" }

[[node]]
id = "350100"
name = "福州市"
level = "city"
listen = "127.0.0.1:7100"

[[node]]
id = "350102"
name = "鼓楼区"
level = "county"
parent = "350100"
listen = "127.0.0.1:7101"
"#;

    #[test]
    fn a_document_header_and_revocations_are_read_and_written_back() {
        let text = format!(
            "[document]\nversion = 3\npublished = \"2026-12-05T10:00:00Z\"\nnote = \"鼓楼区 moved\"\n{CHAIN}\n\
             [[revoked]]\nserial = \"01:02\"\nreason = \"key-compromise\"\n"
        );
        let t = Topology::parse(&text, None).unwrap();
        let d = t.document().expect("a document header");
        assert_eq!(d.version, 3);
        assert_eq!(d.published.as_deref(), Some("2026-12-05T10:00:00Z"));
        let again = Topology::parse(&t.to_toml(), None).unwrap();
        assert_eq!(again.document(), t.document());
        assert!(Topology::parse(CHAIN, None).unwrap().document().is_none());
    }

    #[test]
    fn a_document_of_version_zero_or_with_a_typo_is_refused_with_its_line() {
        let zero = format!("[document]\nversion = 0\n{CHAIN}");
        let e = Topology::parse(&zero, None).unwrap_err().to_string();
        assert!(
            e.contains("line 2, column 11: a document's version must be at least 1"),
            "{e}"
        );
        let typo = format!("[document]\nversoin = 2\n{CHAIN}");
        let e = Topology::parse(&typo, None).unwrap_err().to_string();
        assert!(e.contains("versoin"), "{e}");
    }
}
