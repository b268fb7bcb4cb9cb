//! The grid workers' page: one small document at `GET /app` (and `GET /`
//! sends the browser there) for a phone on a thin link, to file a report
//! with photos and follow the stages of one's own reports. Plain HTML, CSS
//! and JavaScript from `page/`, put into one document (one request) and
//! gzipped once, at first use; no build step and nothing from elsewhere.
//! Chinese first, English on a toggle.
//!
//! Loading the page needs no token: the page holds no data. What it shows
//! comes from the JSON API (`api`), every call with the token the worker
//! typed once (kept in the phone's localStorage). The page's own answer
//! carries a Content-Security-Policy allowing only its own script and
//! style (by hash) and calls to this origin, so a report's text can never
//! run as script, and the token goes nowhere else.

use std::io::Write;
use std::sync::{Arc, LazyLock};

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::door::Api;
use base64::Engine;
use ring::digest::{SHA256, digest};

/// Where the page is served.
pub const PATH: &str = "/app";

const HTML: &str = include_str!("page/page.html");
const CSS: &str = include_str!("page/page.css");
const JS: &str = include_str!("page/page.js");

/// The page as served: the document, its gzip, and the headers that name it.
struct Page {
    html: String,
    gzip: Vec<u8>,
    etag: HeaderValue,
    csp: HeaderValue,
}

static PAGE: LazyLock<Page> = LazyLock::new(|| {
    let html = HTML.replacen("/*CSS*/", CSS, 1).replacen("/*JS*/", JS, 1);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing into a Vec cannot fail.
    let gzip = gz
        .write_all(html.as_bytes())
        .and_then(|()| gz.finish())
        .unwrap_or_default();
    let tag = digest(&SHA256, html.as_bytes());
    let etag = format!("\"{}\"", hex(&tag.as_ref()[..12]));
    let csp = format!(
        "default-src 'none'; script-src '{}'; style-src '{}'; img-src blob:; connect-src 'self'; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        source_hash(JS),
        source_hash(CSS)
    );
    Page {
        html,
        gzip,
        etag: HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"page\"")),
        csp: HeaderValue::from_str(&csp).unwrap_or(HeaderValue::from_static("default-src 'none'")),
    }
});

/// `GET /` and `GET /app`; no token needed.
pub fn routes() -> OpenApiRouter<Arc<Api>> {
    OpenApiRouter::default().routes(routes!(home)).routes(routes!(page))
}

/// `/` leads to the page.
#[utoipa::path(
    get,
    path = "/",
    tag = "page",
    description = "Leads to the grid workers' page (`/app`). No token.",
    responses((status = 303, description = "See `/app`")),
    security(()),
)]
async fn home() -> Redirect {
    Redirect::to(PATH)
}

/// The grid workers' page.
#[utoipa::path(
    get,
    path = "/app",
    tag = "page",
    description = "The grid workers' page: one HTML document (gzipped when the phone accepts it), \
                   Chinese first, English on its toggle; every call it makes is this API's with the \
                   worker's token. No token to load it.",
    responses(
        (status = 200, description = "The page", content_type = "text/html"),
        (status = 304, description = "Not modified (If-None-Match)"),
    ),
    security(()),
)]
async fn page(headers: HeaderMap) -> Response {
    let page = &*PAGE;
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == page.etag.as_bytes());
    let gzip = !page.gzip.is_empty() && accepts_gzip(&headers);
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else if gzip {
        page.gzip.clone().into_response()
    } else {
        page.html.clone().into_response()
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if gzip && !fresh {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    h.insert(header::ETAG, page.etag.clone());
    // Asked again each time, answered 304 while it has not changed.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::CONTENT_SECURITY_POLICY, page.csp.clone());
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// Whether `Accept-Encoding` takes gzip (and not with `q=0`).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|p| p.strip_prefix("q=").is_some_and(|q| q.parse::<f32>() == Ok(0.0)));
            name.eq_ignore_ascii_case("gzip") && !refused
        })
}

/// A CSP source allowing exactly this inline script or style.
fn source_hash(text: &str) -> String {
    let d = digest(&SHA256, text.as_bytes());
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(d.as_ref())
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use liandong_dispatch::wire::Category;
    use liandong_topology::Severity;

    /// The page a phone on 2G loads: kept small.
    const BUDGET: usize = 20 * 1024;

    #[test]
    fn the_page_is_one_small_document() {
        let page = &*PAGE;
        assert!(!page.html.contains("/*CSS*/") && !page.html.contains("/*JS*/"));
        assert!(page.html.len() < BUDGET, "the page is {} bytes", page.html.len());
        assert!(page.gzip.len() < page.html.len() / 2, "gzip {} bytes", page.gzip.len());
        assert!(!JS.contains("</script") && !CSS.contains("</style"));
        // Nothing from elsewhere: no URL but this origin's.
        for text in [HTML, CSS, JS] {
            assert!(!text.contains("http://") && !text.contains("https://") && !text.contains("//cdn"));
        }
    }

    #[test]
    fn the_policy_allows_exactly_the_page_s_own_script_and_style() {
        let csp = PAGE.csp.to_str().unwrap();
        assert!(csp.contains(&format!("script-src '{}'", source_hash(JS))), "{csp}");
        assert!(csp.contains(&format!("style-src '{}'", source_hash(CSS))), "{csp}");
        assert!(csp.starts_with("default-src 'none'"));
    }

    /// The names in the page's lists, between `var NAME = [` and `]`.
    fn js_list(name: &str) -> Vec<String> {
        let start = JS.find(&format!("var {name} = [")).expect(name);
        let rest = &JS[start..];
        let list = &rest[rest.find('[').unwrap() + 1..rest.find(']').unwrap()];
        list.split(',').map(|s| s.trim().trim_matches('"').to_owned()).collect()
    }

    #[test]
    fn the_page_s_categories_and_severities_are_the_api_s() {
        let categories = js_list("CATEGORIES");
        assert_eq!(categories.len(), 8);
        for c in &categories {
            serde_json::from_str::<Category>(&format!("\"{c}\"")).unwrap_or_else(|e| panic!("{c}: {e}"));
        }
        let severities = js_list("SEVERITIES");
        assert_eq!(severities.len(), Severity::ALL.len());
        for s in &severities {
            serde_json::from_str::<Severity>(&format!("\"{s}\"")).unwrap_or_else(|e| panic!("{s}: {e}"));
        }
    }

    #[test]
    fn every_text_the_page_shows_is_in_both_languages() {
        let mut keys: Vec<String> = ["data-t=\"", "data-p=\""]
            .iter()
            .flat_map(|attr| HTML.split(attr).skip(1).map(|s| s[..s.find('"').unwrap()].to_owned()))
            .collect();
        keys.extend(js_list("CATEGORIES"));
        keys.extend(js_list("SEVERITIES"));
        keys.extend(js_list("SEVERITIES").iter().map(|s| format!("s{s}")));
        keys.extend(js_list("STAGES"));
        let zh = &JS[JS.find("zh: {").unwrap()..JS.find("en: {").unwrap()];
        let en = &JS[JS.find("en: {").unwrap()..];
        for k in &keys {
            let entry = format!(" {k}: \"");
            assert!(zh.contains(&entry), "no zh text for {k}");
            assert!(en.contains(&entry), "no en text for {k}");
        }
    }

    #[test]
    fn gzip_is_taken_when_offered_and_not_refused() {
        let with = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(v));
            accepts_gzip(&h)
        };
        assert!(with("gzip, deflate, br"));
        assert!(with("br;q=1.0, gzip;q=0.8"));
        assert!(!with("gzip;q=0"));
        assert!(!with("identity"));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }
}
