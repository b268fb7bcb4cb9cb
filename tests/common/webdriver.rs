//! A headless Chromium driven over the W3C WebDriver protocol, for tests
//! of the pages the gateway serves: Debian's `chromedriver` started on a
//! port it picks (loopback only), one session, and the dozen commands a
//! test needs (go to, find, click, type, read text, run script, wait,
//! screenshot), as JSON over plain HTTP/1.1 on a std `TcpStream`.
//!
//! A small client of its own rather than a WebDriver crate: the protocol
//! is a few JSON calls over loopback HTTP, the async crates (fantoccini,
//! thirtyfour) would bring an HTTP client stack and its TLS features into
//! the tests' graph for no gain, and this one blocks, which is what a
//! test's script of steps wants.
//!
//! Waiting is on the page's own events: [`Session::wait_text`] runs an
//! async script that a `MutationObserver` finishes when the text appears,
//! under the session's script timeout; no polling loop, no sleep.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};

/// Longest chromedriver may take to start, and any one command to answer.
const START: Duration = Duration::from_secs(30);
const ANSWER: Duration = Duration::from_secs(90);
/// The W3C name of the key that refers to an element in JSON.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A running chromedriver; killed (it and the browsers it started) when dropped.
pub struct Driver {
    child: Child,
    addr: SocketAddr,
}

impl Driver {
    /// Starts `chromedriver` on a port of its choosing and waits for it to say which.
    pub fn start() -> Driver {
        use std::os::unix::process::CommandExt;
        let mut cmd = Command::new("chromedriver");
        cmd.args(["--port=0", "--allowed-ips=127.0.0.1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = cmd.spawn().expect("run chromedriver");
        let stdout = child.stdout.take().expect("piped stdout");
        let (port_tx, port_rx) = mpsc::channel();
        std::thread::spawn(move || {
            // "ChromeDriver was started successfully on port 40679."
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split("started successfully on port ").nth(1) {
                    let _ = port_tx.send(rest.trim_end_matches('.').trim().parse::<u16>().ok());
                }
            }
        });
        let port = match port_rx.recv_timeout(START) {
            Ok(Some(port)) => port,
            other => {
                let _ = child.kill();
                panic!("chromedriver did not say its port within {START:?}: {other:?}");
            }
        };
        Driver {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        }
    }

    /// A new headless Chromium session with a phone's viewport
    /// (`width`×`height` CSS pixels, one device pixel each) that takes the
    /// gateway's self-signed certificate.
    pub fn phone(&self, width: u32, height: u32, profile: &std::path::Path) -> Session {
        let args = [
            "--headless=new".to_owned(),
            "--ignore-certificate-errors".to_owned(),
            format!("--window-size={width},{height}"),
            // Root in a container has no user namespace for the sandbox.
            "--no-sandbox".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--disable-gpu".to_owned(),
            "--no-first-run".to_owned(),
            "--hide-scrollbars".to_owned(),
            format!("--user-data-dir={}", profile.display()),
        ];
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "acceptInsecureCerts": true,
                    "goog:chromeOptions": {
                        "args": args,
                        "mobileEmulation": {
                            "deviceMetrics": { "width": width, "height": height, "pixelRatio": 1.0, "touch": true }
                        }
                    }
                }
            }
        });
        let answer = request(self.addr, "POST", "/session", Some(&capabilities));
        let id = answer["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {answer}"))
            .to_owned();
        Session { addr: self.addr, id }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One browser; closed when dropped.
pub struct Session {
    addr: SocketAddr,
    id: String,
}

/// An element of the page, as WebDriver names it.
#[derive(Debug, Clone)]
pub struct Element(String);

impl Session {
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}{path}", self.id);
        request(self.addr, method, &path, body.as_ref())
    }

    pub fn goto(&self, url: &str) {
        self.call("POST", "/url", Some(json!({ "url": url })));
    }

    /// How long scripts may run: the deadline of [`Session::wait_text`].
    pub fn script_timeout(&self, timeout: Duration) {
        let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        self.call("POST", "/timeouts", Some(json!({ "script": ms })));
    }

    /// The element `css` selects; panics if there is none.
    pub fn find(&self, css: &str) -> Element {
        let found = self.call(
            "POST",
            "/element",
            Some(json!({ "using": "css selector", "value": css })),
        );
        Element(
            found[ELEMENT]
                .as_str()
                .unwrap_or_else(|| panic!("no element {css}: {found}"))
                .to_owned(),
        )
    }

    pub fn click(&self, css: &str) {
        let e = self.find(css);
        self.call("POST", &format!("/element/{}/click", e.0), Some(json!({})));
    }

    /// Types `text` into the element (for a file input: a file's path).
    pub fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css);
        self.call(
            "POST",
            &format!("/element/{}/value", e.0),
            Some(json!({ "text": text })),
        );
    }

    /// The element's rendered text.
    pub fn text(&self, css: &str) -> String {
        let e = self.find(css);
        let v = self.call("GET", &format!("/element/{}/text", e.0), None);
        v.as_str().unwrap_or_default().to_owned()
    }

    /// Runs `script` (a function body) with `args`; its return value.
    pub fn execute(&self, script: &str, args: Value) -> Value {
        self.call("POST", "/execute/sync", Some(json!({ "script": script, "args": args })))
    }

    /// Waits, up to the script timeout, until the element `css` selects
    /// shows `want`; panics with the page's text if it never does.
    pub fn wait_text(&self, css: &str, want: &str) {
        const WAIT: &str = r#"
            const [css, want, done] = arguments;
            const shows = () => { const e = document.querySelector(css); return !!e && e.innerText.includes(want); };
            if (shows()) return done(true);
            const seen = new MutationObserver(() => { if (shows()) { seen.disconnect(); done(true); } });
            seen.observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
        "#;
        let path = format!("/session/{}/execute/async", self.id);
        let body = json!({ "script": WAIT, "args": [css, want] });
        if let Err(e) = try_request(self.addr, "POST", &path, Some(&body)) {
            let page = self.execute("return document.body.innerText", json!([]));
            panic!(
                "{css} never showed {want:?}: {e}\nthe page:\n{}",
                page.as_str().unwrap_or_default()
            );
        }
    }

    /// A PNG of the viewport.
    pub fn screenshot(&self) -> Vec<u8> {
        let v = self.call("GET", "/screenshot", None);
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().expect("screenshot as base64"))
            .expect("screenshot decodes")
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = try_request(self.addr, "DELETE", &format!("/session/{}", self.id), None);
    }
}

/// One WebDriver command; its `value`. Panics on an error answer.
fn request(addr: SocketAddr, method: &str, path: &str, body: Option<&Value>) -> Value {
    try_request(addr, method, path, body).unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

/// One WebDriver command over HTTP/1.1 (a connection each); its `value`,
/// or what was wrong.
fn try_request(addr: SocketAddr, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut stream = TcpStream::connect_timeout(&addr, START).map_err(|e| format!("connect {addr}: {e}"))?;
    stream.set_read_timeout(Some(ANSWER)).map_err(|e| e.to_string())?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body.as_bytes()))
        .map_err(|e| format!("send: {e}"))?;
    let (head, payload) = read_answer(&mut stream)?;
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status in {head:?}"))?;
    let payload = String::from_utf8_lossy(&payload);
    let answer: Value = serde_json::from_str(&payload).map_err(|e| format!("{e}: {payload}"))?;
    if status != 200 {
        return Err(format!(
            "{status} {}: {}",
            answer["value"]["error"],
            answer["value"]["message"].as_str().unwrap_or_default()
        ));
    }
    Ok(answer["value"].clone())
}

/// Reads one answer: its head, and its body by `Content-Length` or in
/// chunks (chromedriver keeps the connection open after answering).
fn read_answer(stream: &mut TcpStream) -> Result<(String, Vec<u8>), String> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        if let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..split]).into_owned();
            let body = &raw[split + 4..];
            let field = |name: &str| {
                head.lines().find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.trim()
                        .eq_ignore_ascii_case(name)
                        .then(|| v.trim().to_ascii_lowercase())
                })
            };
            if let Some(length) = field("content-length") {
                let length: usize = length.parse().map_err(|_| format!("Content-Length {length:?}"))?;
                if body.len() >= length {
                    return Ok((head, body[..length].to_vec()));
                }
            } else if field("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
                if let Some(whole) = unchunk(body) {
                    return Ok((head, whole));
                }
            } else {
                return Err(format!("an answer of unknown length: {head:?}"));
            }
        }
        let n = stream.read(&mut buf).map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("the connection closed mid-answer".into());
        }
        raw.extend_from_slice(&buf[..n]);
    }
}

/// The body of a chunked answer, once all of it (the last, empty chunk) is there.
fn unchunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = rest.windows(2).position(|w| w == b"\r\n")?;
        let size = String::from_utf8_lossy(&rest[..eol]);
        let n = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        if n == 0 {
            return Some(out);
        }
        let after = &rest[eol + 2..];
        if after.len() < n + 2 {
            return None;
        }
        out.extend_from_slice(&after[..n]);
        rest = &after[n + 2..];
    }
}
