//! Operator commands over the control API of one's own node: `report`,
//! `dispatch`, `sign`, `incident <verb>`, `incidents`, `orders`, `status`,
//! `watch`.
//!
//! Each command turns its flags into one [`Request`] (or a subscription),
//! connects with the operator's certificate, prints the answer as an
//! aligned table (CJK names line up: widths are display widths) or as JSON
//! with `--json`, and maps a refusal to `error: <reason>` and exit 1.
//! Times print in this machine's time zone. What is printed, and how, is
//! in [`view`]. The coordination room commands ([`crate::room`]) share
//! the connection options, the following of pushed notices and [`view`].

pub(crate) mod args;
pub(crate) mod view;

pub use args::*;

use liandong_control::clock::now;
use liandong_control::{Act, Query};
use std::io::Write as _;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::error::ErrorKind;
use clap::{Args, Subcommand};
use liandong_control::text::human_coarse;
use liandong_control::{ControlClient, IdRef, Notice, Pushed, Request, Response, Subscription};
use liandong_dispatch::store::IncidentState;
use liandong_dispatch::wire::{Category, EnvelopeId, Item, Mode, TargetState, Targets};
use liandong_topology::{Level, NodeId, Severity};

use view::{
    Clock, full, incident_detail, incident_table, json_line, order_detail, order_table, print_json, pushed_line,
    stage_name, status_text, target_state,
};

pub fn run(cmd: OpsCommand) -> anyhow::Result<()> {
    block_on(|clock| execute(cmd, clock))
}

/// Reads the machine's time zone, then runs `command` on a one-thread
/// runtime: how every operator command runs (`room` too).
pub(crate) fn block_on<F: Future<Output = anyhow::Result<()>>>(command: impl FnOnce(Clock) -> F) -> anyhow::Result<()> {
    // Read the time zone while the process has one thread.
    let clock = Clock::local_zone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(command(clock))
}

async fn execute(cmd: OpsCommand, clock: Clock) -> anyhow::Result<()> {
    match cmd {
        OpsCommand::Report(args) => report(args, clock).await,
        OpsCommand::Dispatch(args) => dispatch(args, clock).await,
        OpsCommand::Sign(args) => sign(args).await,
        OpsCommand::Incident(IncidentCommand::Show(args)) => show(args, clock).await,
        OpsCommand::Incident(cmd) => incident(cmd).await,
        OpsCommand::Incidents(args) => incidents(args, clock).await,
        OpsCommand::Orders(args) => orders(args, clock).await,
        OpsCommand::Status(args) => status(args, clock).await,
        OpsCommand::Watch(args) => watch(args, clock).await,
    }
}

// ---------------------------------------------------------------- parsing

fn severity_parser() -> impl TypedValueParser<Value = Severity> {
    PossibleValuesParser::new(["I", "II", "III", "IV", "routine"]).map(|s| match s.to_ascii_lowercase().as_str() {
        "i" => Severity::I,
        "ii" => Severity::II,
        "iii" => Severity::III,
        "iv" => Severity::IV,
        _ => Severity::Routine,
    })
}

const CATEGORIES: [(&str, Category); 8] = [
    ("dispute", Category::Dispute),
    ("hazard", Category::Hazard),
    ("request", Category::Request),
    ("fire", Category::Fire),
    ("flood", Category::Flood),
    ("gathering", Category::Gathering),
    ("accident", Category::Accident),
    ("other", Category::Other),
];

fn category_parser() -> impl TypedValueParser<Value = Category> {
    PossibleValuesParser::new(CATEGORIES.map(|(name, _)| name)).map(|s| {
        CATEGORIES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(&s))
            .map_or(Category::Other, |(_, c)| *c)
    })
}

pub(crate) fn category_name(category: Category) -> &'static str {
    CATEGORIES
        .iter()
        .find(|(_, c)| *c == category)
        .map_or("other", |(name, _)| name)
}

fn level_parser() -> impl TypedValueParser<Value = Level> {
    PossibleValuesParser::new(Level::ALL.map(Level::name)).map(|s| Level::parse(&s).unwrap_or(Level::Village))
}

pub(crate) fn non_empty(s: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        Err("it must not be empty".into())
    } else {
        Ok(s.to_owned())
    }
}

/// An incident or order id as typed: 1 to 32 hex digits (any case).
pub(crate) fn id_ref(s: &str) -> Result<IdRef, String> {
    let s = s.trim();
    if s.is_empty() || s.len() > 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "{s:?} is not an id: expected up to 32 hex digits, e.g. 3f2a9c0e1b7d"
        ));
    }
    Ok(IdRef(s.to_ascii_lowercase()))
}

pub(crate) fn duration(s: &str) -> Result<Duration, String> {
    liandong_topology::duration::parse(s)
}

/// A usage error found after parsing: a [`clap::Error`], which the binary
/// prints as clap prints its own and exits 2 with, as for a missing
/// argument.
pub(crate) fn usage_error(message: String) -> anyhow::Error {
    clap::Error::raw(ErrorKind::MissingRequiredArgument, format!("{message}\n")).into()
}

impl Connection {
    /// Checks the options and finds the default files (the console uses
    /// the same rules).
    pub(crate) fn resolve(&self) -> anyhow::Result<Target> {
        let Some(node) = self.node.as_deref() else {
            return Err(usage_error(
                "no node to talk to: pass --node HOST:PORT (your node's control address) or set LIANDONG_NODE".into(),
            ));
        };
        let Some(cert) = self.cert.clone() else {
            return Err(usage_error(
                "no operator certificate: pass --cert FILE (operators/<node>/<name>.pem) or set LIANDONG_CERT".into(),
            ));
        };
        let addr = node
            .to_socket_addrs()
            .map_err(|e| anyhow!("--node {node:?} is not a control address HOST:PORT (e.g. 127.0.0.1:7443): {e}"))?
            .next()
            .with_context(|| format!("--node {node:?} resolves to no address"))?;
        let key = match &self.key {
            Some(key) => key.clone(),
            None => {
                let key = cert.with_extension("key");
                if !key.exists() {
                    bail!(
                        "no key for {}: pass --key FILE (looked for {})",
                        cert.display(),
                        key.display()
                    );
                }
                key
            }
        };
        let ca = match &self.ca {
            Some(ca) => ca.clone(),
            None => match default_ca(&cert) {
                Some(ca) if ca.is_file() => ca,
                looked => bail!(
                    "no CA certificate: pass --ca FILE (the federation's ca.pem){}",
                    looked
                        .map(|ca| format!("; there is none at {}", ca.display()))
                        .unwrap_or_default()
                ),
            },
        };
        Ok(Target { addr, cert, key, ca })
    }
}

/// Where the CA certificate is in a federation directory:
/// `DIR/operators/<node>/<name>.pem` → `DIR/ca.pem`.
fn default_ca(cert: &Path) -> Option<PathBuf> {
    let cert = std::path::absolute(cert).ok()?;
    Some(
        cert.parent()?
            .parent()?
            .parent()?
            .join(liandong_certs::layout::CA_CERT_FILE),
    )
}

pub(crate) async fn connect(conn: &Connection) -> anyhow::Result<ControlClient> {
    let target = conn.resolve()?;
    Ok(ControlClient::connect_with_files(target.addr, &target.ca, &target.cert, &target.key).await?)
}

// ---------------------------------------------------------------- answers

/// The id and description of a taken command; a refusal becomes the error.
fn expect_done(response: Response) -> anyhow::Result<(EnvelopeId, String)> {
    match response {
        Response::Done { id, what } => Ok((id, what)),
        other => Err(unexpected(other, "Done")),
    }
}

pub(crate) fn unexpected(response: Response, wanted: &str) -> anyhow::Error {
    match response {
        Response::Refused { reason } => anyhow!(reason),
        other => anyhow!("the node answered {} where {wanted} was expected", other.kind()),
    }
}

/// The node's words for what it did, with the short id if they lack it,
/// then the full id.
fn print_done(id: EnvelopeId, what: &str) {
    let short = id.to_string();
    if what.contains(&short) {
        println!("{what}");
    } else {
        println!("{what} ({short})");
    }
    println!("  id {}", full(id));
}

/// Connects, sends one request, closes, and returns the answer.
pub(crate) async fn query(conn: &Connection, request: Request) -> anyhow::Result<Response> {
    let client = connect(conn).await?;
    let response = client.call(request).await;
    client.close().await;
    Ok(response?)
}

async fn simple(conn: &Connection, request: Request) -> anyhow::Result<()> {
    let (id, what) = expect_done(query(conn, request).await?)?;
    print_done(id, &what);
    Ok(())
}

// ---------------------------------------------------------------- commands

async fn report(args: ReportArgs, clock: Clock) -> anyhow::Result<()> {
    let request = Request::Act(Act::Report {
        severity: args.severity,
        category: args.category,
        title: args.title,
        detail: args.detail,
        place: args.place,
        mode: mode(args.exercise),
    });
    let client = connect(&args.conn).await?;
    // Subscribe before filing, so no stage of the report can be missed.
    let subscription = if args.watch {
        Some(client.subscribe().await?)
    } else {
        None
    };
    let (id, what) = expect_done(client.call(request).await?)?;
    print_done(id, &what);
    if let Some(mut subscription) = subscription {
        subscription.next().await; // the snapshot
        let timeout = args.watch_timeout.map(Duration::from_secs);
        let outcome = follow(&mut subscription, timeout, |notice| incident_stage(notice, id, clock)).await;
        client.close().await;
        return match outcome? {
            Followed::Finished | Followed::Interrupted => Ok(()),
            Followed::TimedOut(after) => bail!(
                "report {id} not accepted within {} (it is filed; `liandong incidents {id}` shows where it is)",
                human_coarse(after)
            ),
        };
    }
    client.close().await;
    Ok(())
}

async fn dispatch(args: DispatchArgs, clock: Clock) -> anyhow::Result<()> {
    let targets = match (args.subtree, args.to.len()) {
        (Some(root), _) => Targets::Subtree {
            root,
            level: args.level,
        },
        (None, 1) => Targets::Node(args.to[0].clone()),
        (None, _) => Targets::List(args.to),
    };
    let finish_by = args.finish_within.map(|d| now().plus(d));
    let request = Request::Act(Act::Dispatch {
        incident: args.incident,
        targets,
        severity: args.severity,
        instruction: args.instruction,
        finish_by,
        mode: mode(args.exercise),
    });
    let client = connect(&args.conn).await?;
    let subscription = if args.watch {
        Some(client.subscribe().await?)
    } else {
        None
    };
    let (id, what) = expect_done(client.call(request).await?)?;
    print_done(id, &what);
    if let Some(mut subscription) = subscription {
        subscription.next().await; // the snapshot
        let timeout = args.watch_timeout.map(Duration::from_secs);
        let outcome = follow(&mut subscription, timeout, |notice| order_stage(notice, id, clock)).await;
        client.close().await;
        return match outcome? {
            Followed::Finished | Followed::Interrupted => Ok(()),
            Followed::TimedOut(after) => bail!(
                "not every target of order {id} answered within {} (`liandong orders {id}` shows each)",
                human_coarse(after)
            ),
        };
    }
    client.close().await;
    Ok(())
}

async fn sign(args: SignArgs) -> anyhow::Result<()> {
    let client = connect(&args.conn).await?;
    let state = if let Some(note) = args.progress {
        TargetState::InProgress { note }
    } else if let Some(note) = args.done {
        TargetState::Done { note }
    } else if let Some(reason) = args.refuse {
        TargetState::Refused { reason }
    } else {
        TargetState::SignedFor {
            by: client.operator().name.clone(),
        }
    };
    let response = client
        .call(Request::Act(Act::Acknowledge {
            order: args.order,
            state,
        }))
        .await;
    client.close().await;
    let (id, what) = expect_done(response?)?;
    print_done(id, &what);
    Ok(())
}

async fn incident(cmd: IncidentCommand) -> anyhow::Result<()> {
    let (conn, request) = match cmd {
        IncidentCommand::Show(a) => (a.conn, Request::Query(Query::Incident { id: a.id })),
        IncidentCommand::Accept(a) => (a.conn, Request::Act(Act::Accept { incident: a.id })),
        IncidentCommand::Escalate(a) => (
            a.conn,
            Request::Act(Act::Escalate {
                incident: a.id,
                reason: a.reason,
            }),
        ),
        IncidentCommand::Feedback(a) => (
            a.conn,
            Request::Act(Act::Feedback {
                incident: a.id,
                text: a.text,
            }),
        ),
        IncidentCommand::Resolve { id, summary, conn } => (conn, Request::Act(Act::Resolve { incident: id, summary })),
        IncidentCommand::Verify {
            id,
            accept,
            reject: _,
            note,
            conn,
        } => (
            conn,
            Request::Act(Act::Verify {
                incident: id,
                accepted: accept,
                note,
            }),
        ),
        IncidentCommand::Close(a) => (a.conn, Request::Act(Act::Close { incident: a.id })),
        IncidentCommand::Note(a) => (
            a.conn,
            Request::Act(Act::Note {
                incident: a.id,
                text: a.text,
            }),
        ),
        IncidentCommand::Cancel(a) => (
            a.conn,
            Request::Act(Act::Cancel {
                incident: a.id,
                reason: a.reason,
            }),
        ),
    };
    simple(&conn, request).await
}

async fn incidents(args: ListArgs, clock: Clock) -> anyhow::Result<()> {
    let request = match &args.id {
        Some(id) => Request::Query(Query::Incident { id: id.clone() }),
        None => Request::Query(Query::Incidents { closed: args.all }),
    };
    let response = query(&args.conn, request).await?;
    let now = now();
    match response {
        Response::Incidents(list) if args.json => print_json(&list),
        Response::Incidents(list) => {
            if list.is_empty() {
                println!("no {}incidents", if args.all { "" } else { "open " });
            } else {
                print!("{}", incident_table(&list, now));
            }
            Ok(())
        }
        Response::Incident(one) if args.json => print_json(&one),
        Response::Incident(one) => {
            print!("{}", incident_detail(&one, now, clock));
            Ok(())
        }
        other => Err(unexpected(other, "Incidents")),
    }
}

/// `incident show`: the detail view, JSON, or the CAP alert.
async fn show(args: ShowArgs, clock: Clock) -> anyhow::Result<()> {
    if args.format == "cap" {
        return match query(&args.conn, Request::Query(Query::IncidentCap { id: args.id })).await? {
            Response::CapAlert { xml } => {
                print!("{xml}");
                Ok(())
            }
            Response::Refused { reason } => bail!("{reason}"),
            other => Err(unexpected(other, "CapAlert")),
        };
    }
    let list = ListArgs {
        id: Some(args.id),
        all: false,
        json: args.format == "json",
        conn: args.conn,
    };
    incidents(list, clock).await
}

async fn orders(args: ListArgs, clock: Clock) -> anyhow::Result<()> {
    let request = match &args.id {
        Some(id) => Request::Query(Query::Order { id: id.clone() }),
        None => Request::Query(Query::Orders { finished: args.all }),
    };
    let response = query(&args.conn, request).await?;
    let now = now();
    match response {
        Response::Orders(list) if args.json => print_json(&list),
        Response::Orders(list) => {
            if list.is_empty() {
                println!("no {}orders", if args.all { "" } else { "unfinished " });
            } else {
                print!("{}", order_table(&list, now));
            }
            Ok(())
        }
        Response::Order(one) if args.json => print_json(&one),
        Response::Order(one) => {
            print!("{}", order_detail(&one, now, clock));
            Ok(())
        }
        other => Err(unexpected(other, "Orders")),
    }
}

async fn status(args: StatusArgs, clock: Clock) -> anyhow::Result<()> {
    match query(&args.conn, Request::Query(Query::Status)).await? {
        Response::Status(status) if args.json => print_json(&status),
        Response::Status(status) => {
            print!("{}", status_text(&status, clock));
            Ok(())
        }
        other => Err(unexpected(other, "Status")),
    }
}

async fn watch(args: WatchArgs, clock: Clock) -> anyhow::Result<()> {
    let client = connect(&args.conn).await?;
    let mut subscription = client.subscribe().await?;
    let mut out = std::io::stdout();
    loop {
        let item = tokio::select! {
            item = subscription.next() => item,
            _ = tokio::signal::ctrl_c() => break,
        };
        let response = match item {
            None => bail!("the node ended the subscription"),
            Some(item) => item?,
        };
        if args.json {
            writeln!(out, "{}", json_line(&response)?)?;
        } else {
            match &response {
                Response::Snapshot {
                    status,
                    incidents,
                    orders,
                    rooms,
                } => eprintln!(
                    "watching node {} {}: {} open incidents, {} open orders, {} open rooms; Ctrl-C to stop",
                    status.node,
                    status.name,
                    incidents.len(),
                    orders.len(),
                    rooms.len()
                ),
                Response::Pushed(pushed) => writeln!(out, "{}", pushed_line(pushed, clock))?,
                other => bail!("the node pushed {} on a subscription", other.kind()),
            }
        }
        out.flush()?;
    }
    client.close().await;
    Ok(())
}

fn mode(exercise: bool) -> Mode {
    if exercise { Mode::Exercise } else { Mode::Actual }
}

// ---------------------------------------------------------------- following

/// What a notice means for the item being followed.
pub(crate) enum Progress {
    /// Not about it.
    Other,
    /// A step to print.
    Step(String),
    /// The last step to print: the wait is over.
    Last(String),
    /// It failed (e.g. dead-lettered): the error to end with.
    Failed(String),
}

pub(crate) enum Followed {
    Finished,
    Interrupted,
    TimedOut(Duration),
}

/// Prints each stage `classify` finds in the pushed notices until the last
/// one, Ctrl-C, or the timeout.
pub(crate) async fn follow(
    subscription: &mut Subscription,
    timeout: Option<Duration>,
    mut classify: impl FnMut(&Pushed) -> Progress,
) -> anyhow::Result<Followed> {
    let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
    let expired = async {
        match deadline {
            Some(deadline) => tokio::time::sleep_until(deadline).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(expired);
    loop {
        let item = tokio::select! {
            item = subscription.next() => item,
            _ = tokio::signal::ctrl_c() => return Ok(Followed::Interrupted),
            _ = &mut expired => return Ok(Followed::TimedOut(timeout.unwrap_or_default())),
        };
        let pushed = match item {
            None => bail!("the node ended the subscription before the end"),
            Some(Err(e)) => return Err(e.into()),
            Some(Ok(Response::Pushed(pushed))) => pushed,
            Some(Ok(other)) => bail!("the node pushed {} on a subscription", other.kind()),
        };
        if let Notice::Lagged { missed } = pushed.notice {
            eprintln!("warning: missed {missed} changes at the node; some stages may not show");
            continue;
        }
        match classify(&pushed) {
            Progress::Other => {}
            Progress::Step(line) => println!("{line}"),
            Progress::Last(line) => {
                println!("{line}");
                return Ok(Followed::Finished);
            }
            Progress::Failed(reason) => bail!(reason),
        }
    }
}

fn incident_stage(pushed: &Pushed, id: EnvelopeId, clock: Clock) -> Progress {
    let at = clock.time(pushed.at);
    match &pushed.notice {
        Notice::IncidentRecorded { incident, .. } if incident.id == id => Progress::Step(format!(
            "{at}  recorded here; owner {}, {}",
            incident.owner,
            incident.state.name()
        )),
        Notice::Forwarded { id: fwd, to } if *fwd == id => Progress::Step(format!("{at}  stored at {to}")),
        Notice::IncidentChanged { incident, action, by } if incident.id == id => {
            let line = format!(
                "{at}  {action} by {by}: {}, owner {}",
                incident.state.name(),
                incident.owner
            );
            if incident.state == IncidentState::Reported {
                Progress::Step(line)
            } else {
                Progress::Last(line)
            }
        }
        Notice::Supervised {
            item: Item::Incident(item),
            stage,
            supervisor,
        } if *item == id => Progress::Step(format!(
            "{at}  {} overdue: supervised by {supervisor} (督办)",
            stage_name(*stage)
        )),
        Notice::DeadLettered { id: dead, stuck_at } if *dead == id => {
            Progress::Failed(format!("report {id} expired undelivered at {stuck_at}"))
        }
        _ => Progress::Other,
    }
}

fn order_stage(pushed: &Pushed, id: EnvelopeId, clock: Clock) -> Progress {
    let at = clock.time(pushed.at);
    match &pushed.notice {
        Notice::Forwarded { id: fwd, to } if *fwd == id => Progress::Step(format!("{at}  stored at {to}")),
        Notice::OrderProgress {
            order,
            target,
            state,
            roll_up,
        } if *order == id => {
            let line = format!("{at}  {target}: {} ({roll_up})", target_state(state));
            let answered = roll_up.signed_for + roll_up.refused;
            if roll_up.targets > 0 && answered >= roll_up.targets {
                Progress::Last(line)
            } else {
                Progress::Step(line)
            }
        }
        Notice::Supervised {
            item: Item::OrderTarget { order, target },
            stage,
            supervisor,
        } if *order == id => Progress::Step(format!(
            "{at}  {target}: {} overdue, supervised by {supervisor} (督办)",
            stage_name(*stage)
        )),
        Notice::DeadLettered { id: dead, stuck_at } if *dead == id => {
            Progress::Failed(format!("order {id} expired undelivered at {stuck_at}"))
        }
        _ => Progress::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_as_typed() {
        assert_eq!(id_ref("3F2A").unwrap(), IdRef("3f2a".into()));
        assert!(id_ref("3f2g").is_err());
        assert!(id_ref(&"a".repeat(33)).is_err());
        assert!(id_ref("").is_err());
    }

    #[test]
    fn the_ca_defaults_to_the_federation_layout() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("operators/350102/张伟.pem");
        assert_eq!(default_ca(&cert), Some(dir.path().join("ca.pem")));
        assert_eq!(default_ca(Path::new("/张伟.pem")), None);
    }

    #[test]
    fn no_node_or_no_certificate_is_a_usage_error() {
        let conn = Connection {
            node: None,
            cert: Some(PathBuf::from("operators/350102/张伟.pem")),
            key: None,
            ca: None,
        };
        let err = conn.resolve().err().expect("no node");
        let usage = err.downcast_ref::<clap::Error>().expect("a usage error");
        assert!(usage.to_string().contains("no node to talk to"), "{usage}");
        let conn = Connection {
            node: Some("127.0.0.1:7443".into()),
            cert: None,
            ..conn
        };
        let err = conn.resolve().err().expect("no certificate");
        assert!(err.downcast_ref::<clap::Error>().is_some(), "{err}");
    }
}
