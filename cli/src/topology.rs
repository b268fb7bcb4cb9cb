//! `liandong topology`: generate, check and show topology files.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Subcommand;
use liandong_topology::{Addressing, FanOut, Kind, Level, NodeId, NodeInfo, Preset, Shape, Topology, generate};
use serde::Serialize;

#[derive(Subcommand)]
pub enum TopologyCommand {
    /// Load and validate a topology file; print node counts per level.
    #[command(after_help = "Example:\n  liandong topology check topology/examples/fuzhou.toml")]
    Check {
        /// The topology file.
        file: PathBuf,
    },
    /// Write a generated federation to a topology file.
    #[command(
        after_help = "Examples:\n  liandong topology generate --preset demo --out demo.toml\n  \
        liandong topology generate --preset jiangsu --out jiangsu.toml\n  \
        liandong topology generate --fanout 4,6,10 --units police,justice --out custom.toml"
    )]
    Generate {
        /// A ready-made federation: demo (17 nodes), fuzhou (2,847), jiangsu (22,812).
        #[arg(long, value_parser = parse_preset, required_unless_present = "fanout", conflicts_with = "fanout")]
        preset: Option<Preset>,
        /// A uniform tree instead: children per level from the top down, e.g. 4,6,10.
        #[arg(long, value_delimiter = ',')]
        fanout: Option<Vec<u32>>,
        /// Level of the top center of a --fanout tree.
        #[arg(long, default_value = "city", value_parser = parse_level, requires = "fanout")]
        top: Level,
        /// Member units beside every county of a --fanout tree, e.g. police,justice.
        #[arg(long, value_delimiter = ',', requires = "fanout")]
        units: Vec<String>,
        /// IP address every generated node listens on.
        #[arg(long, default_value = "127.0.0.1")]
        ip: IpAddr,
        /// First listen port; nodes take consecutive ports from here.
        #[arg(long, default_value_t = 7100)]
        base_port: u16,
        /// Where to write the file.
        #[arg(long)]
        out: PathBuf,
        /// Replace the file if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Print a topology as a tree with counts per level, or as JSON.
    #[command(after_help = "Examples:\n  liandong topology show topology/examples/demo.toml\n  \
        liandong topology show fuzhou.toml --node 350102 --depth 1\n  \
        liandong topology show demo.toml --json")]
    Show {
        /// The topology file.
        file: PathBuf,
        /// Show only the subtree of this node (and the path above it).
        #[arg(long)]
        node: Option<String>,
        /// Levels to draw below the shown node (default: all for small
        /// trees, 2 for trees of more than 300 nodes).
        #[arg(long)]
        depth: Option<u8>,
        /// List every node as JSON: id, name, level, kind, parent, address.
        #[arg(long)]
        json: bool,
    },
}

fn parse_preset(s: &str) -> Result<Preset, String> {
    Preset::parse(s).ok_or_else(|| format!("unknown preset {s:?}: use demo, fuzhou or jiangsu"))
}

fn parse_level(s: &str) -> Result<Level, String> {
    Level::parse(s).ok_or_else(|| format!("unknown level {s:?}: use province, city, county, township, village or grid"))
}

pub fn run(cmd: TopologyCommand) -> anyhow::Result<()> {
    match cmd {
        TopologyCommand::Check { file } => check(&file),
        TopologyCommand::Generate {
            preset,
            fanout,
            top,
            units,
            ip,
            base_port,
            out,
            force,
        } => {
            let shape = match (preset, fanout) {
                (Some(p), _) => Shape::Preset(p),
                (None, Some(fanout)) => Shape::FanOut(FanOut { top, fanout, units }),
                (None, None) => bail!("give --preset or --fanout"),
            };
            write_generated(&shape, Addressing { ip, base_port }, &out, force)
        }
        TopologyCommand::Show {
            file,
            node,
            depth,
            json,
        } => show(&file, node.as_deref(), depth, json),
    }
}

/// Loads a topology, naming the file in any error.
pub fn load(file: &Path) -> anyhow::Result<Topology> {
    Topology::load(file).with_context(|| format!("topology {} is invalid", file.display()))
}

fn check(file: &Path) -> anyhow::Result<()> {
    let start = Instant::now();
    let topology = load(file)?;
    let elapsed = start.elapsed();
    println!(
        "{}: valid. {} ({})",
        file.display(),
        topology.name(),
        topology.summary()
    );
    println!("loaded and validated in {:.1} ms", elapsed.as_secs_f64() * 1e3);
    Ok(())
}

fn write_generated(shape: &Shape, addressing: Addressing, out: &Path, force: bool) -> anyhow::Result<()> {
    if out.exists() && !force {
        bail!("{} already exists: pass --force to replace it", out.display());
    }
    let topology = generate(shape, addressing)?;
    let text = topology.to_toml();
    // Write beside the target and rename, so a crash never leaves half a file.
    let tmp = out.with_extension("toml.tmp");
    std::fs::write(&tmp, &text).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, out).with_context(|| format!("cannot write {}", out.display()))?;
    println!("wrote {}: {}", out.display(), topology.summary());
    Ok(())
}

#[derive(Serialize)]
struct JsonNode<'a> {
    id: &'a str,
    name: &'a str,
    level: Level,
    kind: Kind,
    parent: Option<&'a str>,
    address: String,
}

fn show(file: &Path, node: Option<&str>, depth: Option<u8>, json: bool) -> anyhow::Result<()> {
    let t = load(file)?;
    let top = match node {
        None => t.root(),
        Some(s) => {
            let id = NodeId::parse(s)?;
            t.get(&id)
                .with_context(|| format!("node {id} is not in {}", file.display()))?
        }
    };
    if json {
        let nodes: Vec<JsonNode<'_>> = t
            .subtree(&top.id, None)
            .map(|n| JsonNode {
                id: n.id.as_str(),
                name: &n.name,
                level: n.level,
                kind: n.kind,
                parent: n.parent.as_ref().map(NodeId::as_str),
                address: n.listen.to_string(),
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&nodes)?);
        return Ok(());
    }
    println!("{} ({})", t.name(), t.summary());
    let above: Vec<String> = t.ancestors(&top.id).map(|a| format!("{} {}", a.id, a.name)).collect();
    if !above.is_empty() {
        println!("under: {}", above.into_iter().rev().collect::<Vec<_>>().join(" / "));
    }
    let size = t.subtree(&top.id, None).count();
    let depth = depth.unwrap_or(if size > 300 { 2 } else { u8::MAX });
    let mut out = String::new();
    out.push_str(&label(top));
    out.push('\n');
    draw_children(&t, top, "", depth, &mut out);
    print!("{out}");
    Ok(())
}

fn label(n: &NodeInfo) -> String {
    let kind = if n.kind == Kind::MemberUnit { " member unit" } else { "" };
    format!("{} {} [{}{kind}] {}", n.id, n.name, n.level, n.listen)
}

fn draw_children(t: &Topology, n: &NodeInfo, prefix: &str, depth: u8, out: &mut String) {
    let children: Vec<&NodeInfo> = t.children(&n.id).collect();
    if depth == 0 {
        if !children.is_empty() {
            let below = t.subtree(&n.id, None).count() - 1;
            let _ = writeln!(out, "{prefix}└── … {below} more below (use --depth)");
        }
        return;
    }
    for (i, c) in children.iter().enumerate() {
        let last = i + 1 == children.len();
        let _ = writeln!(out, "{prefix}{}{}", if last { "└── " } else { "├── " }, label(c));
        let next = format!("{prefix}{}", if last { "    " } else { "│   " });
        draw_children(t, c, &next, depth - 1, out);
    }
}
