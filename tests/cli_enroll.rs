//! Enrolment by request, run as the real binary on real files:
//! `liandong certs request` on a "center's machine" (a directory), `certs
//! sign` on the "CA machine", `certs issue-admin`; what OpenSSL makes of
//! every key, request and certificate (skipped without `openssl`, unless
//! `CI` is set); and each kind of bad request refused with its reason while
//! the others are signed.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{arg, liandong, stderr, stdout};

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/topology/examples/demo.toml");

/// Made with `openssl req -new` for an Ed25519 key: correctly signed, but no
/// subject alternative names at all.
const NO_IDENTITY: &str = "-----BEGIN CERTIFICATE REQUEST-----
MIGQMEQCAQAwETEPMA0GA1UEAwwGMzUwMTAyMCowBQYDK2VwAyEA4Sl+j7hgxJQ2
IQXiMlJCEhnz7AJSTvs9f/AUIu8Ivh+gADAFBgMrZXADQQBwuaaJ6GkKZV2QmiMg
hTKueNHckSd0E1jJap2SGXElQHrVDG6lFtn8bACLsK4QfEt4TKgGyR2QnuI7+Icq
RhIN
-----END CERTIFICATE REQUEST-----
";

/// Likewise, with two node identities (liandong://node/350102 and 350103).
const TWO_IDENTITIES: &str = "-----BEGIN CERTIFICATE REQUEST-----
MIHdMIGQAgEAMBExDzANBgNVBAMMBjM1MDEwMjAqMAUGAytlcAMhAOEpfo+4YMSU
NiEF4jJSQhIZ8+wCUk77PX/wFCLvCL4foEwwSgYJKoZIhvcNAQkOMT0wOzA5BgNV
HREEMjAwhhZsaWFuZG9uZzovL25vZGUvMzUwMTAyhhZsaWFuZG9uZzovL25vZGUv
MzUwMTAzMAUGAytlcANBANYJHeh6obeubl/qiVbSGUkmWBbYoaXEfc0TgJPLCPZA
rOkMXfik/aK3fxfzju2vZLEfwf76TkODbRn5lZefZgI=
-----END CERTIFICATE REQUEST-----
";

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).expect("file exists").permissions().mode() & 0o777
}

/// A federation CA (and the demo's node certificates) in `dir/ca`.
fn ca(dir: &Path) -> PathBuf {
    let out = dir.join("ca");
    let init = liandong(&["certs", "init", "--topology", DEMO, "--out", arg(&out)]);
    assert!(init.status.success(), "{}", stderr(&init));
    out
}

fn ok(args: &[&str]) -> String {
    let out = liandong(args);
    assert!(out.status.success(), "{args:?}: {}{}", stdout(&out), stderr(&out));
    stdout(&out)
}

/// Replaces the first character of the request's last base64 line: bits of
/// its signature, which ends the DER.
fn tamper_signature(pem: &str) -> String {
    let mut lines: Vec<String> = pem.lines().map(str::to_owned).collect();
    let last = lines.len() - 2;
    let first = lines[last].remove(0);
    lines[last].insert(0, if first == 'A' { 'B' } else { 'A' });
    lines.join("\n") + "\n"
}

#[test]
fn a_center_requests_the_ca_signs_and_the_key_never_moves() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca");
    let init = ok(&["certs", "init", "--topology", DEMO, "--out", arg(&ca), "--ca-only"]);
    assert!(init.contains("no node keys made"), "{init}");
    assert!(ca.join("ca.pem").exists() && ca.join("revoked.toml").exists());
    assert_eq!(mode(&ca.join("ca.key")), 0o600);
    assert!(!ca.join("nodes").exists(), "--ca-only makes no node keys");
    let center = dir.path().join("center");
    let out = ok(&["certs", "request", "--node", "350102", "--out", arg(&center)]);
    assert!(
        out.contains("made a key and a certificate request for node 350102"),
        "{out}"
    );
    assert_eq!(mode(&center.join("node.key")), 0o600);
    assert_eq!(mode(&center), 0o700);
    assert!(center.join("node.csr").exists());
    let people = dir.path().join("people");
    ok(&[
        "certs",
        "request",
        "--operator",
        "--node",
        "350102",
        "--name",
        "张伟",
        "--role",
        "leader",
        "--out",
        arg(&people),
    ]);
    ok(&["certs", "request", "--admin", "陈静", "--out", arg(&people)]);
    assert_eq!(mode(&people.join("张伟.key")), 0o600);
    assert_eq!(mode(&people.join("陈静.key")), 0o600);

    // The CA machine gets the requests only.
    let inbox = dir.path().join("inbox");
    for (from, to) in [
        (center.join("node.csr"), inbox.join("350102/node.csr")),
        (people.join("张伟.csr"), inbox.join("people/张伟.csr")),
        (people.join("陈静.csr"), inbox.join("people/陈静.csr")),
    ] {
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(from, to).unwrap();
    }
    let signed = ok(&["certs", "sign", "--ca", arg(&ca), "--topology", DEMO, arg(&inbox)]);
    assert!(signed.contains("signed 3 of 3 requests"), "{signed}");
    for (pem, identity) in [
        ("350102/node.pem", "identity     node 350102"),
        ("people/张伟.pem", "identity     leader 张伟 at node 350102"),
        ("people/陈静.pem", "identity     federation admin 陈静"),
    ] {
        let cert = inbox.join(pem);
        assert!(cert.parent().unwrap().join("ca.pem").exists(), "ca.pem beside {pem}");
        let inspect = ok(&["certs", "inspect", arg(&cert), "--ca", arg(&ca)]);
        assert!(inspect.contains(identity), "{inspect}");
        assert!(inspect.contains("verification valid"), "{inspect}");
    }
    let inspect = ok(&["certs", "inspect", arg(&inbox.join("350102/node.pem"))]);
    assert!(
        inspect.contains("subject CN   鼓楼区"),
        "the topology names the node: {inspect}"
    );
    assert!(!inbox.join("350102/node.key").exists(), "no key at the CA");

    // A rerun signs nothing new.
    let again = ok(&["certs", "sign", "--ca", arg(&ca), arg(&inbox)]);
    assert!(
        again.contains("signed 0 of 3 requests") && again.contains("kept 3"),
        "{again}"
    );
}

#[test]
fn request_never_overwrites_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let center = dir.path().join("center");
    ok(&["certs", "request", "--node", "350102", "--out", arg(&center)]);
    let key = std::fs::read(center.join("node.key")).unwrap();
    let again = liandong(&["certs", "request", "--node", "350102", "--out", arg(&center)]);
    assert_eq!(again.status.code(), Some(1));
    let err = stderr(&again);
    assert!(
        err.starts_with("error: cannot write the request for node 350102"),
        "{err}"
    );
    assert!(
        err.contains(&format!("{} already exists", center.join("node.key").display())),
        "{err}"
    );
    assert!(err.contains("never overwritten"), "{err}");
    assert_eq!(std::fs::read(center.join("node.key")).unwrap(), key);

    let both = liandong(&[
        "certs",
        "request",
        "--admin",
        "陈静",
        "--node",
        "350102",
        "--out",
        arg(&center),
    ]);
    assert_eq!(both.status.code(), Some(2), "a usage error");
    let bad = liandong(&["certs", "request", "--admin", "a/b", "--out", arg(&center)]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("contains '/'"), "{}", stderr(&bad));
}

#[test]
fn bad_requests_are_refused_one_by_one_and_the_rest_signed() {
    let dir = tempfile::tempdir().unwrap();
    let ca = ca(dir.path());
    let inbox = dir.path().join("inbox");
    let good = inbox.join("350121");
    ok(&["certs", "request", "--node", "350121", "--out", arg(&good)]);
    let unknown = inbox.join("350199");
    ok(&["certs", "request", "--node", "350199", "--out", arg(&unknown)]);
    let changed = inbox.join("350102");
    ok(&["certs", "request", "--node", "350102", "--out", arg(&changed)]);
    let csr = std::fs::read_to_string(changed.join("node.csr")).unwrap();
    std::fs::write(changed.join("node.csr"), tamper_signature(&csr)).unwrap();
    let bad = inbox.join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(bad.join("garbage.csr"), "这不是证书请求\n").unwrap();
    std::fs::write(bad.join("truncated.csr"), &csr[..csr.len() / 2]).unwrap();
    std::fs::write(bad.join("none.csr"), NO_IDENTITY).unwrap();
    std::fs::write(bad.join("two.csr"), TWO_IDENTITIES).unwrap();

    let sign = liandong(&["certs", "sign", "--ca", arg(&ca), "--topology", DEMO, arg(&inbox)]);
    assert_eq!(sign.status.code(), Some(1), "{}", stdout(&sign));
    let err = stderr(&sign);
    let line = |file: &Path| -> String {
        let name = file.display().to_string();
        err.lines()
            .find(|l| l.starts_with(&format!("refused {name}: ")))
            .unwrap_or_else(|| panic!("no refusal for {name} in:\n{err}"))
            .to_owned()
    };
    assert!(
        line(&unknown.join("node.csr")).contains("node 350199 is not in the topology"),
        "{err}"
    );
    assert!(
        line(&changed.join("node.csr")).contains("signature does not verify"),
        "{err}"
    );
    assert!(
        line(&bad.join("garbage.csr")).contains("not a PEM certificate request"),
        "{err}"
    );
    assert!(line(&bad.join("truncated.csr")).contains("truncated"), "{err}");
    assert!(
        line(&bad.join("none.csr")).contains("carries no liandong:// identity"),
        "{err}"
    );
    let two = line(&bad.join("two.csr"));
    assert!(two.contains("several liandong:// identities"), "{two}");
    assert!(two.contains("liandong://node/350103"), "{two}");
    assert!(err.contains("error: 6 of 7 requests were refused"), "{err}");
    assert!(stdout(&sign).contains("signed 1 of 7 requests"), "{}", stdout(&sign));
    assert!(good.join("node.pem").exists(), "the good request is signed");
    for refused in [&unknown, &changed] {
        assert!(!refused.join("node.pem").exists());
    }
}

#[test]
fn renewal_replaces_only_when_asked_and_keeps_the_old_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let ca = ca(dir.path());
    let center = dir.path().join("350102");
    ok(&["certs", "request", "--node", "350102", "--out", arg(&center)]);
    ok(&["certs", "sign", "--ca", arg(&ca), arg(&center.join("node.csr"))]);
    let old = std::fs::read(center.join("node.pem")).unwrap();

    // The center made a new key (elsewhere) and its request came back here.
    let renewing = dir.path().join("renewing");
    ok(&["certs", "request", "--node", "350102", "--out", arg(&renewing)]);
    std::fs::copy(renewing.join("node.csr"), center.join("node.csr")).unwrap();
    let refused = liandong(&["certs", "sign", "--ca", arg(&ca), arg(&center)]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr(&refused).contains("rerun with --renew"), "{}", stderr(&refused));
    assert_eq!(std::fs::read(center.join("node.pem")).unwrap(), old);

    let renewed = ok(&["certs", "sign", "--ca", arg(&ca), "--renew", arg(&center)]);
    assert!(renewed.contains("renewed node 350102"), "{renewed}");
    let archived: Vec<PathBuf> = std::fs::read_dir(&center)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with("node.") && name.ends_with(".pem") && name != "node.pem"
        })
        .collect();
    assert_eq!(archived.len(), 1, "{archived:?}");
    assert_eq!(std::fs::read(&archived[0]).unwrap(), old);
    let inspect = ok(&["certs", "inspect", arg(&archived[0]), "--ca", arg(&ca)]);
    assert!(
        inspect.contains("verification valid"),
        "history stays verifiable: {inspect}"
    );
    assert_ne!(std::fs::read(center.join("node.pem")).unwrap(), old);
}

#[test]
fn issue_admin_writes_a_private_key_and_an_admin_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let ca = ca(dir.path());
    let out = ok(&["certs", "issue-admin", "--ca", arg(&ca), "--name", "陈静"]);
    assert!(out.contains("issued a federation admin certificate for 陈静"), "{out}");
    let pem = ca.join("admins/陈静.pem");
    assert_eq!(mode(&ca.join("admins/陈静.key")), 0o600);
    let inspect = ok(&["certs", "inspect", arg(&pem), "--ca", arg(&ca)]);
    assert!(inspect.contains("identity     federation admin 陈静"), "{inspect}");
    assert!(inspect.contains("documentSigning"), "{inspect}");
    assert!(inspect.contains("URI:liandong://admin/"), "{inspect}");
    let again = liandong(&["certs", "issue-admin", "--ca", arg(&ca), "--name", "陈静"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("already exists"), "{}", stderr(&again));
}

/// Runs `openssl args`; panics with its output if it fails.
fn openssl(args: &[&str]) {
    let out = Command::new("openssl").args(args).output().expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn openssl_reads_every_key_request_and_certificate() {
    if !common::tool::require(
        "openssl",
        "openssl_reads_every_key_request_and_certificate",
        "checks OpenSSL reads the keys, requests and certificates Liandong writes",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ca = ca(dir.path());
    let center = dir.path().join("center");
    ok(&["certs", "request", "--node", "350102", "--out", arg(&center)]);
    ok(&[
        "certs",
        "request",
        "--operator",
        "--node",
        "350102",
        "--name",
        "张伟",
        "--role",
        "operator",
        "--out",
        arg(&center),
    ]);
    let admin = dir.path().join("admin");
    ok(&["certs", "request", "--admin", "陈静", "--out", arg(&admin)]);
    for csr in [center.join("node.csr"), center.join("张伟.csr"), admin.join("陈静.csr")] {
        openssl(&["req", "-verify", "-in", arg(&csr), "-noout"]);
    }
    ok(&["certs", "sign", "--ca", arg(&ca), "--topology", DEMO, arg(&center)]);
    ok(&["certs", "sign", "--ca", arg(&ca), arg(&admin)]);
    ok(&["certs", "issue-admin", "--ca", arg(&ca), "--name", "王强"]);
    ok(&[
        "certs",
        "issue-operator",
        "--ca",
        arg(&ca),
        "--node",
        "350102",
        "--name",
        "李明",
        "--role",
        "operator",
    ]);

    // Every kind of key Liandong writes: made by request, by init (CA and
    // nodes), by issue-operator and issue-admin.
    for key in [
        center.join("node.key"),
        center.join("张伟.key"),
        admin.join("陈静.key"),
        ca.join("ca.key"),
        ca.join("nodes/350102/node.key"),
        ca.join("operators/350102/李明.key"),
        ca.join("admins/王强.key"),
    ] {
        openssl(&["pkey", "-in", arg(&key), "-noout"]);
    }
    for pem in [center.join("node.pem"), center.join("张伟.pem"), admin.join("陈静.pem")] {
        openssl(&["x509", "-in", arg(&pem), "-noout"]);
    }
    // OpenSSL agrees the enrolled node's chain is sound.
    openssl(&[
        "verify",
        "-CAfile",
        arg(&center.join("ca.pem")),
        arg(&center.join("node.pem")),
    ]);

    // A request made by OpenSSL itself, for a key OpenSSL made, is as good.
    let other = dir.path().join("openssl-made");
    std::fs::create_dir_all(&other).unwrap();
    let key = other.join("node.key");
    openssl(&["genpkey", "-algorithm", "ed25519", "-out", arg(&key)]);
    openssl(&[
        "req",
        "-new",
        "-key",
        arg(&key),
        "-subj",
        "/CN=350121",
        "-addext",
        "subjectAltName=URI:liandong://node/350121",
        "-out",
        arg(&other.join("node.csr")),
    ]);
    let signed = ok(&["certs", "sign", "--ca", arg(&ca), "--topology", DEMO, arg(&other)]);
    assert!(signed.contains("signed node 350121"), "{signed}");
}

/// `certs renew` on a center's machine: a renewal that does not check
/// (another node's certificate, another CA's, one for another key) is
/// refused naming the file, and nothing in force moves; a good one is put
/// in place with the old certificate kept under retired/.
#[test]
fn certs_renew_checks_the_renewal_before_anything_moves() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fed_ca = ca(dir.path());
    let center = dir.path().join("350102");
    ok(&["certs", "request", "--node", "350102", "--out", arg(&center)]);
    ok(&["certs", "sign", "--ca", arg(&fed_ca), "--topology", DEMO, arg(&center)]);
    let in_force = std::fs::read(center.join("node.pem")).expect("node.pem");
    let key_in_force = std::fs::read(center.join("node.key")).expect("node.key");
    let renewal = center.join("renewal");
    let refused = |what: &str| {
        let out = liandong(&["certs", "renew", "--certs", arg(&center)]);
        assert!(!out.status.success(), "{what} was taken");
        assert_eq!(
            std::fs::read(center.join("node.pem")).expect("node.pem"),
            in_force,
            "{what}"
        );
        assert_eq!(
            std::fs::read(center.join("node.key")).expect("node.key"),
            key_in_force,
            "{what}"
        );
        stderr(&out)
    };

    // Nothing requested yet.
    assert!(refused("no renewal").contains("renewal/node.key is missing"));

    ok(&["certs", "request", "--node", "350102", "--out", arg(&center), "--renew"]);
    assert!(renewal.join("node.key").exists() && renewal.join("node.csr").exists());
    // Signed, but for another node: the demo city 350100.
    std::fs::copy(fed_ca.join("nodes/350100/node.pem"), renewal.join("node.pem")).expect("copy");
    let why = refused("another node's certificate");
    assert!(why.contains("a renewal keeps the identity"), "{why}");
    // This node's, but for the key in force, not the new one.
    std::fs::write(renewal.join("node.pem"), &in_force).expect("write");
    let why = refused("a certificate of the old key");
    assert!(why.contains("renewal/node.pem"), "{why}");
    // From another federation's CA.
    let other = ca(&dir.path().join("other"));
    let signed_elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir_all(&signed_elsewhere).expect("dir");
    std::fs::copy(renewal.join("node.csr"), signed_elsewhere.join("node.csr")).expect("copy");
    ok(&[
        "certs",
        "sign",
        "--ca",
        arg(&other),
        arg(&signed_elsewhere.join("node.csr")),
    ]);
    std::fs::copy(signed_elsewhere.join("node.pem"), renewal.join("node.pem")).expect("copy");
    let why = refused("another CA's certificate");
    assert!(why.contains("renewal/node.pem is refused"), "{why}");

    // The CA's signature on the renewal's own request (the other CA's
    // certificate taken away first: `certs sign` keeps one for the same key).
    std::fs::remove_file(renewal.join("node.pem")).expect("remove");
    ok(&["certs", "sign", "--ca", arg(&fed_ca), arg(&renewal.join("node.csr"))]);
    let said = ok(&["certs", "renew", "--certs", arg(&center)]);
    assert!(said.contains("renewed node 350102"), "{said}");
    assert_ne!(std::fs::read(center.join("node.pem")).expect("node.pem"), in_force);
    assert_eq!(mode(&center.join("node.key")), 0o600);
    let retired: Vec<_> = std::fs::read_dir(center.join("retired")).expect("retired/").collect();
    assert_eq!(retired.len(), 1);
    assert!(!renewal.exists(), "the renewal directory is left behind");
}
