//! `liandong`: the one binary every center runs. This file only parses the
//! command line, hands each command to the library that runs it
//! (`liandong-cli`), and maps the outcome to
//! an exit code. It also sets the process's allocator.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use liandong_cli::{bench, cap, certs, demo, federation, gateway, node, ops, room, safety, sim, topology, tui};

/// The process's allocator: mimalloc, not glibc's malloc. In a profile
/// of a county relaying 100,000 envelopes, malloc and free took 21% of
/// its CPU, spread over the whole path (frames, records, statements).
/// The largest single part was the store's writer thread freeing the
/// statements a tokio worker had built: glibc returns such a block to
/// the other thread's arena under that arena's lock. With mimalloc the
/// county spent 0.81-0.87× the CPU per envelope (six alternating runs
/// of `bench relay`). Built without transparent huge pages (`no_thp`):
/// with them, a village's RSS rose from 43 to 73 MiB.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "liandong",
    version,
    about = "Liandong (联动): federated emergency dispatch for tiered public-safety centers"
)]
#[command(
    after_help = "Start with `liandong topology generate --preset demo --out demo.toml`, then `liandong topology show demo.toml`."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate, check and show federation topology files.
    #[command(subcommand)]
    Topology(topology::TopologyCommand),
    /// Create the federation CA and node and operator certificates; inspect and revoke them.
    #[command(subcommand)]
    Certs(certs::CertsCommand),
    /// The signed federation document: sign, check, publish at the root.
    #[command(subcommand)]
    Federation(federation::FederationCommand),
    /// The gateway for hotlines, apps and member units' systems: its API tokens and webhooks.
    #[command(subcommand)]
    Gateway(gateway::GatewayCommand),
    /// CAP 1.2 alerts from warning-release platforms: import one at your node.
    #[command(subcommand)]
    Cap(cap::CapCommand),
    /// The demo federation in one process with traffic and the operator console.
    Demo(demo::DemoArgs),
    /// Run this center's node.
    #[command(subcommand)]
    Node(node::NodeCommand),
    /// Check and read a node's hash-chained audit log.
    #[command(subcommand)]
    Audit(node::AuditCommand),
    /// Operator commands over your own node's control API.
    #[command(flatten)]
    Ops(ops::OpsCommand),
    /// The coordination room (综合协调室) of an incident: list, show, open, enter, say, decide, task, close, minutes.
    #[command(subcommand)]
    Room(room::RoomCommand),
    /// Your center's safety report (平安报表) for a month or a day: Markdown, CSV or JSON.
    SafetyReport(safety::SafetyArgs),
    /// The operator console (ratatui) attached to your own node.
    Tui(tui::TuiArgs),
    /// Failure simulations: deterministic runs and sweeps of a scenario; the live chaos harness.
    #[command(subcommand)]
    Sim(sim::SimCommand),
    /// Benches with real nodes that print figures: thin-link.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Topology(cmd) => topology::run(cmd),
        Command::Certs(cmd) => certs::run(cmd),
        Command::Federation(cmd) => federation::run(cmd),
        Command::Gateway(cmd) => gateway::run(cmd),
        Command::Cap(cmd) => cap::run(cmd),
        Command::Demo(args) => demo::run(args),
        Command::Node(cmd) => node::run(cmd),
        Command::Audit(cmd) => node::audit(cmd),
        Command::Ops(cmd) => ops::run(cmd),
        Command::Room(cmd) => room::run(cmd),
        Command::SafetyReport(args) => safety::run(args),
        Command::Tui(args) => tui::run(args),
        Command::Sim(cmd) => sim::run(cmd),
        Command::Bench(cmd) => bench::run(cmd),
    };
    match outcome.map_err(anyhow::Error::downcast::<clap::Error>) {
        Ok(()) => ExitCode::SUCCESS,
        // A usage error found after parsing (no --node, a deadline in the
        // past): printed and exit 2, as clap does for its own.
        Err(Ok(usage)) => {
            let _ = usage.print();
            ExitCode::from(2)
        }
        Err(Err(err)) => {
            // The first line says what failed; a topology with several
            // problems lists each on its own line below it.
            let text = format!("{err:#}");
            let mut lines = text.lines();
            eprintln!("error: {}", lines.next().unwrap_or("unknown error"));
            for line in lines {
                eprintln!("  {line}");
            }
            ExitCode::FAILURE
        }
    }
}
