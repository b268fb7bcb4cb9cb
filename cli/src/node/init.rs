//! `liandong node init`: write the machine's config file, `node.toml`,
//! so that `liandong node run --config FILE` is the whole command. Every
//! field is written with its comment (the format is `liandong-node`'s
//! `runtime::config::file`); paths are written absolute.
//!
//! With `--topology`, the id is checked against it, and the listen and
//! parent addresses default to the topology's. The text written is read
//! back and must give the same settings before anything is written.
//!
//! It never overwrites a file without `--force`, and never creates
//! certificates or the data directory (`certs` and `node run` do).

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use liandong_node::runtime::{CONFIG_FILE_NAME, CertPaths, Settings, render_config};
use liandong_topology::NodeId;

use super::run::LogStyle;
use crate::topology;

pub(super) const EXAMPLES: &str = "\
Examples:
  liandong node init --id 350102001 --parent 10.35.1.2:7100 --listen 0.0.0.0:7100 \\
    --data /var/lib/liandong --certs /etc/liandong/certs \\
    --topology /etc/liandong/topology.toml --out /etc/liandong/node.toml
  liandong node init --id 350100 --top --data data/350100 --topology demo.toml --certs certs
Then: liandong node run --config FILE";

#[derive(clap::Args, Debug)]
pub struct InitArgs {
    /// This center's id (division code), as in its certificate.
    #[arg(long)]
    id: String,
    /// The parent center's address, IP:PORT: how this node reaches the
    /// federation (default with --topology: the topology's address for the
    /// parent).
    #[arg(long, value_name = "ADDR", required_unless_present_any = ["top", "topology", "document"])]
    parent: Option<SocketAddr>,
    /// This is the federation's top center: it has no parent.
    #[arg(long, conflicts_with = "parent")]
    top: bool,
    /// The node's data directory (the SQLite store node.db lives here).
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    /// Where other nodes reach this node, IP:PORT (default with --topology:
    /// the topology's address for this node).
    #[arg(long, value_name = "ADDR", required_unless_present_any = ["topology", "document"])]
    listen: Option<SocketAddr>,
    /// The control API's address (default: loopback at the link port + 1000).
    #[arg(long, value_name = "ADDR")]
    control: Option<SocketAddr>,
    /// Store in PostgreSQL instead of SQLite: postgres://user@host/db.
    #[arg(long, value_name = "URL")]
    database: Option<String>,
    /// Serve Prometheus metrics at http://ADDR/metrics.
    #[arg(long, value_name = "ADDR")]
    metrics: Option<SocketAddr>,
    /// Log lines for people (text) or JSON for log shippers.
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogStyle,
    /// The federation's topology file (a federation run without a signed document).
    #[arg(long, value_name = "FILE", conflicts_with = "document")]
    topology: Option<PathBuf>,
    /// The signed federation document this node starts on (FILE.sig beside
    /// it); listen and parent addresses default to its topology's.
    #[arg(long, value_name = "FILE")]
    document: Option<PathBuf>,
    /// This node's certificate directory: node.pem, node.key, ca.pem
    /// (default: `certs` next to the config file).
    #[arg(long, value_name = "DIR")]
    certs: Option<PathBuf>,
    /// The file to write (default: DATA/node.toml).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Overwrite the file if it exists.
    #[arg(long)]
    force: bool,
}

pub(super) fn run(args: InitArgs) -> anyhow::Result<()> {
    let id = NodeId::parse(&args.id).with_context(|| format!("--id {:?}", args.id))?;
    let out = absolute(&args.out.clone().unwrap_or_else(|| args.data.join(CONFIG_FILE_NAME)))?;
    let dir = out.parent().unwrap_or(Path::new("/")).to_path_buf();
    let (listen, parent, notes) = addresses(&args, &id)?;
    let settings = Settings {
        id,
        listen: Some(listen),
        parent,
        data: absolute(&args.data)?,
        store: args.database.clone().filter(|d| !d.is_empty()),
        control: args.control,
        metrics: args.metrics,
        log_format: args.log_format.format(),
        log_filter: None,
        certs: match &args.certs {
            Some(certs) => absolute(certs)?,
            None => dir.join("certs"),
        },
        topology: args.topology.as_deref().map(absolute).transpose()?,
        document: args.document.as_deref().map(absolute).transpose()?,
        // The gateway is off until its fields are filled in (README).
        gateway: None,
    };
    let text = render_config(&settings);
    // What is written must read back as what was meant (a path that is not
    // UTF-8 would not, for one).
    let back = Settings::parse(&text, &out).context("the config written would not read back")?;
    if back != settings {
        bail!("the config would not read back as given (is a path not UTF-8?)");
    }
    write(&out, &text, args.force)?;
    println!("wrote {}", out.display());
    for note in notes {
        println!("note: {note}");
    }
    if CertPaths::locate(&settings.certs, &settings.id).is_err() {
        println!(
            "note: no certificate for node {} in {} yet: put its node.pem, node.key and ca.pem there before starting the node",
            settings.id,
            settings.certs.display()
        );
    }
    println!("run the node with: liandong node run --config {}", out.display());
    Ok(())
}

/// Listen and parent addresses: the flags, else the topology's; and what
/// the operator should know about them.
fn addresses(args: &InitArgs, id: &NodeId) -> anyhow::Result<(SocketAddr, Option<SocketAddr>, Vec<String>)> {
    let mut notes = Vec::new();
    let Some(path) = args.topology.as_ref().or(args.document.as_ref()) else {
        let Some(listen) = args.listen else {
            bail!("give --listen ADDR, or --topology or --document FILE to take it from there");
        };
        return Ok((listen, args.parent, notes));
    };
    let topology = topology::load(path)?;
    let Some(me) = topology.get(id) else {
        bail!("node {id} is not in the topology {}", path.display());
    };
    let listen = args.listen.unwrap_or(me.listen);
    let parent = match (topology.parent(id), args.parent, args.top) {
        (None, None, _) => None,
        (None, Some(addr), _) => {
            bail!(
                "node {id} is the top center in {}: it has no parent; drop --parent {addr}",
                path.display()
            )
        }
        (Some(p), _, true) => bail!("node {id} has a parent in {} ({}): drop --top", path.display(), p.id),
        (Some(p), Some(addr), false) => {
            if addr != p.listen {
                notes.push(format!(
                    "the topology has parent {} at {}; this node will dial {addr}",
                    p.id, p.listen
                ));
            }
            Some(addr)
        }
        (Some(p), None, false) => Some(p.listen),
    };
    Ok((listen, parent, notes))
}

/// `path` made absolute against the working directory (not resolved:
/// symlinks stay as given).
fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("cannot make {} absolute", path.display()))
}

/// Writes `text` to `out` (mode 0640: the store URL may hold a password),
/// creating its directory; an existing file only with `force`.
fn write(out: &Path, text: &str, force: bool) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).mode(0o640);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = match options.open(out) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            bail!("{} exists: give --force to overwrite it", out.display())
        }
        Err(e) => return Err(e).with_context(|| format!("cannot write {}", out.display())),
    };
    file.write_all(text.as_bytes())
        .with_context(|| format!("cannot write {}", out.display()))
}
