//! Writing a config file: [`render`] turns [`Settings`] into the text of
//! a `node.toml`, every field preceded by a comment saying what it is,
//! what an empty value means and whether a change needs a restart (the
//! format itself is in [`super::file`]). `liandong node init` writes it.
//!
//! Nothing here touches the file system; the caller writes the text.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;

use super::settings::Settings;
use crate::observe::LogFormat;

/// The text of a config file holding `settings`, with its comments. An
/// unset optional field is written as `""` (what it means is in its
/// comment), so the file shows every field there is.
pub fn render(settings: &Settings) -> String {
    let mut out = String::from(HEADER);
    let mut field = |comment: &str, key: &str, value: &str| {
        out.push('\n');
        for line in comment.lines() {
            let _ = writeln!(out, "# {line}");
        }
        let _ = writeln!(out, "{key} = {}", quote(value));
    };
    field(
        "This center's id: its administrative-division code (350102; 350102-police\n\
         for a member unit), as in the topology and in its certificate.\n\
         Restart to change.",
        "id",
        settings.id.as_str(),
    );
    field(
        "Where other nodes reach this node's links, IP:PORT (0.0.0.0:PORT: every\n\
         interface). Restart to change.",
        "listen",
        &addr(settings.listen),
    );
    field(
        "The parent center's address, IP:PORT: how this node reaches the federation.\n\
         Empty: the topology's address for the parent (and none for the top center).\n\
         A change applies at the next dial.",
        "parent",
        &addr(settings.parent),
    );
    field(
        "The data directory: the SQLite store node.db, control.addr.\n\
         Restart to change.",
        "data",
        &path(&settings.data),
    );
    field(
        "The store: a PostgreSQL URL (postgres://user@host/db), or empty for SQLite\n\
         in `data`. Restart to change.",
        "store",
        settings.store.as_deref().unwrap_or(""),
    );
    field(
        "The control API for operators' consoles and commands, IP:PORT. Empty:\n\
         loopback at listen's port + 1000. Restart to change.",
        "control",
        &addr(settings.control),
    );
    field(
        "Prometheus metrics at http://ADDR/metrics, IP:PORT. Empty: none.\n\
         A change applies at once.",
        "metrics",
        &addr(settings.metrics),
    );
    field(
        "Log lines: \"text\" for people, \"json\" for log shippers. A change applies\n\
         at once.",
        "log_format",
        match settings.log_format {
            LogFormat::Human => "text",
            LogFormat::Json => "json",
        },
    );
    field(
        "Which log lines, as tracing directives (\"info\", \"warn,liandong_node=debug\").\n\
         Empty: RUST_LOG, else \"info\"; RUST_LOG, when set, overrides this.\n\
         A change applies at once.",
        "log_filter",
        settings.log_filter.as_deref().unwrap_or(""),
    );
    field(
        "This node's certificate directory: node.pem, node.key and ca.pem (and\n\
         revoked.toml, re-read when it changes). Restart to change.",
        "certs",
        &path(&settings.certs),
    );
    field(
        "The federation's topology file, for a federation run without a signed\n\
         document. Restart to change.",
        "topology",
        &settings.topology.as_deref().map(path).unwrap_or_default(),
    );
    field(
        "The signed federation document (its .sig beside it) a new node starts on;\n\
         after that the node runs on the newest version in its store. Restart to change.",
        "document",
        &settings.document.as_deref().map(path).unwrap_or_default(),
    );
    let gateway = settings.gateway.as_ref();
    field(
        "The gateway (HTTPS for hotlines, apps and member units' systems), IP:PORT.\n\
         Empty: off. Tokens: `liandong gateway token issue --data DATA`. Restart to change.",
        "gateway",
        &addr(gateway.map(|g| g.listen)),
    );
    field(
        "The gateway's TLS certificate chain (PEM), for the name its systems dial.",
        "gateway_cert",
        &gateway.map(|g| path(&g.cert)).unwrap_or_default(),
    );
    field(
        "The gateway's TLS key (PEM, mode 0600).",
        "gateway_key",
        &gateway.map(|g| path(&g.key)).unwrap_or_default(),
    );
    field(
        "The largest photo the gateway takes, in MiB (1 to 32). Empty: 5.",
        "gateway_photo_max_mib",
        &gateway
            .filter(|g| g.photo_max != crate::gateway::DEFAULT_PHOTO_MAX)
            .map(|g| (g.photo_max >> 20).to_string())
            .unwrap_or_default(),
    );
    out
}

const HEADER: &str = "\
# Liandong node configuration, run with `liandong node run --config FILE`.
# Written by `liandong node init`; edit freely. Every value is a string;
# relative paths are relative to this file's directory; an unknown key is
# an error. After an edit, `systemctl reload liandong` (SIGHUP) re-reads
# the file: parent, metrics, log_format and log_filter change at once, the
# other fields at the next restart; a broken file is reported with its
# line and column, and the node keeps what it runs on.
";

fn addr(addr: Option<SocketAddr>) -> String {
    addr.map(|a| a.to_string()).unwrap_or_default()
}

fn path(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// `value` as a TOML basic string, escaped.
fn quote(value: &str) -> String {
    toml::Value::String(value.to_owned()).to_string()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use liandong_topology::NodeId;

    use super::*;

    fn settings() -> Settings {
        Settings {
            id: NodeId::parse("350102").unwrap(),
            listen: Some("0.0.0.0:7101".parse().unwrap()),
            parent: Some("10.35.0.1:7100".parse().unwrap()),
            data: "/var/lib/liandong".into(),
            store: Some("postgres://liandong@127.0.0.1/l\"q".into()),
            control: None,
            metrics: Some("127.0.0.1:9101".parse().unwrap()),
            log_format: LogFormat::Json,
            log_filter: None,
            certs: "/etc/liandong/certs".into(),
            topology: Some(PathBuf::from("/etc/liandong/topology.toml")),
            document: None,
            gateway: Some(super::super::settings::GatewaySettings {
                listen: "0.0.0.0:8443".parse().unwrap(),
                cert: "/etc/liandong/gateway.pem".into(),
                key: "/etc/liandong/gateway.key".into(),
                photo_max: 8 << 20,
            }),
        }
    }

    #[test]
    fn what_is_written_reads_back_the_same() {
        let text = render(&settings());
        let back = Settings::parse(&text, Path::new("/etc/liandong/node.toml")).unwrap();
        assert_eq!(back, settings(), "{text}");

        let mut bare = settings();
        (bare.parent, bare.store, bare.metrics, bare.topology, bare.gateway) = (None, None, None, None, None);
        bare.log_format = LogFormat::Human;
        let text = render(&bare);
        assert!(text.contains("\nstore = \"\"\n"), "{text}");
        assert_eq!(Settings::parse(&text, Path::new("/n.toml")).unwrap(), bare);
    }

    #[test]
    fn every_field_has_a_comment_above_it() {
        let text = render(&settings());
        let lines: Vec<&str> = text.lines().collect();
        let mut keys = 0;
        for (i, line) in lines.iter().enumerate() {
            if !line.starts_with('#') && line.contains(" = ") {
                keys += 1;
                assert!(i > 0 && lines[i - 1].starts_with("# "), "no comment above {line:?}");
            }
        }
        assert_eq!(keys, 16, "{text}");
    }
}
