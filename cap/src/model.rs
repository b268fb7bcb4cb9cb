//! A CAP 1.2 alert as plain data: every element of the OASIS schema that
//! Liandong reads or writes, in the schema's order. Values are already
//! checked when a [`crate::parse`] hands one out; one built in code is
//! checked by [`crate::to_xml`]'s caller (the export builds only valid ones).

use crate::time::CapTime;

/// The CAP 1.2 namespace: the only one an alert is read in or written with.
pub const NAMESPACE: &str = "urn:oasis:names:tc:emergency:cap:1.2";

/// `<alert>`: the message.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Unique for its sender; no spaces, commas, `<` or `&`.
    pub identifier: String,
    /// Who sent it, globally unique; no spaces, commas, `<` or `&`.
    pub sender: String,
    pub sent: CapTime,
    pub status: Status,
    pub msg_type: MsgType,
    pub source: Option<String>,
    pub scope: Scope,
    /// Required when `scope` is Restricted.
    pub restriction: Option<String>,
    /// Required when `scope` is Private.
    pub addresses: Option<String>,
    pub codes: Vec<String>,
    pub note: Option<String>,
    /// Earlier messages this one refers to (Update, Cancel, Ack, Error).
    pub references: Vec<Reference>,
    pub incidents: Option<String>,
    pub infos: Vec<Info>,
}

/// One entry of `<references>`: `sender,identifier,sent`.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    pub sender: String,
    pub identifier: String,
    pub sent: CapTime,
}

/// `<info>`: the alert in one language.
#[derive(Debug, Clone, PartialEq)]
pub struct Info {
    /// RFC 3066 language; `en-US` when the element is absent.
    pub language: String,
    /// At least one.
    pub categories: Vec<Category>,
    pub event: String,
    pub response_types: Vec<ResponseType>,
    pub urgency: Urgency,
    pub severity: Severity,
    pub certainty: Certainty,
    pub audience: Option<String>,
    pub event_codes: Vec<NameValue>,
    pub effective: Option<CapTime>,
    pub onset: Option<CapTime>,
    pub expires: Option<CapTime>,
    pub sender_name: Option<String>,
    pub headline: Option<String>,
    pub description: Option<String>,
    pub instruction: Option<String>,
    pub web: Option<String>,
    pub contact: Option<String>,
    pub parameters: Vec<NameValue>,
    pub resources: Vec<Resource>,
    pub areas: Vec<Area>,
}

impl Info {
    /// An info block with its required elements and nothing optional.
    pub fn new(
        language: &str,
        categories: Vec<Category>,
        event: &str,
        urgency: Urgency,
        severity: Severity,
        certainty: Certainty,
    ) -> Info {
        Info {
            language: language.into(),
            categories,
            event: event.into(),
            response_types: Vec::new(),
            urgency,
            severity,
            certainty,
            audience: None,
            event_codes: Vec::new(),
            effective: None,
            onset: None,
            expires: None,
            sender_name: None,
            headline: None,
            description: None,
            instruction: None,
            web: None,
            contact: None,
            parameters: Vec::new(),
            resources: Vec::new(),
            areas: Vec::new(),
        }
    }
}

/// `<eventCode>`, `<parameter>`, `<geocode>`: a `valueName` and a `value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameValue {
    pub name: String,
    pub value: String,
}

/// `<resource>`: a file that goes with the alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    pub description: String,
    pub mime_type: String,
    pub size: Option<u64>,
    pub uri: Option<String>,
    /// Base64 of the file itself.
    pub deref_uri: Option<String>,
    /// SHA-1 of the file, hex.
    pub digest: Option<String>,
}

/// `<area>`: where the alert applies.
#[derive(Debug, Clone, PartialEq)]
pub struct Area {
    pub description: String,
    /// Each closed: at least four points, the first equal to the last.
    pub polygons: Vec<Vec<Point>>,
    pub circles: Vec<Circle>,
    pub geocodes: Vec<NameValue>,
    /// Feet above mean sea level.
    pub altitude: Option<f64>,
    /// Feet; only with `altitude`.
    pub ceiling: Option<f64>,
}

impl Area {
    /// An area described in words only.
    pub fn new(description: &str) -> Area {
        Area {
            description: description.into(),
            polygons: Vec::new(),
            circles: Vec::new(),
            geocodes: Vec::new(),
            altitude: None,
            ceiling: None,
        }
    }
}

/// A WGS 84 point: latitude in −90..=90, longitude in −180..=180.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub lat: f64,
    pub lon: f64,
}

/// `<circle>`: `lat,lon radius` with the radius in kilometres.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Circle {
    pub center: Point,
    pub radius_km: f64,
}

/// An enumeration of the schema: each variant is written as the schema
/// spells it, and read only so (case matters).
macro_rules! cap_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every value, in the schema's order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// As the schema spells it.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// The value the schema spells `text`, if any.
            pub fn from_cap(text: &str) -> Option<$name> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

cap_enum!(
    /// `<status>`.
    Status { Actual = "Actual", Exercise = "Exercise", System = "System", Test = "Test", Draft = "Draft" }
);
cap_enum!(
    /// `<msgType>`.
    MsgType { Alert = "Alert", Update = "Update", Cancel = "Cancel", Ack = "Ack", Error = "Error" }
);
cap_enum!(
    /// `<scope>`.
    Scope { Public = "Public", Restricted = "Restricted", Private = "Private" }
);
cap_enum!(
    /// `<category>`.
    Category {
        Geo = "Geo", Met = "Met", Safety = "Safety", Security = "Security", Rescue = "Rescue",
        Fire = "Fire", Health = "Health", Env = "Env", Transport = "Transport", Infra = "Infra",
        Cbrne = "CBRNE", Other = "Other",
    }
);
cap_enum!(
    /// `<responseType>`.
    ResponseType {
        Shelter = "Shelter", Evacuate = "Evacuate", Prepare = "Prepare", Execute = "Execute",
        Avoid = "Avoid", Monitor = "Monitor", Assess = "Assess", AllClear = "AllClear", None = "None",
    }
);
cap_enum!(
    /// `<urgency>`.
    Urgency { Immediate = "Immediate", Expected = "Expected", Future = "Future", Past = "Past", Unknown = "Unknown" }
);
cap_enum!(
    /// `<severity>`.
    Severity { Extreme = "Extreme", Severe = "Severe", Moderate = "Moderate", Minor = "Minor", Unknown = "Unknown" }
);
cap_enum!(
    /// `<certainty>`.
    Certainty { Observed = "Observed", Likely = "Likely", Possible = "Possible", Unlikely = "Unlikely", Unknown = "Unknown" }
);
