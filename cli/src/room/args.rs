//! The room commands' flags and subcommands (clap): what each accepts.
//! What each does with them is the parent module.

use super::*;

#[derive(Subcommand)]
pub enum RoomCommand {
    /// List the coordination rooms your node is part of (open ones unless --all).
    #[command(after_help = "Examples:\n  liandong room list\n  liandong room list --all --json")]
    List(ListArgs),
    /// Show a room: its header, who is present, its tasks and the whole log.
    #[command(
        after_help = "Examples:\n  liandong room show 3f2a9c0e1b7d\n  liandong room show 3f2a --watch\n\n\
        With --watch, then prints each new entry of the log as the room takes it, until the room \
        closes or Ctrl-C (with --json: the room, then one entry per line)."
    )]
    Show(ShowArgs),
    /// Open the coordination room of an incident your center owns (leaders only).
    #[command(after_help = concat!("Example:\n  liandong room open 3f2a9c0e1b7d", waiting!()))]
    Open(OpenArgs),
    /// Enter a room: you are then present, may speak and assign tasks.
    #[command(after_help = concat!(
        "Examples:\n  liandong room enter 3f2a9c0e1b7d\n  \
         liandong room enter 3f2a9c0e1b7d4a5e8f00112233445566 --home 350100",
        waiting!()
    ))]
    Enter(EnterArgs),
    /// Leave a room.
    #[command(after_help = concat!("Example:\n  liandong room leave 3f2a9c0e1b7d", waiting!()))]
    Leave(LeaveArgs),
    /// Say something to everyone in the room.
    #[command(after_help = concat!("Example:\n  liandong room say 3f2a9c0e1b7d 消防车已到达现场", waiting!()))]
    Say(TextArgs),
    /// Record a decision (决定事项) for the minutes (leaders only).
    #[command(after_help = concat!("Example:\n  liandong room decide 3f2a9c0e1b7d 转移周边三栋楼群众", waiting!()))]
    Decide(TextArgs),
    /// Assign a task to a center or unit below the room's home; the home issues it as an order.
    #[command(after_help = concat!(
        "Examples:\n  liandong room task 3f2a9c0e1b7d --to 350102001 --instruction 疏散周边群众 --due 2h\n  \
         liandong room task 3f2a9c0e1b7d --to 350102-police --instruction 封控路口 --due 18:30",
        waiting!()
    ))]
    Task(TaskArgs),
    /// Let a node off the incident's path (a member unit, another center) into the room; from the home only.
    #[command(after_help = concat!("Example:\n  liandong room invite 3f2a9c0e1b7d 350102-police", waiting!()))]
    Invite(InviteArgs),
    /// Close the room (leaders, at the home); its minutes are then final.
    #[command(after_help = concat!(
        "Example:\n  liandong room close 3f2a9c0e1b7d --summary \"火情已扑灭,群众全部安置\"",
        waiting!()
    ))]
    Close(CloseArgs),
    /// The room's minutes (会议纪要): attendees, decisions, and the tasks with their state.
    #[command(after_help = "Examples:\n  liandong room minutes 3f2a9c0e1b7d\n  \
        liandong room minutes 3f2a9c0e1b7d --format json --out minutes.json\n\n\
        While the room is open the minutes are a draft.")]
    Minutes(MinutesArgs),
}

/// Whether, and how long, an act waits for the room's home.
#[derive(Args)]
#[command(next_help_heading = "Waiting")]
pub struct Wait {
    /// Return once your node has stored the ask, without waiting for the home.
    #[arg(long)]
    pub(crate) no_wait: bool,
    /// How long to wait for the home to take or refuse the ask: 30s, 2m.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = duration,
          conflicts_with = "no_wait")]
    pub(crate) timeout: Duration,
}

#[derive(Args)]
pub struct ListArgs {
    /// Include closed rooms.
    #[arg(long)]
    pub(crate) all: bool,
    /// Print JSON instead of a table (ids as 32 hex digits, times in ms since the epoch).
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) conn: Connection,
}

#[derive(Args)]
pub struct ShowArgs {
    /// The room: its incident's id (full, or a unique prefix such as the 12 digits lists show).
    #[arg(value_parser = id_ref)]
    pub(crate) id: IdRef,
    /// Print JSON instead of text.
    #[arg(long)]
    pub(crate) json: bool,
    /// Then follow the room: print each new log entry as it comes, until it closes or Ctrl-C.
    #[arg(long)]
    pub(crate) watch: bool,
    #[command(flatten)]
    pub(crate) conn: Connection,
}

#[derive(Args)]
pub struct OpenArgs {
    /// The incident (full id or a unique prefix).
    #[arg(value_parser = id_ref)]
    pub(crate) incident: IdRef,
    #[command(flatten)]
    pub(crate) wait: Wait,
    #[command(flatten)]
    pub(crate) conn: Connection,
}

#[derive(Args)]
pub struct EnterArgs {
    /// The room: its incident's id (full or a unique prefix).
    #[arg(value_parser = id_ref)]
    pub(crate) id: IdRef,
    /// The room's home, to ask to enter a room your node does not know yet
    /// (you were invited, off the incident's path); ID must then be the
    /// full 32-digit id.
    #[arg(long, value_name = "NODE", value_parser = NodeId::parse)]
    pub(crate) home: Option<NodeId>,
    #[command(flatten)]
    pub(crate) wait: Wait,
    #[command(flatten)]
    pub(crate) conn: Connection,
}

#[derive(Args)]
pub struct LeaveArgs {
    /// The room: its incident's id (full or a unique prefix).
    #[arg(value_parser = id_ref)]
    pub(crate) id: IdRef,
    #[command(flatten)]
    pub(crate) wait: Wait,
    #[command(flatten)]
    pub(crate) conn: Connection,
}

#[derive(Args)]
pub struct TextArgs {
    /// The room: its incident's id (full or a unique prefix).
    #[arg(value_parser = id_ref)]
    pub(crate) id: IdRef,
    /// The words, joined with single spaces (quote them to keep other spacing).
    #[arg(required = true, num_args = 1.., value_name = "TEXT", value_parser = non_empty)]
    pub(crate) text: Vec<String>,
    #[command(flatten)]
    pub(crate) wait: Wait,
    #[command(flatten)]
    pub(crate) conn: Connection,
}

#[derive(Args)]
pub struct TaskArgs {
    /// The room: its incident's id (full or a unique prefix).
    #[arg(value_parser = id_ref)]
    pub(crate) id: IdRef,
    /// The center or member unit that must do it (below the room's home).
    #[arg(long, value_name = "NODE", value_parser = NodeId::parse)]
    pub(crate) to: NodeId,
    /// What it must do.
    #[arg(long, value_parser = non_empty)]
    pub(crate) instruction: String,
    /// When it must be done: a duration from now (30m, 2h, 1d), a time
    /// today (18:30; tomorrow if already past) or a date and time
    /// (2026-11-22 18:30), in this machine's time zone [default: the policy's].
    #[arg(long, value_name = "DURATION|TIME", value_parser = due)]
    pub(crate) due: Option<Due>,
    #[command(flatten)]
    pub(crate) wait: Wait,
    #[command(flatten)]
    pub(crate) conn: Connection,
}

#[derive(Args)]
pub struct InviteArgs {
    /// The room: its incident's id (full or a unique prefix).
    #[arg(value_parser = id_ref)]
    pub(crate) id: IdRef,
    /// The node to let in (e.g. 350102-police).
    #[arg(value_name = "NODE", value_parser = NodeId::parse)]
    pub(crate) invitee: NodeId,
    #[command(flatten)]
    pub(crate) wait: Wait,
    #[command(flatten)]
    pub(crate) conn: Connection,
}

#[derive(Args)]
pub struct CloseArgs {
    /// The room: its incident's id (full or a unique prefix).
    #[arg(value_parser = id_ref)]
    pub(crate) id: IdRef,
    /// How it ended, for the minutes.
    #[arg(long, default_value = "")]
    pub(crate) summary: String,
    #[command(flatten)]
    pub(crate) wait: Wait,
    #[command(flatten)]
    pub(crate) conn: Connection,
}

#[derive(Args)]
pub struct MinutesArgs {
    /// The room: its incident's id (full or a unique prefix).
    #[arg(value_parser = id_ref)]
    pub(crate) id: IdRef,
    /// Markdown (headings in Chinese and English) or JSON.
    #[arg(long, value_enum, default_value = "md")]
    pub(crate) format: Format,
    /// Write them to this file instead of printing them.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) conn: Connection,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Format {
    #[value(alias = "markdown")]
    Md,
    Json,
}

/// A task's deadline as typed, resolved against the clock when the
/// command runs.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Due {
    /// From now (`2h`).
    Within(Duration),
    /// At a wall-clock time in this machine's time zone; without a date,
    /// the next time the clock shows it.
    At(Option<Date>, Time),
}
