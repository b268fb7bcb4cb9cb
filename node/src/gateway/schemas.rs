//! The schemas the OpenAPI document gives for values of other crates'
//! types (severity, category, mode, incident state, photo type) and for
//! the words the handlers take (an order's step), each by its serde name,
//! so that dispatch and topology know nothing of OpenAPI. A variant one of
//! those crates adds stops the build here (a match with no wildcard) until
//! it is listed. Depends on no other module of the gateway.

use liandong_dispatch::store::IncidentState;
use liandong_dispatch::wire::{Category, Mode, PhotoKind};
use liandong_topology::Severity;
use serde::Serialize;
use utoipa::openapi::{ObjectBuilder, RefOr, Schema, Type};

/// The steps of `POST /v1/orders/{id}/{step}`, as the path names them.
pub const ORDER_STEPS: [&str; 4] = ["sign", "progress", "done", "refuse"];

/// Every category, for its schema. The match in `every_category_listed`
/// has no wildcard: a category that dispatch adds stops the build there,
/// to be listed here too.
pub(crate) const CATEGORIES: [Category; 8] = [
    Category::Dispute,
    Category::Hazard,
    Category::Request,
    Category::Fire,
    Category::Flood,
    Category::Gathering,
    Category::Accident,
    Category::Other,
];

#[allow(dead_code)] // A guard for the compiler, never called.
fn every_category_listed(c: Category) {
    use Category::*;
    match c {
        Dispute | Hazard | Request | Fire | Flood | Gathering | Accident | Other => {}
    }
}

/// Every mode (as [`CATEGORIES`]).
pub(crate) const MODES: [Mode; 2] = [Mode::Actual, Mode::Exercise];

#[allow(dead_code)] // A guard for the compiler, never called.
fn every_mode_listed(m: Mode) {
    match m {
        Mode::Actual | Mode::Exercise => {}
    }
}

/// Every incident state (as [`CATEGORIES`]).
pub(crate) const STATES: [IncidentState; 7] = [
    IncidentState::Reported,
    IncidentState::Accepted,
    IncidentState::Dispatched,
    IncidentState::Resolved,
    IncidentState::Verified,
    IncidentState::Closed,
    IncidentState::Cancelled,
];

#[allow(dead_code)] // A guard for the compiler, never called.
fn every_state_listed(s: IncidentState) {
    use IncidentState::*;
    match s {
        Reported | Accepted | Dispatched | Resolved | Verified | Closed | Cancelled => {}
    }
}

/// Every photo format (as [`CATEGORIES`]).
pub(crate) const PHOTO_KINDS: [PhotoKind; 2] = [PhotoKind::Jpeg, PhotoKind::Png];

#[allow(dead_code)] // A guard for the compiler, never called.
fn every_photo_kind_listed(k: PhotoKind) {
    match k {
        PhotoKind::Jpeg | PhotoKind::Png => {}
    }
}

/// The name serde gives `value`: how it reads and is written in JSON.
pub fn serde_name<T: Serialize>(value: T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        other => format!("{other:?}"),
    }
}

/// A string schema: one of `names`.
pub fn one_of(description: &str, names: impl IntoIterator<Item = String>) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .enum_values(Some(names))
        .into()
}

/// Declares a schema named `$name` for a type of another crate (or a
/// string the handlers write), built by `$schema`.
macro_rules! named_schema {
    ($(#[$doc:meta])* $ty:ident, $name:literal, $schema:expr) => {
        $(#[$doc])*
        pub struct $ty;

        impl ::utoipa::PartialSchema for $ty {
            fn schema() -> ::utoipa::openapi::RefOr<::utoipa::openapi::Schema> {
                $schema
            }
        }

        impl ::utoipa::ToSchema for $ty {
            fn name() -> ::std::borrow::Cow<'static, str> {
                ::std::borrow::Cow::Borrowed($name)
            }
        }
    };
}

named_schema!(
    /// topology's `Severity`.
    SeverityName,
    "Severity",
    one_of(
        "A report's severity, least severe first (read in lower case too)",
        Severity::ALL.iter().map(serde_name),
    )
);

named_schema!(
    /// dispatch's `Category`.
    CategoryName,
    "Category",
    one_of(
        "What a report is about: 矛盾纠纷 Dispute, 安全隐患 Hazard, 群众诉求 Request, 火情 Fire, \
         汛情 Flood, 群体性事件 Gathering, 事故 Accident, 其他 Other",
        CATEGORIES.iter().map(serde_name),
    )
);

named_schema!(
    /// dispatch's `Mode`.
    ModeName,
    "Mode",
    one_of(
        "A real case or a drill (exercises never mix with real cases)",
        MODES.iter().map(serde_name),
    )
);

named_schema!(
    /// dispatch's `IncidentState`, by its name.
    StateName,
    "IncidentState",
    one_of(
        "Where an incident is in its life, as this center knows it",
        STATES.iter().map(|s| s.name().to_owned()),
    )
);

named_schema!(
    /// dispatch's `PhotoKind`, by its media type.
    PhotoType,
    "PhotoType",
    one_of(
        "A photo's format, read from its bytes",
        PHOTO_KINDS.iter().map(|k| k.mime().to_owned()),
    )
);

named_schema!(
    /// The steps of an order.
    StepName,
    "OrderStep",
    one_of(
        "sign (签收) for the order, report progress, report it done, or refuse it",
        ORDER_STEPS.iter().map(|s| (*s).to_owned()),
    )
);

pub(crate) use named_schema;
