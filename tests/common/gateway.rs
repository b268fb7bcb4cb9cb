//! What a gateway test needs before its first request: the gateway's own
//! TLS certificate (a web name, `localhost`, not a node's) and API tokens
//! issued with `liandong gateway token issue`, as a center would.

use std::io::Write;
use std::path::{Path, PathBuf};

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
