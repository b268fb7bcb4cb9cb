//! `liandong`: the one binary every center runs. This file only parses the
//! command line and maps the outcome to an exit code; each command lives in
//! its own module over the library crates.

mod certs_cmd;
mod demo_cmd;
mod node_cmd;
mod ops_cmd;
mod room_cmd;
mod sim_cmd;
mod sim_live_cmd;
mod topology_cmd;
mod tui_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    Topology(topology_cmd::TopologyCommand),
    /// Create the federation CA and node and operator certificates; inspect and revoke them.
    #[command(subcommand)]
    Certs(certs_cmd::CertsCommand),
    /// The demo federation in one process with traffic and the operator console.
    Demo(demo_cmd::DemoArgs),
    /// Run this center's node.
    #[command(subcommand)]
    Node(node_cmd::NodeCommand),
    /// Check and read a node's hash-chained audit log.
    #[command(subcommand)]
    Audit(node_cmd::AuditCommand),
    /// Operator commands over your own node's control API.
    #[command(flatten)]
    Ops(ops_cmd::OpsCommand),
    /// The coordination room (综合协调室) of an incident: list, show, open, enter, say, decide, task, close, minutes.
    #[command(subcommand)]
    Room(room_cmd::RoomCommand),
    /// The operator console (ratatui) attached to your own node.
    Tui(tui_cmd::TuiArgs),
    /// Failure simulations: deterministic runs and sweeps of a scenario; the live chaos harness.
    #[command(subcommand)]
    Sim(sim_cmd::SimCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Topology(cmd) => topology_cmd::run(cmd),
        Command::Certs(cmd) => certs_cmd::run(cmd),
        Command::Demo(args) => demo_cmd::run(args),
        Command::Node(cmd) => node_cmd::run(cmd),
        Command::Audit(cmd) => node_cmd::audit(cmd),
        Command::Ops(cmd) => ops_cmd::run(cmd),
        Command::Room(cmd) => room_cmd::run(cmd),
        Command::Tui(args) => tui_cmd::run(args),
        Command::Sim(cmd) => sim_cmd::run(cmd),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
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
