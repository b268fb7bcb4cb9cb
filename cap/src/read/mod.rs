//! An alert from XML: [`parse`] reads the bytes with the bounded reader,
//! then checks the tree against the CAP 1.2 schema (root and namespace,
//! each element's children in order and number, enumerations, dateTimes,
//! integers and decimals) and against the spec's rules beyond it
//! (section 3: identifiers without spaces, commas, `<` or `&`; references
//! as `sender,identifier,sent` and required for Update, Cancel, Ack and
//! Error; `restriction` for Restricted and `addresses` for Private scope;
//! closed polygons of four or more points within WGS 84's ranges; circles
//! with a radius; a ceiling only with an altitude).
//!
//! The first problem found is the answer, naming the element (or, for a
//! missing child, its parent and which child) and its line; nothing of a
//! refused alert is handed out. Enumerations, times and identifiers are
//! trimmed of surrounding whitespace; free text is kept as written.
//!
//! Never maps to incidents (export and import do), never writes.

mod sequence;
mod values;

use sequence::{Children, Field, many, one, optional, some};

use crate::CapError;
use crate::model::{Alert, Area, Info, MsgType, NAMESPACE, NameValue, Resource, Scope};
use crate::xml::{self, Element};

/// The XML Signature namespace: the schema lets signatures (`<any
/// namespace=... processContents="lax">`) follow an alert's elements.
/// They are skipped, not checked.
const XMLDSIG: &str = "http://www.w3.org/2000/09/xmldsig#";

/// The language of an `info` without `<language>` (the schema's default).
const DEFAULT_LANGUAGE: &str = "en-US";

const ALERT: &[Field] = &[
    one("identifier"),
    one("sender"),
    one("sent"),
    one("status"),
    one("msgType"),
    optional("source"),
    one("scope"),
    optional("restriction"),
    optional("addresses"),
    many("code"),
    optional("note"),
    optional("references"),
    optional("incidents"),
    many("info"),
];

const INFO: &[Field] = &[
    optional("language"),
    some("category"),
    one("event"),
    many("responseType"),
    one("urgency"),
    one("severity"),
    one("certainty"),
    optional("audience"),
    many("eventCode"),
    optional("effective"),
    optional("onset"),
    optional("expires"),
    optional("senderName"),
    optional("headline"),
    optional("description"),
    optional("instruction"),
    optional("web"),
    optional("contact"),
    many("parameter"),
    many("resource"),
    many("area"),
];

const RESOURCE: &[Field] = &[
    one("resourceDesc"),
    one("mimeType"),
    optional("size"),
    optional("uri"),
    optional("derefUri"),
    optional("digest"),
];

const AREA: &[Field] = &[
    one("areaDesc"),
    many("polygon"),
    many("circle"),
    many("geocode"),
    optional("altitude"),
    optional("ceiling"),
];

const NAME_VALUE: &[Field] = &[one("valueName"), one("value")];

/// A CAP 1.2 alert from `bytes`, checked to the schema and the spec.
pub fn parse(bytes: &[u8]) -> Result<Alert, CapError> {
    let root = xml::read(bytes)?;
    alert(&root)
}

/// `element` is at fault.
pub(crate) fn invalid(element: &Element, problem: impl Into<String>) -> CapError {
    CapError::Invalid {
        line: element.line,
        element: element.name.clone(),
        problem: problem.into(),
    }
}

/// `parent` lacks the child `child`; `why` it needs one.
pub(crate) fn missing(parent: &Element, child: &str, why: &str) -> CapError {
    invalid(parent, format!("missing <{child}>: {why}"))
}

/// Children of `parent` checked against `fields`, `parent`'s attributes too.
fn children<'e>(parent: &'e Element, fields: &'static [Field]) -> Result<Children<'e>, CapError> {
    values::no_attributes(parent)?;
    sequence::check(parent, fields, None)
}

/// Optional free text, as written.
fn free_text(children: &Children<'_>, name: &str) -> Result<Option<String>, CapError> {
    children
        .optional(name)
        .map(|e| values::text(e).map(str::to_string))
        .transpose()
}

fn alert(root: &Element) -> Result<Alert, CapError> {
    check_root(root)?;
    values::no_attributes(root)?;
    let c = sequence::check(root, ALERT, Some(XMLDSIG))?;
    let msg_type: MsgType = values::enumeration(c.one("msgType")?)?;
    let scope: Scope = values::enumeration(c.one("scope")?)?;
    let alert = Alert {
        identifier: values::token(c.one("identifier")?)?,
        sender: values::token(c.one("sender")?)?,
        sent: values::date_time(c.one("sent")?)?,
        status: values::enumeration(c.one("status")?)?,
        msg_type,
        source: free_text(&c, "source")?,
        scope,
        restriction: free_text(&c, "restriction")?,
        addresses: free_text(&c, "addresses")?,
        codes: c
            .all("code")
            .iter()
            .map(|e| values::text(e).map(str::to_string))
            .collect::<Result<_, _>>()?,
        note: free_text(&c, "note")?,
        references: c
            .optional("references")
            .map(values::references)
            .transpose()?
            .unwrap_or_default(),
        incidents: free_text(&c, "incidents")?,
        infos: c.all("info").iter().map(|e| info(e)).collect::<Result<_, _>>()?,
    };
    // CAP 1.2 3.2.1: what the schema leaves optional but the spec requires.
    let needs = |name: &str, why: &str| -> Result<(), CapError> {
        match c.optional(name) {
            None => Err(missing(root, name, why)),
            Some(e) if e.text.trim().is_empty() => Err(invalid(e, format!("is empty: {why}"))),
            Some(_) => Ok(()),
        }
    };
    match alert.scope {
        Scope::Restricted => needs("restriction", "scope Restricted needs it to say who may see the alert")?,
        Scope::Private => needs("addresses", "scope Private needs it to say who the alert is for")?,
        Scope::Public => {}
    }
    if matches!(
        alert.msg_type,
        MsgType::Update | MsgType::Cancel | MsgType::Ack | MsgType::Error
    ) {
        let why = format!("msgType {} must name the earlier messages it refers to", alert.msg_type);
        needs("references", &why)?;
    }
    Ok(alert)
}

/// The root must be CAP 1.2's `<alert>`; anything else says what it is.
fn check_root(root: &Element) -> Result<(), CapError> {
    let namespace = root.namespace.as_deref();
    if root.name == "alert" && namespace == Some(NAMESPACE) {
        return Ok(());
    }
    const CAP_PREFIX: &str = "urn:oasis:names:tc:emergency:cap:";
    let found = match namespace {
        Some(ns) if ns.starts_with(CAP_PREFIX) => format!("CAP {} (namespace {ns})", &ns[CAP_PREFIX.len()..]),
        Some(ns @ "http://www.incident.com/cap/1.0") => format!("CAP 1.0 (namespace {ns})"),
        Some(ns) => format!("namespace {ns}"),
        None => "no namespace".to_string(),
    };
    let problem = if root.name == "alert" {
        format!("is in {found}; only CAP 1.2 is read (xmlns=\"{NAMESPACE}\")")
    } else {
        format!("is not a CAP alert ({found}); the root must be <alert xmlns=\"{NAMESPACE}\">")
    };
    Err(invalid(root, problem))
}

fn info(element: &Element) -> Result<Info, CapError> {
    let c = children(element, INFO)?;
    let time = |name: &str| c.optional(name).map(values::date_time).transpose();
    Ok(Info {
        language: match c.optional("language") {
            Some(e) => values::language(e)?,
            None => DEFAULT_LANGUAGE.to_string(),
        },
        categories: c
            .all("category")
            .iter()
            .map(|e| values::enumeration(e))
            .collect::<Result<_, _>>()?,
        event: values::required_text(c.one("event")?)?,
        response_types: c
            .all("responseType")
            .iter()
            .map(|e| values::enumeration(e))
            .collect::<Result<_, _>>()?,
        urgency: values::enumeration(c.one("urgency")?)?,
        severity: values::enumeration(c.one("severity")?)?,
        certainty: values::enumeration(c.one("certainty")?)?,
        audience: free_text(&c, "audience")?,
        event_codes: name_values(c.all("eventCode"))?,
        effective: time("effective")?,
        onset: time("onset")?,
        expires: time("expires")?,
        sender_name: free_text(&c, "senderName")?,
        headline: free_text(&c, "headline")?,
        description: free_text(&c, "description")?,
        instruction: free_text(&c, "instruction")?,
        web: free_text(&c, "web")?,
        contact: free_text(&c, "contact")?,
        parameters: name_values(c.all("parameter"))?,
        resources: c
            .all("resource")
            .iter()
            .map(|e| resource(e))
            .collect::<Result<_, _>>()?,
        areas: c.all("area").iter().map(|e| area(e)).collect::<Result<_, _>>()?,
    })
}

/// `<eventCode>`, `<parameter>` or `<geocode>` elements.
fn name_values(elements: &[&Element]) -> Result<Vec<NameValue>, CapError> {
    elements
        .iter()
        .map(|e| {
            let c = children(e, NAME_VALUE)?;
            Ok(NameValue {
                name: values::required_text(c.one("valueName")?)?,
                value: values::text(c.one("value")?)?.to_string(),
            })
        })
        .collect()
}

fn resource(element: &Element) -> Result<Resource, CapError> {
    let c = children(element, RESOURCE)?;
    Ok(Resource {
        description: values::required_text(c.one("resourceDesc")?)?,
        mime_type: values::required_text(c.one("mimeType")?)?,
        size: c.optional("size").map(values::size).transpose()?,
        uri: free_text(&c, "uri")?,
        deref_uri: free_text(&c, "derefUri")?,
        digest: free_text(&c, "digest")?,
    })
}

fn area(element: &Element) -> Result<Area, CapError> {
    let c = children(element, AREA)?;
    let altitude = c.optional("altitude").map(values::feet).transpose()?;
    let ceiling = c.optional("ceiling").map(values::feet).transpose()?;
    if let (Some(ceiling), None) = (c.optional("ceiling"), altitude) {
        return Err(invalid(
            ceiling,
            "comes without <altitude>; CAP allows a ceiling only with an altitude",
        ));
    }
    Ok(Area {
        description: values::required_text(c.one("areaDesc")?)?,
        polygons: c
            .all("polygon")
            .iter()
            .map(|e| values::polygon(e))
            .collect::<Result<_, _>>()?,
        circles: c
            .all("circle")
            .iter()
            .map(|e| values::circle(e))
            .collect::<Result<_, _>>()?,
        geocodes: name_values(c.all("geocode"))?,
        altitude,
        ceiling,
    })
}
