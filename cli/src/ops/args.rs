//! The operator commands' flags and subcommands (clap): what each
//! command accepts. What each does with them is the parent module.

use super::*;

/// How to reach one's own node; shared by every operator command.
#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Connection")]
pub struct Connection {
    /// The node's control address, HOST:PORT (e.g. 127.0.0.1:7443).
    #[arg(long, env = "LIANDONG_NODE", value_name = "ADDR")]
    pub(crate) node: Option<String>,
    /// Your operator certificate (operators/<node>/<name>.pem).
    #[arg(long, env = "LIANDONG_CERT", value_name = "FILE")]
    pub(crate) cert: Option<PathBuf>,
    /// Its private key [default: the .key file beside the certificate].
    #[arg(long, env = "LIANDONG_KEY", value_name = "FILE")]
    pub(crate) key: Option<PathBuf>,
    /// The federation CA certificate [default: ca.pem two directories above
    /// the certificate, as in a federation directory].
    #[arg(long, env = "LIANDONG_CA", value_name = "FILE")]
    pub(crate) ca: Option<PathBuf>,
}

/// Where to go, with which files: [`Connection`] resolved and checked.
pub(crate) struct Target {
    pub(crate) addr: SocketAddr,
    pub(crate) cert: PathBuf,
    pub(crate) key: PathBuf,
    pub(crate) ca: PathBuf,
}

#[derive(Subcommand)]
pub enum OpsCommand {
    /// File an incident report (上报) at your node; prints its id.
    #[command(
        after_help = "Example:\n  liandong report --severity III --category fire --title 仓库冒烟 \
        --place 仓山区建新镇 --watch\n\nWith --watch, follows the report up the tree until its owner accepts it."
    )]
    Report(ReportArgs),
    /// Issue a dispatch order (交办) to nodes below yours.
    #[command(
        after_help = "Examples:\n  liandong dispatch --to 350102001,350102002 --severity IV \
        --instruction \"排查辖区隐患\" --finish-within 2h\n  \
        liandong dispatch --subtree 350102 --level village --severity III --instruction \"启动防汛预案\" --watch"
    )]
    Dispatch(DispatchArgs),
    /// Sign for (签收) an order addressed to your node, or report progress, done, or refuse it.
    #[command(visible_alias = "ack")]
    Sign(SignArgs),
    /// Act on an incident: accept, escalate, feedback, resolve, verify, close, note, cancel.
    #[command(subcommand)]
    Incident(IncidentCommand),
    /// List the incidents your node knows (open ones unless --all), or show one in detail.
    Incidents(ListArgs),
    /// List the orders your node knows (unfinished ones unless --all), or show one in detail.
    Orders(ListArgs),
    /// Show your node: its parent, links, open work and storage.
    Status(StatusArgs),
    /// Print every change at your node as it happens, one line each, until Ctrl-C.
    Watch(WatchArgs),
}

#[derive(Args)]
pub struct ReportArgs {
    /// I (especially serious), II, III, IV (general) or routine.
    #[arg(long, value_parser = severity_parser(), ignore_case = true)]
    pub(crate) severity: Severity,
    /// What kind of matter it is.
    #[arg(long, value_parser = category_parser(), ignore_case = true)]
    pub(crate) category: Category,
    /// A short title.
    #[arg(long, value_parser = non_empty)]
    pub(crate) title: String,
    /// What happened, in full.
    #[arg(long, default_value = "")]
    pub(crate) detail: String,
    /// Where it happened, as people say it.
    #[arg(long, default_value = "")]
    pub(crate) place: String,
    /// A drill (演练): travels the live network but never mixes with real cases.
    #[arg(long)]
    pub(crate) exercise: bool,
    /// Follow the report until its owner accepts it (or Ctrl-C, or --watch-timeout).
    #[arg(long)]
    pub(crate) watch: bool,
    /// Stop watching after this many seconds (exit 1 if not accepted by then).
    #[arg(long, value_name = "SECS", requires = "watch")]
    pub(crate) watch_timeout: Option<u64>,
    #[command(flatten)]
    pub(crate) conn: Connection,
}

#[derive(Args)]
pub struct DispatchArgs {
    /// Target nodes, comma-separated.
    #[arg(long, value_name = "ID[,ID...]", value_delimiter = ',', value_parser = NodeId::parse,
          required_unless_present = "subtree", conflicts_with = "subtree")]
    pub(crate) to: Vec<NodeId>,
    /// Every node under this one (itself excluded).
    #[arg(long, value_name = "ID", value_parser = NodeId::parse)]
    pub(crate) subtree: Option<NodeId>,
    /// With --subtree: only nodes of this level (village, township, ...).
    #[arg(long, requires = "subtree", value_parser = level_parser())]
    pub(crate) level: Option<Level>,
    /// I, II, III, IV or routine.
    #[arg(long, value_parser = severity_parser(), ignore_case = true)]
    pub(crate) severity: Severity,
    /// What the targets must do.
    #[arg(long, value_parser = non_empty)]
    pub(crate) instruction: String,
    /// The incident this order handles (full id or a unique prefix).
    #[arg(long, value_name = "ID", value_parser = id_ref)]
    pub(crate) incident: Option<IdRef>,
    /// Deadline to finish, from now: 30m, 2h, 1d (default: the policy's).
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub(crate) finish_within: Option<Duration>,
    /// A drill (演练).
    #[arg(long)]
    pub(crate) exercise: bool,
    /// Follow each target's acknowledgement until all have signed for it or refused.
    #[arg(long)]
    pub(crate) watch: bool,
    /// Stop watching after this many seconds (exit 1 if some target has not answered).
    #[arg(long, value_name = "SECS", requires = "watch")]
    pub(crate) watch_timeout: Option<u64>,
    #[command(flatten)]
    pub(crate) conn: Connection,
}

#[derive(Args)]
pub struct SignArgs {
    /// The order (full id or a unique prefix).
    #[arg(value_parser = id_ref)]
    pub(crate) order: IdRef,
    /// Report progress (反馈) instead of signing for it.
    #[arg(long, value_name = "NOTE", group = "ack")]
    pub(crate) progress: Option<String>,
    /// Report it done.
    #[arg(long, value_name = "NOTE", group = "ack")]
    pub(crate) done: Option<String>,
    /// Refuse it, saying why.
    #[arg(long, value_name = "REASON", group = "ack", value_parser = non_empty)]
    pub(crate) refuse: Option<String>,
    #[command(flatten)]
    pub(crate) conn: Connection,
}

#[derive(Args)]
pub struct IdArgs {
    /// The incident (full id or a unique prefix, e.g. the 12 digits lists show).
    #[arg(value_parser = id_ref)]
    pub(crate) id: IdRef,
    #[command(flatten)]
    pub(crate) conn: Connection,
}

#[derive(Args)]
pub struct IdTextArgs {
    /// The incident (full id or a unique prefix).
    #[arg(value_parser = id_ref)]
    pub(crate) id: IdRef,
    #[arg(value_parser = non_empty)]
    pub(crate) text: String,
    #[command(flatten)]
    pub(crate) conn: Connection,
}

#[derive(Args)]
pub struct IdReasonArgs {
    /// The incident (full id or a unique prefix).
    #[arg(value_parser = id_ref)]
    pub(crate) id: IdRef,
    #[arg(long, value_parser = non_empty)]
    pub(crate) reason: String,
    #[command(flatten)]
    pub(crate) conn: Connection,
}

#[derive(Subcommand)]
pub enum IncidentCommand {
    /// Show it: in detail (text), as JSON, or as the CAP 1.2 alert your center sends.
    #[command(after_help = "Examples:\n  liandong incident show 3f2a9c01b7e4\n  \
        liandong incident show 3f2a9c01b7e4 --format cap > incident.xml")]
    Show(ShowArgs),
    /// Take ownership of a report (受理).
    Accept(IdArgs),
    /// Hand it one level up, saying why.
    Escalate(IdReasonArgs),
    /// Report progress on it (反馈).
    Feedback(IdTextArgs),
    /// Say it is handled.
    Resolve {
        #[arg(value_parser = id_ref)]
        id: IdRef,
        #[arg(long, value_parser = non_empty)]
        summary: String,
        #[command(flatten)]
        conn: Connection,
    },
    /// Check the result (核查): accept it, or reject it to reopen the case.
    Verify {
        #[arg(value_parser = id_ref)]
        id: IdRef,
        #[arg(long, required_unless_present = "reject", conflicts_with = "reject")]
        accept: bool,
        #[arg(long)]
        reject: bool,
        #[arg(long, default_value = "")]
        note: String,
        #[command(flatten)]
        conn: Connection,
    },
    /// Close the case (结案).
    Close(IdArgs),
    /// Add a note to its timeline.
    Note(IdTextArgs),
    /// Withdraw it, saying why.
    Cancel(IdReasonArgs),
}

#[derive(Args)]
pub struct ShowArgs {
    /// The incident (full id or a unique prefix).
    #[arg(value_parser = id_ref)]
    pub(crate) id: IdRef,
    /// text (the detail view), json, or cap (a CAP 1.2 alert, XML).
    #[arg(long, default_value = "text", value_parser = ["text", "json", "cap"])]
    pub(crate) format: String,
    #[command(flatten)]
    pub(crate) conn: Connection,
}

#[derive(Args)]
pub struct ListArgs {
    /// Show this one in detail (full id or a unique prefix).
    #[arg(value_parser = id_ref)]
    pub(crate) id: Option<IdRef>,
    /// Include closed incidents / finished orders.
    #[arg(long, conflicts_with = "id")]
    pub(crate) all: bool,
    /// Print JSON instead of a table (ids as 32 hex digits, times in ms since the epoch).
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) conn: Connection,
}

#[derive(Args)]
pub struct StatusArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) conn: Connection,
}

#[derive(Args)]
pub struct WatchArgs {
    /// One JSON object per line: the snapshot first, then each change.
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) conn: Connection,
}
