//! The document against the router it comes from: it parses as OpenAPI
//! 3.1, names every route, every documented operation is served, nothing
//! is routed past `routes!`, and the schemas of other crates' enums hold
//! every variant's serde name.

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use liandong_topology::NodeId;
use serde_json::Value;
use tower::ServiceExt;

use super::*;
use crate::gateway::door::Api;
use crate::gateway::schemas::*;
use crate::gateway::{DEFAULT_PHOTO_MAX, routes, tokens};
use crate::photos::PhotoFiles;
use liandong_topology::Severity;

/// Every route the gateway serves, as its method and path. A route added
/// to `routes::routes` is added to the document with it; this list makes
/// the change visible in review (and the test fails until it is named).
const ROUTES: &[(&str, &str)] = &[
    ("post", "/v1/reports"),
    ("get", "/v1/reports/{id}"),
    ("get", "/v1/incidents"),
    ("post", "/v1/orders/{id}/{step}"),
    ("post", "/v1/photos"),
    ("get", "/v1/photos/{sha256}"),
    ("post", "/v1/cap"),
    ("get", "/v1/incidents/{file}"),
    ("get", "/v1/openapi.json"),
    ("get", "/open311/v2/services.json"),
    ("post", "/open311/v2/requests.json"),
    ("get", "/open311/v2/requests.json"),
    ("get", "/open311/v2/requests/{id}"),
    ("get", "/"),
    ("get", "/app"),
];

const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// The document as a client reads it: serialized, parsed back.
fn document() -> Value {
    let text = routes::routes(DEFAULT_PHOTO_MAX)
        .into_openapi()
        .to_pretty_json()
        .expect("the document serializes");
    serde_json::from_str(&text).expect("the document parses as JSON")
}

/// Every operation of `doc`: its method, path and the operation.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let paths = doc["paths"].as_object().expect("paths");
    let mut all = Vec::new();
    for (path, item) in paths {
        for method in METHODS {
            if let Some(op) = item.get(method) {
                all.push((method.to_owned(), path.clone(), op.clone()));
            }
        }
    }
    all
}

#[test]
fn the_document_is_openapi_3_1_and_names_every_route() {
    let doc = document();
    let version = doc["openapi"].as_str().expect("openapi");
    assert!(version.starts_with("3.1."), "openapi {version}");
    assert_eq!(doc["info"]["title"], "Liandong gateway");
    let documented: BTreeSet<(String, String)> = operations(&doc).into_iter().map(|(m, p, _)| (m, p)).collect();
    let expected: BTreeSet<(String, String)> = ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    assert_eq!(documented, expected);
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["api_key"]["in"], "query");
}

/// Each operation answers 2xx and, when it needs a token, 401 and 403 with
/// its scope named in its description and its security requirement.
#[test]
fn every_operation_names_its_answers_and_its_scope() {
    let doc = document();
    for (method, path, op) in operations(&doc) {
        let at = format!("{method} {path}");
        let responses = op["responses"].as_object().expect("responses");
        assert!(
            responses.keys().any(|s| s.starts_with('2')) || path == "/",
            "{at}: no 2xx"
        );
        assert!(
            op["description"].is_string() || op["summary"].is_string(),
            "{at}: undescribed"
        );
        let needs: Vec<&Value> = op["security"]
            .as_array()
            .expect("every operation says its security")
            .iter()
            .filter(|req| req.as_object().is_some_and(|r| !r.is_empty()))
            .collect();
        if needs.is_empty() {
            continue;
        }
        for status in ["401", "403", "503"] {
            let gets_none = path.starts_with("/v1/photos") && status == "503" && method == "get";
            assert!(gets_none || responses.contains_key(status), "{at}: no {status}");
        }
        let scopes: BTreeSet<&str> = needs
            .iter()
            .flat_map(|req| req.as_object().into_iter().flat_map(|r| r.values()))
            .flat_map(|scopes| scopes.as_array().into_iter().flatten())
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(scopes.len(), 1, "{at}: scopes {scopes:?}");
        let scope = scopes.into_iter().next().unwrap_or_default();
        tokens::Scope::parse(scope).unwrap_or_else(|e| panic!("{at}: {e}"));
        let text = format!(
            "{} {}",
            op["summary"].as_str().unwrap_or(""),
            op["description"].as_str().unwrap_or("")
        );
        assert!(
            text.contains(&format!("Scope `{scope}`")),
            "{at}: scope {scope} not in {text:?}"
        );
    }
    let report = &doc["paths"]["/v1/reports"]["post"];
    let key = report["parameters"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == "Idempotency-Key"))
        .expect("POST /v1/reports takes an Idempotency-Key");
    assert_eq!(key["in"], "header");
    for status in ["201", "400", "401", "403", "413", "422", "503"] {
        assert!(
            report["responses"].get(status).is_some(),
            "POST /v1/reports: no {status}"
        );
    }
    let photo = &doc["paths"]["/v1/photos"]["post"]["responses"];
    assert!(photo.get("415").is_some() && photo.get("413").is_some());
}

/// Every `$ref` in the document names a schema it holds.
#[test]
fn every_reference_resolves() {
    fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    out.push(r);
                }
                map.values().for_each(|v| refs(v, out));
            }
            Value::Array(list) => list.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let doc = document();
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{r}: not a schema reference"));
        assert!(doc["components"]["schemas"].get(name).is_some(), "{r} does not resolve");
    }
}

/// The names a schema of the document lists.
fn listed(doc: &Value, schema: &str) -> Vec<String> {
    doc["components"]["schemas"][schema]["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("schema {schema} lists no names"))
        .iter()
        .map(|v| v.as_str().expect("a name").to_owned())
        .collect()
}

/// The schemas of other crates' enums list each variant as serde writes
/// and reads it, and nothing else.
#[test]
fn foreign_enums_are_listed_by_their_serde_names() {
    fn names<T: serde::Serialize + Copy>(all: &[T]) -> Vec<String> {
        all.iter()
            .map(|v| match serde_json::to_value(v) {
                Ok(Value::String(s)) => s,
                other => panic!("not a name: {other:?}"),
            })
            .collect()
    }
    fn reads_back<T: serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(all: &[T], names: &[String]) {
        for (v, name) in all.iter().zip(names) {
            assert_eq!(
                &serde_json::from_value::<T>(Value::String(name.clone())).expect(name),
                v
            );
        }
    }
    let doc = document();
    assert_eq!(listed(&doc, "Severity"), names(&Severity::ALL));
    reads_back(&Severity::ALL, &listed(&doc, "Severity"));
    assert_eq!(listed(&doc, "Category"), names(&CATEGORIES));
    reads_back(&CATEGORIES, &listed(&doc, "Category"));
    assert_eq!(listed(&doc, "Mode"), names(&MODES));
    reads_back(&MODES, &listed(&doc, "Mode"));
    let states: Vec<String> = STATES.iter().map(|s| s.name().to_owned()).collect();
    assert_eq!(listed(&doc, "IncidentState"), states);
    assert_eq!(listed(&doc, "PhotoType"), ["image/jpeg", "image/png"]);
    for state in STATES {
        let status = super::super::open311::status_of_state(state);
        assert!(listed(&doc, "Open311Status").iter().any(|s| s == status), "{status}");
    }
    let codes: Vec<&str> = super::super::open311::SERVICES.iter().map(|s| s.code).collect();
    assert_eq!(listed(&doc, "ServiceCode"), codes);
    assert_eq!(listed(&doc, "OrderStep"), ORDER_STEPS);
    let max = &doc["components"]["schemas"]["ReportIn"]["properties"]["photos"]["maxItems"];
    assert_eq!(max.as_u64(), Some(liandong_dispatch::core::rules::MAX_PHOTOS as u64));
}

/// A gateway's router with no token issued and a driver that is gone.
fn router(dir: &std::path::Path) -> Router {
    let (calls, _) = tokio::sync::mpsc::channel(1);
    let api = Arc::new(Api {
        me: NodeId::parse("350102").expect("node id"),
        tokens: tokens::TokenWatch::new(dir.join("gateway-tokens.toml")),
        calls,
        photos: PhotoFiles::new(dir),
        photo_max: DEFAULT_PHOTO_MAX,
    });
    routes::router(api)
}

/// Every documented operation reaches its handler: the router answers it
/// with something other than axum's own 404 (no body) or 405.
#[tokio::test]
async fn every_documented_operation_is_served() {
    let dir = tempfile::tempdir().expect("tempdir");
    let router = router(dir.path());
    let doc = document();
    for (method, path, _) in operations(&doc) {
        let uri = path
            .replace("{id}", &"0".repeat(32))
            .replace("{sha256}", &"0".repeat(64))
            .replace("{step}", "sign");
        let request = Request::builder()
            .method(Method::from_bytes(method.to_uppercase().as_bytes()).expect("method"))
            .uri(&uri)
            .body(Body::empty())
            .expect("request");
        let answer = router.clone().oneshot(request).await.expect("an answer");
        let status = answer.status();
        let body = axum::body::to_bytes(answer.into_body(), 1 << 20).await.expect("body");
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {uri}");
        assert!(
            !(status == StatusCode::NOT_FOUND && body.is_empty()),
            "{method} {uri}: not routed"
        );
    }
}

/// `GET /v1/openapi.json` answers the document, with no token.
#[tokio::test]
async fn the_document_is_served_without_a_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let request = Request::get("/v1/openapi.json").body(Body::empty()).expect("request");
    let answer = router(dir.path()).oneshot(request).await.expect("an answer");
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(answer.headers()["content-type"], "application/json");
    let body = axum::body::to_bytes(answer.into_body(), 1 << 20).await.expect("body");
    let served: Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(served, document());
}

/// Nothing in the gateway routes a request but through utoipa-axum's
/// `routes!` (which documents it): no axum `route`, `route_service`,
/// `nest`, `nest_service` or `fallback` in its files.
#[test]
fn nothing_is_routed_past_the_document() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/gateway");
    let calls: Vec<String> = ["route", "route_service", "nest", "nest_service", "fallback"]
        .iter()
        .map(|m| format!(".{m}("))
        .collect();
    let mut files = vec![dir.clone()];
    let mut read = 0;
    while let Some(path) = files.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).expect("read the gateway's sources") {
                files.push(entry.expect("an entry").path());
            }
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        read += 1;
        let text = std::fs::read_to_string(&path).expect("a source file");
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for call in &calls {
                assert!(
                    !code.contains(call.as_str()),
                    "{}:{}: `{call}` routes past the OpenAPI document; register the handler \
                     with utoipa-axum's `routes!` and a #[utoipa::path] instead",
                    path.display(),
                    n + 1
                );
            }
        }
    }
    assert!(read >= 5, "read {read} files under {}", dir.display());
}
