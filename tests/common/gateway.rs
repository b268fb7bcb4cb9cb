//! What a gateway test needs before its first request: the gateway's own
//! TLS certificate (a web name, `localhost`, not a node's) and API tokens
//! issued with `liandong gateway token issue`, as a center would; and
//! curl as the systems that call it.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The gateway's certificate for `localhost` in `dir`, and its key (mode 0600).
pub fn certificate(dir: &Path) -> (PathBuf, PathBuf) {
    use std::os::unix::fs::OpenOptionsExt;
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
    let (pem, key) = (dir.join("gateway.pem"), dir.join("gateway.key"));
    std::fs::write(&pem, cert.cert.pem()).expect("write the gateway's certificate");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&key)
        .expect("open the gateway's key file");
    f.write_all(cert.signing_key.serialize_pem().as_bytes())
        .expect("write the gateway's key");
    (pem, key)
}

/// A token for the system `name` with `scope` (e.g. `report,read`),
/// issued into the center's data directory `data`.
pub fn issue_token(data: &Path, name: &str, scope: &str) -> String {
    let out = super::liandong(&[
        "gateway",
        "token",
        "issue",
        "--data",
        super::arg(data),
        "--name",
        name,
        "--scope",
        scope,
    ]);
    assert!(out.status.success(), "{}", super::stderr(&out));
    super::stdout(&out).trim().to_owned()
}

/// What curl got: the status and the body.
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: status {} body {:?}", self.status, self.body))
    }
}

/// A gateway as curl reaches it: its address, the certificate to trust.
pub struct Gw {
    pub at: SocketAddr,
    pub cert: PathBuf,
}

impl Gw {
    pub fn new(ip: Ipv4Addr, port: u16, cert: &Path) -> Gw {
        Gw {
            at: SocketAddr::new(ip.into(), port),
            cert: cert.to_owned(),
        }
    }
}

/// curl as a hotline's system would call the gateway.
pub fn curl(gw: &Gw, method: &str, path: &str, token: Option<&str>, headers: &[&str], body: Option<&[u8]>) -> Answer {
    let mut cmd = Command::new("curl");
    cmd.args([
        "-sS",
        "--max-time",
        "20",
        "-X",
        method,
        "-o",
        "-",
        "-w",
        "\n%{http_code}",
    ])
    .arg("--cacert")
    .arg(&gw.cert)
    .args(["--resolve", &format!("localhost:{}:{}", gw.at.port(), gw.at.ip())]);
    if let Some(t) = token {
        cmd.args(["-H", &format!("Authorization: Bearer {t}")]);
    }
    for h in headers {
        cmd.args(["-H", h]);
    }
    if body.is_some() {
        if !headers.iter().any(|h| h.starts_with("Content-Type")) {
            cmd.args(["-H", "Content-Type: application/json"]);
        }
        cmd.args(["--data-binary", "@-"]);
    }
    cmd.arg(format!("https://localhost:{}{path}", gw.at.port()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run curl");
    if let Some(b) = body {
        child.stdin.take().expect("stdin").write_all(b).expect("body to curl");
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    let status = match code.trim().parse::<u16>() {
        Ok(0) | Err(_) => panic!("curl {method} {path}: {text} {}", String::from_utf8_lossy(&out.stderr)),
        Ok(status) => status,
    };
    Answer {
        status,
        body: body.to_owned(),
    }
}
