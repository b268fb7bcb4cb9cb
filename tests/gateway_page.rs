//! The grid workers' page end to end: a real `liandong node run` (the
//! county of the demo federation, its city beside it) serving its gateway
//! on loopback, and Debian's Chromium, headless at a phone's size
//! (390×844), driven over WebDriver by chromedriver as a grid worker's
//! thumb would: the token typed once, two reports filed (one with a
//! photo), both followed until the page says they are at their owners, in
//! Chinese and then in English, both remembered across a reload. Skipped
//! without chromium and chromedriver unless `CI` is set.
//!
//! With `LIANDONG_WRITE_SCREENSHOTS=1` it writes the page's screenshots to
//! `docs/gateway-page-zh.png` and `docs/gateway-page-en.png` (Chinese text
//! needs a CJK font, e.g. Debian's fonts-noto-cjk).

mod common;
mod federation;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::webdriver::{Driver, Session};
use federation::{Federation, id, incident_at};
use liandong_dispatch::EnvelopeId;
use liandong_dispatch::wire::{Category, PhotoKind};
use liandong_topology::Severity;
use serde_json::json;

const IP: Ipv4Addr = Ipv4Addr::new(127, 0, 16, 1);
const CITY: &str = "350100";
const COUNTY: &str = "350102";
const GATEWAY_PORT: u16 = 8443;
const WAIT: Duration = Duration::from_secs(30);
/// A phone's viewport, in CSS pixels.
const PHONE: (u32, u32) = (390, 844);
const WORKER: &str = "网格员 林晓";
const SCREENSHOTS: &str = "LIANDONG_WRITE_SCREENSHOTS";

fn start_county(fed: &mut Federation, cert: &Path, key: &Path) {
    fed.start_gateway(&id(COUNTY), SocketAddr::new(IP.into(), GATEWAY_PORT), cert, key);
}

/// Chooses `value` in the select `css` as a finger would: a tap on its option.
fn choose(page: &Session, css: &str, value: &str) {
    page.click(&format!("{css} option[value=\"{value}\"]"));
    let chosen = page.execute("return document.querySelector(arguments[0]).value", json!([css]));
    assert_eq!(chosen, value, "{css}");
}

/// Files one report through the form and waits until the page lists it.
fn file(page: &Session, category: &str, severity: &str, place: &str, title: &str, detail: &str, photo: Option<&Path>) {
    let listed = page.execute("return document.querySelectorAll('#list li').length", json!([]));
    choose(page, "#category", category);
    choose(page, "#severity", severity);
    page.type_into("#place", place);
    page.type_into("#title", title);
    page.type_into("#detail", detail);
    if let Some(photo) = photo {
        // The file input takes a path, as the phone's picker would give it a file.
        page.type_into("#photo", &photo.display().to_string());
        page.wait_text("#count", "1/4");
        let thumbs = page.execute("return document.querySelectorAll('#thumbs img').length", json!([]));
        assert_eq!(thumbs, 1, "a thumbnail for the photo");
    }
    page.click("#send");
    page.wait_text("#list li:first-child .ttl", title);
    assert!(page.text("#msg").contains("已提交"), "{}", page.text("#msg"));
    let now = page.execute("return document.querySelectorAll('#list li').length", json!([]));
    assert_eq!(now.as_u64(), listed.as_u64().map(|n| n + 1), "one more report listed");
}

/// The page at its top, no field focused, as a worker first sees it.
fn screenshot(page: &Session, name: &str) {
    page.execute("document.activeElement.blur(); window.scrollTo(0, 0)", json!([]));
    let png = page.screenshot();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!((width, height), PHONE, "the screenshot is the phone's screen");
    if std::env::var_os(SCREENSHOTS).is_some_and(|v| v == "1") {
        let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs").join(name);
        std::fs::create_dir_all(out.parent().unwrap()).unwrap();
        std::fs::write(&out, png).unwrap();
        eprintln!("wrote {}", out.display());
    }
}

/// Everything the worker does on the phone; the id of the report with the photo.
fn grid_worker(base: &str, token: &str, photo: &Path, profile: &Path) -> String {
    let driver = Driver::start();
    let page = driver.phone(PHONE.0, PHONE.1, profile);
    page.script_timeout(WAIT);

    // The gateway's root sends the browser to the page; Chinese first,
    // asking for the token.
    page.goto(&format!("{base}/"));
    page.wait_text("#login", "输入令牌");
    let at = page.execute("return location.pathname", json!([]));
    assert_eq!(at, "/app");
    assert_eq!(page.text("h1"), "联动 · 网格上报");
    assert_eq!(page.text("#list"), "", "nothing filed from this phone yet");
    page.type_into("#token", token);
    page.click("#save");
    page.wait_text("#send", "提交上报");

    // A dispute the county handles itself (IV stays at the county)...
    file(
        &page,
        "Dispute",
        "IV",
        "鼓山镇福兴村",
        "邻里漏水纠纷",
        "5号楼两户因楼上漏水发生争执，需调解。",
        None,
    );
    // ...and a hazard with a photo that the city handles (III climbs to the city).
    file(
        &page,
        "Hazard",
        "III",
        "鼓山镇福兴村3号楼",
        "楼道堆放液化气罐",
        "三楼楼道内堆放约10个液化气罐，存在火灾隐患。",
        Some(photo),
    );
    page.wait_text("#list li:nth-child(1) .stage", "已到达承办中心");
    page.wait_text("#list li:nth-child(2) .stage", "已到达承办中心");
    let hazard = page.text("#list li:nth-child(1)");
    for shown in [
        "较大",
        "安全隐患",
        "鼓山镇福兴村3号楼",
        "照片 1",
        &format!("承办：{CITY}"),
    ] {
        assert!(hazard.contains(shown), "{shown:?} not in {hazard:?}");
    }
    assert!(page.text("#list li:nth-child(2)").contains(&format!("承办：{COUNTY}")));
    screenshot(&page, "gateway-page-zh.png");

    // English on the toggle.
    page.click("#lang");
    page.wait_text("#list li:nth-child(1) .stage", "at its owner");
    page.wait_text("#list li:nth-child(2) .stage", "at its owner");
    assert_eq!(page.text("h1"), "Liandong · Grid report");
    let hazard = page.text("#list li:nth-child(1)");
    for shown in ["III", "Hazard", "1 photo", &format!("Owner: {CITY}")] {
        assert!(hazard.contains(shown), "{shown:?} not in {hazard:?}");
    }
    assert!(page.text("#msg").starts_with("Filed, number"), "{}", page.text("#msg"));

    // The phone remembers: the language, the token, its reports.
    page.goto(&format!("{base}/app"));
    page.wait_text("#list li:nth-child(2) .stage", "at its owner");
    assert_eq!(page.text("#send"), "File report");
    let login_shown = page.execute("return !document.getElementById('login').hidden", json!([]));
    assert_eq!(login_shown, false, "the token is kept");
    screenshot(&page, "gateway-page-en.png");

    let id = page.execute("return JSON.parse(localStorage.getItem('ld.reports'))[0].id", json!([]));
    id.as_str().expect("the report's id").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grid_worker_files_with_a_photo_and_follows_it_to_its_owner() {
    let why = "the grid workers' page in a real browser";
    if !common::tool::require("chromium", "gateway page e2e", why)
        || !common::tool::require("chromedriver", "gateway page e2e", why)
    {
        return;
    }
    let mut fed = Federation::demo(IP);
    let (cert, key) = common::gateway::certificate(fed.path());
    fed.start(&id(CITY));
    start_county(&mut fed, &cert, &key);
    let token = common::gateway::issue_token(&fed.data_dir(&id(COUNTY)), WORKER, "report,read");
    let photo = fed.path().join("现场.png");
    let png = liandong_node::demo::png::photo(64, 48, 1);
    let photo_size = png.len() as u64;
    std::fs::write(&photo, png).unwrap();
    let profile = fed.path().join("chromium");

    // The gateway's certificate names localhost; the browser is told to
    // take it (as a worker's phone would take the center's real one).
    let base = format!("https://{IP}:{GATEWAY_PORT}");
    let report = tokio::task::spawn_blocking(move || grid_worker(&base, &token, &photo, &profile))
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));

    // What the page sent is what reached the city, from the worker.
    let city = fed.client(&id(CITY), "值班员").await;
    let envelope = EnvelopeId(u128::from_str_radix(&report, 16).expect("hex id"));
    let incident = incident_at(&city, envelope).await.expect("the report is at the city");
    assert_eq!(incident.report.reporter, WORKER);
    assert_eq!(incident.report.title, "楼道堆放液化气罐");
    assert_eq!(incident.report.place, "鼓山镇福兴村3号楼");
    assert_eq!(incident.report.category, Category::Hazard);
    assert_eq!(incident.report.severity, Severity::III);
    let photos: Vec<(u64, PhotoKind)> = incident.report.photos.iter().map(|p| (p.size, p.kind)).collect();
    assert_eq!(photos, [(photo_size, PhotoKind::Png)], "the photo went with the report");
}
