//! The documented mappings between Liandong's words and CAP's: severity,
//! category, mode and status. Liandong writes its own values as
//! `liandong:*` parameters too, so an alert it exported reads back to the
//! same incident; an alert from elsewhere is read by the tables alone.
//!
//! | Liandong severity | urgency | severity | certainty |
//! | --- | --- | --- | --- |
//! | I 特别重大 (red) | Immediate | Extreme | Observed |
//! | II 重大 (orange) | Immediate | Severe | Observed |
//! | III 较大 (yellow) | Expected | Moderate | Observed |
//! | IV 一般 (blue) | Expected | Minor | Observed |
//! | Routine (矛盾纠纷、隐患、诉求) | Future | Minor | Observed |
//!
//! Read back (without `liandong:severity`): Extreme → I, Severe → II,
//! Moderate → III, Minor → IV, Unknown → Routine: the four colours of
//! GB/T 35965.1 warnings are the four levels of 突发事件.
//!
//! | Liandong category | CAP category | read back from CAP |
//! | --- | --- | --- |
//! | Dispute 矛盾纠纷 | Security | Security → Other |
//! | Hazard 安全隐患 | Safety | Safety, Geo, Met, Env, Infra, CBRNE → Hazard |
//! | Request 群众诉求 | Other | |
//! | Fire 火灾 | Fire | Fire → Fire |
//! | Flood 汛情 | Met | (Met reads as Hazard) |
//! | Gathering 群体性事件 | Security | |
//! | Accident 事故 | Transport | Transport, Rescue → Accident |
//! | Other 其他 | Other | Other, Health → Other |
//!
//! Never does I/O; pure functions of their arguments.

use liandong_dispatch::wire::{Category as Kind, Mode};
use liandong_topology::Severity as Level;

use crate::model::{Category, Certainty, Info, NameValue, Severity, Status, Urgency};

/// Parameter naming the Liandong severity (`I`, `II`, `III`, `IV`, `Routine`).
pub const PARAM_SEVERITY: &str = "liandong:severity";
/// Parameter naming the Liandong category (`dispute`, `hazard`, ...).
pub const PARAM_CATEGORY: &str = "liandong:category";
/// Parameter with the place as people said it.
pub const PARAM_PLACE: &str = "liandong:place";
/// Parameter with the incident's full id (32 hex digits) where it was filed.
pub const PARAM_INCIDENT: &str = "liandong:incident";
/// Parameter with the incident's state when exported.
pub const PARAM_STATE: &str = "liandong:state";
/// Parameter with the center where the incident was reported.
pub const PARAM_ORIGIN: &str = "liandong:origin";
/// Geocode name for a division code (a Liandong node id).
pub const GEOCODE_DIVISION: &str = "division";

/// Urgency, severity and certainty for a Liandong severity.
pub fn cap_severity(level: Level) -> (Urgency, Severity, Certainty) {
    match level {
        Level::I => (Urgency::Immediate, Severity::Extreme, Certainty::Observed),
        Level::II => (Urgency::Immediate, Severity::Severe, Certainty::Observed),
        Level::III => (Urgency::Expected, Severity::Moderate, Certainty::Observed),
        Level::IV => (Urgency::Expected, Severity::Minor, Certainty::Observed),
        Level::Routine => (Urgency::Future, Severity::Minor, Certainty::Observed),
    }
}

/// The Liandong severity of an info block: its `liandong:severity`
/// parameter if it has a valid one, else by the table.
pub fn level_of(info: &Info) -> Level {
    if let Some(level) = param(info, PARAM_SEVERITY).and_then(level_named) {
        return level;
    }
    match info.severity {
        Severity::Extreme => Level::I,
        Severity::Severe => Level::II,
        Severity::Moderate => Level::III,
        Severity::Minor => Level::IV,
        Severity::Unknown => Level::Routine,
    }
}

fn level_named(name: &str) -> Option<Level> {
    Level::ALL.into_iter().find(|l| l.name().eq_ignore_ascii_case(name))
}

/// Every Liandong category with its parameter word, zh and en names and
/// CAP category.
pub const KINDS: [(Kind, &str, &str, Category); 8] = [
    (Kind::Dispute, "dispute", "矛盾纠纷", Category::Security),
    (Kind::Hazard, "hazard", "安全隐患", Category::Safety),
    (Kind::Request, "request", "群众诉求", Category::Other),
    (Kind::Fire, "fire", "火灾", Category::Fire),
    (Kind::Flood, "flood", "汛情", Category::Met),
    (Kind::Gathering, "gathering", "群体性事件", Category::Security),
    (Kind::Accident, "accident", "事故", Category::Transport),
    (Kind::Other, "other", "其他", Category::Other),
];

fn row(kind: Kind) -> &'static (Kind, &'static str, &'static str, Category) {
    // Every Kind has a row: the table lists them all.
    KINDS.iter().find(|r| r.0 == kind).unwrap_or(&KINDS[7])
}

/// The CAP category of a Liandong category.
pub fn cap_category(kind: Kind) -> Category {
    row(kind).3
}

/// The parameter word of a Liandong category (`dispute`, ...).
pub fn kind_word(kind: Kind) -> &'static str {
    row(kind).1
}

/// The zh name of a Liandong category, used as the alert's `event`.
pub fn kind_zh(kind: Kind) -> &'static str {
    row(kind).2
}

/// The Liandong category of an info block: its `liandong:category`
/// parameter if valid, else its first CAP category by the table.
pub fn kind_of(info: &Info) -> Kind {
    if let Some(kind) = param(info, PARAM_CATEGORY).and_then(|w| KINDS.iter().find(|r| r.1 == w)) {
        return kind.0;
    }
    match info.categories.first() {
        Some(Category::Fire) => Kind::Fire,
        Some(Category::Transport | Category::Rescue) => Kind::Accident,
        Some(Category::Safety | Category::Geo | Category::Met | Category::Env | Category::Infra | Category::Cbrne) => {
            Kind::Hazard
        }
        Some(Category::Security | Category::Health | Category::Other) | None => Kind::Other,
    }
}

/// The CAP status of a mode.
pub fn cap_status(mode: Mode) -> Status {
    match mode {
        Mode::Actual => Status::Actual,
        Mode::Exercise => Status::Exercise,
    }
}

/// The mode an alert of this status is filed in; `None` for Test, System
/// and Draft, which are not filed.
pub fn mode_of(status: Status) -> Option<Mode> {
    match status {
        Status::Actual => Some(Mode::Actual),
        Status::Exercise => Some(Mode::Exercise),
        Status::System | Status::Test | Status::Draft => None,
    }
}

/// The value of the first parameter named `name`.
pub fn param<'a>(info: &'a Info, name: &str) -> Option<&'a str> {
    info.parameters
        .iter()
        .find(|p| p.name == name)
        .map(|p| p.value.as_str())
}

/// A parameter.
pub fn nv(name: &str, value: impl Into<String>) -> NameValue {
    NameValue {
        name: name.into(),
        value: value.into(),
    }
}
