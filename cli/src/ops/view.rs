//! What the operator commands print: aligned tables and label/value
//! blocks whose columns are measured in display width (a CJK character
//! takes two columns), one-line renderings of pushed notices, times in the
//! machine's time zone, and JSON with ids as 32 hex digits.

use anyhow::Context as _;
use liandong_control::text::{countdown_words, human_coarse, pad, truncate};
use liandong_control::{CertificateStatus, GatewayStatus, NodeStatus, Notice, OrderView, Pushed};
use liandong_dispatch::store::{Incident, IncidentState};
use liandong_dispatch::wire::{EnvelopeId, Item, Mode, Stage, TargetState, Targets, Timestamp};
use liandong_topology::NodeId;
use serde::Serialize;
use time::{OffsetDateTime, UtcOffset};
use unicode_width::UnicodeWidthStr;

use super::category_name;

/// An id in full: 32 hex digits.
pub(crate) fn full(id: EnvelopeId) -> String {
    format!("{:032x}", id.0)
}

/// The machine's time zone, read once at start.
#[derive(Clone, Copy)]
pub(crate) struct Clock {
    offset: UtcOffset,
}

impl Clock {
    /// Reads the machine's time zone. Only sound while the process has one
    /// thread, so call it before starting the runtime; UTC if unknown.
    pub(crate) fn local_zone() -> Clock {
        Clock {
            offset: UtcOffset::current_local_offset().unwrap_or(UtcOffset::UTC),
        }
    }

    /// The time zone's offset from UTC.
    pub(crate) fn offset(self) -> UtcOffset {
        self.offset
    }

    /// `t` in this time zone.
    pub(crate) fn local(self, t: Timestamp) -> OffsetDateTime {
        let nanos = i128::from(t.0) * 1_000_000;
        OffsetDateTime::from_unix_timestamp_nanos(nanos)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
            .to_offset(self.offset)
    }

    /// `14:03:27`.
    pub(crate) fn time(self, t: Timestamp) -> String {
        let t = self.local(t);
        format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second())
    }

    /// `2026-11-22 14:03:27`.
    pub(crate) fn date_time(self, t: Timestamp) -> String {
        let t = self.local(t);
        format!(
            "{}-{:02}-{:02} {:02}:{:02}:{:02}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    }
}

/// How long ago `then` was, coarse: `45s`, `12m`, `3h05m`.
pub(crate) fn age(now: Timestamp, then: Timestamp) -> String {
    human_coarse(now.since(then))
}

pub(super) fn stage_name(stage: Stage) -> &'static str {
    match stage {
        Stage::Accept => "accept",
        Stage::SignFor => "sign-for",
        Stage::Finish => "finish",
    }
}

pub(super) fn target_state(state: &TargetState) -> String {
    match state {
        TargetState::Pending | TargetState::Delivered => state.name().to_owned(),
        TargetState::SignedFor { by } => format!("signed for by {by}"),
        TargetState::InProgress { note } => format!("in progress: {note}"),
        TargetState::Done { note } => format!("done: {note}"),
        TargetState::Refused { reason } => format!("refused: {reason}"),
    }
}

pub(super) fn describe_targets(targets: &Targets) -> String {
    match targets {
        Targets::Node(node) => node.to_string(),
        Targets::List(list) if list.len() <= 3 => list.iter().map(NodeId::as_str).collect::<Vec<_>>().join(","),
        Targets::List(list) => format!("{} nodes", list.len()),
        Targets::Subtree { root, level: None } => format!("all under {root}"),
        Targets::Subtree {
            root,
            level: Some(level),
        } => format!("every {level} under {root}"),
    }
}

pub(super) fn title_of(incident: &Incident) -> String {
    match incident.mode {
        Mode::Exercise => format!("[exercise] {}", incident.report.title),
        Mode::Actual => incident.report.title.clone(),
    }
}

pub(super) fn state_of(incident: &Incident) -> String {
    match &incident.supervisor {
        Some(supervisor) => format!("{} (督办 {supervisor})", incident.state.name()),
        None => incident.state.name().to_owned(),
    }
}

pub(super) fn incident_deadline(incident: &Incident, now: Timestamp) -> String {
    match (incident.state, incident.finish_by) {
        (IncidentState::Reported, _) => format!("accept {}", countdown_words(now, incident.accept_by)),
        (IncidentState::Accepted | IncidentState::Dispatched, Some(finish_by)) => {
            format!("finish {}", countdown_words(now, finish_by))
        }
        _ => String::new(),
    }
}

pub(super) fn incident_table(list: &[Incident], now: Timestamp) -> String {
    let mut table = Table::new([
        "ID", "SEV", "CATEGORY", "STATE", "OWNER", "FROM", "AGE", "DEADLINE", "TITLE",
    ]);
    for incident in list {
        table.row([
            incident.id.to_string(),
            incident.report.severity.to_string(),
            category_name(incident.report.category).to_owned(),
            state_of(incident),
            incident.owner.to_string(),
            incident.origin.to_string(),
            age(now, incident.reported),
            incident_deadline(incident, now),
            truncate(&title_of(incident), 40),
        ]);
    }
    table.render()
}

pub(super) fn incident_detail(incident: &Incident, now: Timestamp, clock: Clock) -> String {
    let report = &incident.report;
    let mut fields = Fields::default();
    fields.add("incident", format!("{} ({})", incident.id, full(incident.id)));
    fields.add("title", title_of(incident));
    fields.add(
        "severity",
        format!("{} {}", report.severity, category_name(report.category)),
    );
    fields.add("state", state_of(incident));
    fields.add("owner", incident.owner.to_string());
    fields.add(
        "reported",
        format!(
            "{} at {} by {} ({} ago)",
            clock.date_time(incident.reported),
            incident.origin,
            report.reporter,
            age(now, incident.reported)
        ),
    );
    if !report.place.is_empty() {
        fields.add("place", report.place.clone());
    }
    if !report.detail.is_empty() {
        fields.add("detail", report.detail.clone());
    }
    if let Some(by) = &incident.accepted_by {
        fields.add("accepted by", by.clone());
    }
    let deadline = incident_deadline(incident, now);
    if !deadline.is_empty() {
        fields.add("deadline", deadline);
    }
    if !incident.orders.is_empty() {
        let ids: Vec<String> = incident.orders.iter().map(ToString::to_string).collect();
        fields.add("orders", ids.join(", "));
    }
    let mut out = fields.render();
    if !incident.timeline.is_empty() {
        out.push('\n');
        let mut table = Table::new(["TIME", "NODE", "WHAT"]);
        for entry in &incident.timeline {
            table.row([clock.date_time(entry.at), entry.node.to_string(), entry.what.clone()]);
        }
        out.push_str(&table.render());
    }
    out
}

pub(super) fn order_table(list: &[OrderView], now: Timestamp) -> String {
    let mut table = Table::new(["ID", "SEV", "ISSUER", "TARGETS", "PROGRESS", "FINISH", "INSTRUCTION"]);
    for view in list {
        let record = &view.order;
        let instruction = match record.mode {
            Mode::Exercise => format!("[exercise] {}", record.order.instruction),
            Mode::Actual => record.order.instruction.clone(),
        };
        table.row([
            record.id.to_string(),
            record.order.severity.to_string(),
            record.issuer.to_string(),
            describe_targets(&record.order.targets),
            view.roll_up.to_string(),
            countdown_words(now, record.finish_by),
            truncate(&instruction, 40),
        ]);
    }
    table.render()
}

pub(super) fn order_detail(view: &OrderView, now: Timestamp, clock: Clock) -> String {
    let record = &view.order;
    let mut fields = Fields::default();
    fields.add("order", format!("{} ({})", record.id, full(record.id)));
    fields.add("instruction", record.order.instruction.clone());
    if record.mode == Mode::Exercise {
        fields.add("mode", "exercise (演练)".into());
    }
    fields.add("severity", record.order.severity.to_string());
    fields.add(
        "issued",
        format!(
            "{} by {} at {}",
            clock.date_time(record.issued),
            record.order.by,
            record.issuer
        ),
    );
    if let Some(incident) = record.order.incident {
        fields.add("incident", incident.to_string());
    }
    fields.add("targets", describe_targets(&record.order.targets));
    fields.add(
        "sign for by",
        format!(
            "{} ({})",
            clock.date_time(record.sign_for_by),
            countdown_words(now, record.sign_for_by)
        ),
    );
    fields.add(
        "finish by",
        format!(
            "{} ({})",
            clock.date_time(record.finish_by),
            countdown_words(now, record.finish_by)
        ),
    );
    fields.add("progress", view.roll_up.to_string());
    let mut out = fields.render();
    if !view.targets.is_empty() {
        out.push('\n');
        let mut table = Table::new(["TARGET", "STATE", "SINCE", "OVERDUE"]);
        for (target, status) in &view.targets {
            table.row([
                target.to_string(),
                target_state(&status.state),
                clock.date_time(status.at),
                status.overdue.map(stage_name).unwrap_or_default().to_owned(),
            ]);
        }
        out.push_str(&table.render());
    }
    out
}

pub(super) fn status_text(status: &NodeStatus, clock: Clock) -> String {
    let mut fields = Fields::default();
    fields.add("node", format!("{} {} ({})", status.node, status.name, status.level));
    let parent = match (&status.parent, status.failed_over) {
        (None, _) => "none (top of the federation)".to_owned(),
        (Some(parent), false) => parent.to_string(),
        (Some(parent), true) => format!("{parent} UNREACHABLE: routing through an ancestor (越级)"),
    };
    fields.add("parent", parent);
    fields.add(
        "storage",
        match &status.storage_problem {
            None => "ok".to_owned(),
            Some(problem) => format!("FAILING: {problem} (new work is refused)"),
        },
    );
    fields.add(
        "open",
        format!("{} incidents, {} orders", status.incidents_open, status.orders_open),
    );
    fields.add(
        "running",
        format!(
            "since {} ({})",
            clock.date_time(status.started),
            human_coarse(status.now.since(status.started))
        ),
    );
    fields.add("certificate", certificate_line(status.certificate.as_ref(), clock));
    let mut out = fields.render();
    if let Some(warning) = status.certificate.as_ref().and_then(certificate_warning) {
        out.push_str(&warning);
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&links_text(status));
    out.push_str(&gateway_text(&status.gateway));
    out
}

/// The links table, or "no links".
fn links_text(status: &NodeStatus) -> String {
    if status.links.is_empty() {
        return "no links\n".to_owned();
    }
    let mut out = String::new();
    let mut table = Table::new(["PEER", "NAME", "RELATION", "LINK", "LAST HEARD", "RTT", "QUEUED"]);
    for link in &status.links {
        table.row([
            link.peer.to_string(),
            link.name.clone(),
            link.relation.clone(),
            if link.up { "up" } else { "DOWN" }.to_owned(),
            if link.last_heard.0 == 0 {
                "never".to_owned()
            } else {
                format!("{} ago", human_coarse(status.now.since(link.last_heard)))
            },
            link.rtt_ms.map(|ms| format!("{ms} ms")).unwrap_or_default(),
            link.queued.to_string(),
        ]);
    }
    out.push_str(&table.render());
    out
}

/// The gateway's tokens and webhook subscriptions (nothing when it has
/// neither).
fn gateway_text(gateway: &GatewayStatus) -> String {
    let mut out = String::new();
    if !gateway.tokens.is_empty() {
        out.push_str("\ngateway tokens (网关令牌)\n");
        let mut table = Table::new(["TOKEN", "SYSTEM", "SCOPES", "STATE"]);
        for t in &gateway.tokens {
            table.row([
                t.id.clone(),
                t.name.clone(),
                t.scopes.join(","),
                if t.revoked { "revoked" } else { "active" }.to_owned(),
            ]);
        }
        out.push_str(&table.render());
    }
    if !gateway.webhooks.is_empty() {
        out.push_str("\nwebhooks (事件推送)\n");
        let mut table = Table::new(["WEBHOOK", "SYSTEM", "URL", "PENDING", "DELIVERED", "DEAD-LETTERED"]);
        for w in &gateway.webhooks {
            table.row([
                w.id.clone(),
                w.name.clone(),
                w.url.clone(),
                w.pending.to_string(),
                w.delivered.to_string(),
                w.dead_lettered.to_string(),
            ]);
        }
        out.push_str(&table.render());
        for w in gateway.webhooks.iter().filter(|w| w.pending + w.dead_lettered > 0) {
            if let Some(error) = &w.last_error {
                out.push_str(&format!("webhook {} last failed: {error}\n", w.id));
            }
        }
    }
    out
}

/// `serial 3a:..  expires 2028-12-05 (729 days)`.
fn certificate_line(certificate: Option<&CertificateStatus>, clock: Clock) -> String {
    let Some(c) = certificate else {
        return "unknown (the node could not read it)".to_owned();
    };
    let t = clock.local(c.not_after);
    let date = format!("{}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day());
    let left = match c.days_left {
        d if d < 0 => "EXPIRED".to_owned(),
        1 => "1 day".to_owned(),
        d => format!("{d} days"),
    };
    format!("serial {}  expires {date} ({left})", c.serial)
}

/// The line under the status once the certificate is due for renewal
/// (within [`RENEW_WITHIN_DAYS`](liandong_control::RENEW_WITHIN_DAYS) days of expiry, or expired).
fn certificate_warning(c: &CertificateStatus) -> Option<String> {
    let renew = "renew it (liandong certs request --renew, certs sign, certs renew, reload)";
    match c.days_left {
        _ if !c.renew_due() => None,
        d if d < 0 => Some(format!(
            "WARNING: the certificate has expired: peers refuse it; {renew}"
        )),
        0 => Some(format!("WARNING: the certificate expires today: {renew}")),
        1 => Some(format!("WARNING: the certificate expires in 1 day: {renew}")),
        d => Some(format!("WARNING: the certificate expires in {d} days: {renew}")),
    }
}

/// One line of `liandong watch`.
pub(super) fn pushed_line(pushed: &Pushed, clock: Clock) -> String {
    let text = match &pushed.notice {
        Notice::IncidentRecorded { incident, alert } => format!(
            "{}incident {} {} {} \"{}\" from {}, owner {}",
            if *alert { "ALERT " } else { "" },
            incident.id,
            incident.report.severity,
            category_name(incident.report.category),
            title_of(incident),
            incident.origin,
            incident.owner
        ),
        Notice::IncidentChanged { incident, action, by } => format!(
            "incident {} {action} by {by}: {}, owner {}",
            incident.id,
            state_of(incident),
            incident.owner
        ),
        Notice::OrderReceived { order } => format!(
            "order {} for this node from {}: {} \"{}\"",
            order.order.id, order.order.issuer, order.order.order.severity, order.order.order.instruction
        ),
        Notice::OrderProgress {
            order,
            target,
            state,
            roll_up,
        } => format!("order {order}: {target} {} ({roll_up})", target_state(state)),
        Notice::Forwarded { id, to } => format!("{id} stored at {to}"),
        Notice::Supervised {
            item,
            stage,
            supervisor,
        } => {
            let item = match item {
                Item::Incident(id) => format!("incident {id}"),
                Item::OrderTarget { order, target } => format!("order {order} at {target}"),
            };
            format!(
                "OVERDUE {item} ({}): supervised by {supervisor} (督办)",
                stage_name(*stage)
            )
        }
        Notice::DeadLettered { id, stuck_at } => format!("EXPIRED {id} undelivered at {stuck_at}"),
        Notice::LinkChanged { peer, up } => format!("link to {peer} {}", if *up { "up" } else { "DOWN" }),
        Notice::FailedOver { parent, via } => {
            format!("parent {parent} unreachable: routing through {via} (越级)")
        }
        Notice::Refused { peer, reason } => format!("refused something from {peer}: {reason}"),
        Notice::DocumentApplied { version } => format!("federation document version {version} applied"),
        Notice::RoomChanged { room, entry } => format!("room {} \"{}\" {}", room.id, room.title, entry.summary()),
        Notice::RoomRefused { room, ask, reason } => format!("room {room}: ask {ask} REFUSED: {reason}"),
        Notice::Storage { problem: Some(problem) } => format!("STORAGE FAILING: {problem}"),
        Notice::Storage { problem: None } => "storage recovered".to_owned(),
        Notice::Lagged { missed } => {
            format!("missed {missed} changes (this terminal fell behind); restart watch for a fresh view")
        }
        Notice::Summary {
            child,
            period,
            version,
            late,
        } => format!(
            "summary {period} from {child}, version {version}{}",
            if *late { " (late)" } else { "" }
        ),
        Notice::IndexAlarm {
            child,
            period,
            index,
            below,
        } => format!(
            "ALARM safety index of {child} for {period}: {}, under {below}",
            liandong_dispatch::figures::index_text(*index)
        ),
    };
    format!("{}  {text}", clock.time(pushed.at))
}

/// Label/value lines with the values aligned.
#[derive(Default)]
pub(crate) struct Fields {
    lines: Vec<(&'static str, String)>,
}

impl Fields {
    pub(crate) fn add(&mut self, label: &'static str, value: String) {
        self.lines.push((label, value));
    }

    pub(crate) fn render(&self) -> String {
        let width = self.lines.iter().map(|(l, _)| l.width()).max().unwrap_or(0);
        let mut out = String::new();
        for (label, value) in &self.lines {
            out.push_str(&pad(label, width + 2));
            out.push_str(value);
            out.push('\n');
        }
        out
    }
}

/// A text table whose columns line up by display width (a CJK character
/// takes two columns).
pub(crate) struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    pub(crate) fn new<const N: usize>(headers: [&str; N]) -> Table {
        Table {
            rows: vec![headers.iter().map(|h| (*h).to_owned()).collect()],
        }
    }

    pub(crate) fn row<const N: usize>(&mut self, cells: [String; N]) {
        self.rows.push(cells.into());
    }

    pub(crate) fn render(&self) -> String {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(c))
                    .map(|s| s.width())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for row in &self.rows {
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                if c + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    line.push_str(&pad(cell, widths[c] + 2));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

// ---------------------------------------------------------------- JSON

/// A serde_json formatter that writes every `u128` as 32 hex digits in a
/// string. In the control API's types the only `u128` is an
/// [`EnvelopeId`], which serializes as a bare number (too large for most
/// JSON readers); this way ids read as `liandong` prints them, without
/// changing the protocol types.
pub(super) struct HexIds<F> {
    inner: F,
    in_string: bool,
}

impl<F: serde_json::ser::Formatter> serde_json::ser::Formatter for HexIds<F> {
    fn write_u128<W: ?Sized + std::io::Write>(&mut self, w: &mut W, value: u128) -> std::io::Result<()> {
        if self.in_string {
            // A map key, already inside quotes.
            write!(w, "{value:032x}")
        } else {
            write!(w, "\"{value:032x}\"")
        }
    }
    fn begin_string<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.in_string = true;
        self.inner.begin_string(w)
    }
    fn end_string<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.in_string = false;
        self.inner.end_string(w)
    }
    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.inner.begin_array(w)
    }
    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.inner.end_array(w)
    }
    fn begin_array_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W, first: bool) -> std::io::Result<()> {
        self.inner.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.inner.end_array_value(w)
    }
    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.inner.begin_object(w)
    }
    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.inner.end_object(w)
    }
    fn begin_object_key<W: ?Sized + std::io::Write>(&mut self, w: &mut W, first: bool) -> std::io::Result<()> {
        self.inner.begin_object_key(w, first)
    }
    fn end_object_key<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.inner.end_object_key(w)
    }
    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.inner.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.inner.end_object_value(w)
    }
}

pub(crate) fn to_json<T: Serialize, F: serde_json::ser::Formatter>(value: &T, inner: F) -> anyhow::Result<String> {
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(
        &mut out,
        HexIds {
            inner,
            in_string: false,
        },
    );
    value.serialize(&mut serializer).context("cannot write JSON")?;
    String::from_utf8(out).context("cannot write JSON")
}

pub(crate) fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", to_json(value, serde_json::ser::PrettyFormatter::new())?);
    Ok(())
}

pub(crate) fn json_line<T: Serialize>(value: &T) -> anyhow::Result<String> {
    to_json(value, serde_json::ser::CompactFormatter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_hex_strings_in_json_even_as_map_keys() {
        #[derive(Serialize)]
        struct Sample {
            id: EnvelopeId,
            ids: Vec<EnvelopeId>,
            keyed: std::collections::BTreeMap<u128, u64>,
            at: Timestamp,
        }
        let sample = Sample {
            id: EnvelopeId(0x3f2a_9c0e_1b7d_4a5e_8f00_1122_3344_5566),
            ids: vec![EnvelopeId(1)],
            keyed: [(2u128, 7u64)].into(),
            at: Timestamp(1_700_000_000_000),
        };
        let text = json_line(&sample).unwrap();
        assert_eq!(
            text,
            "{\"id\":\"3f2a9c0e1b7d4a5e8f00112233445566\",\"ids\":[\"00000000000000000000000000000001\"],\
             \"keyed\":{\"00000000000000000000000000000002\":7},\"at\":1700000000000}"
        );
        let pretty = to_json(&sample, serde_json::ser::PrettyFormatter::new()).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&pretty).unwrap();
        assert_eq!(parsed["id"], "3f2a9c0e1b7d4a5e8f00112233445566");
        assert!(pretty.contains("\n  \"ids\": ["), "{pretty}");
    }

    #[test]
    fn the_certificate_line_warns_from_30_days_left() {
        const DAY: u64 = 86_400_000;
        let now = Timestamp(1_800_000_000_000);
        let utc = Clock { offset: UtcOffset::UTC };
        let expiring = |days: u64| CertificateStatus::at("3a:5f".into(), Timestamp(now.0 + days * DAY + 60_000), now);
        let line = certificate_line(Some(&expiring(729)), utc);
        assert_eq!(line, "serial 3a:5f  expires 2029-01-13 (729 days)");
        assert_eq!(certificate_warning(&expiring(729)), None);
        assert_eq!(certificate_warning(&expiring(31)), None);
        for (days, words) in [(30, "in 30 days"), (29, "in 29 days"), (1, "in 1 day"), (0, "today")] {
            let warning = certificate_warning(&expiring(days)).expect("renewal due");
            assert!(
                warning.starts_with(&format!("WARNING: the certificate expires {words}: renew it")),
                "{warning}"
            );
        }
        let expired = CertificateStatus::at("3a:5f".into(), Timestamp(now.0 - 1), now);
        assert!(certificate_line(Some(&expired), utc).ends_with("(EXPIRED)"));
        let warning = certificate_warning(&expired).expect("renewal due");
        assert!(warning.starts_with("WARNING: the certificate has expired"), "{warning}");
        assert!(certificate_line(None, utc).starts_with("unknown"));
    }

    #[test]
    fn tables_align_by_display_width() {
        let mut table = Table::new(["NAME", "LEVEL"]);
        table.row(["福州市综治中心".to_owned(), "city".to_owned()]);
        table.row(["Gulou".to_owned(), "county".to_owned()]);
        let text = table.render();
        let columns: Vec<usize> = text
            .lines()
            .map(|line| {
                let at = line.rfind(' ').unwrap() + 1;
                line[..at].width()
            })
            .collect();
        assert_eq!(columns, vec![16, 16, 16], "{text}");
    }
}
