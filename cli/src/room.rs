//! `liandong room ...`: the coordination room (综合协调室) of an incident,
//! over the control API of one's own node.
//!
//! - `room list [--all] [--json]`: the rooms your node is part of, open ones unless `--all`.
//! - `room show ID [--json] [--watch]`: header, roster, tasks and the whole log; `--watch` follows it.
//! - `room open INCIDENT`: open the room of an incident your center owns (leaders).
//! - `room enter ID [--home NODE]`: enter it (`--home` for a room your node does not know yet).
//! - `room leave ID`: leave it.
//! - `room say ID TEXT...`: say something to everyone present.
//! - `room decide ID TEXT...`: record a decision for the minutes (leaders).
//! - `room task ID --to NODE --instruction TEXT [--due DURATION|TIME]`: assign a task (the home issues an order).
//! - `room invite ID NODE`: let a node off the incident's path in (from the home).
//! - `room close ID [--summary TEXT]`: close the room (leaders, at the home).
//! - `room minutes ID [--format md|json] [--out FILE]`: the minutes (会议纪要), a draft while the room is open.
//!
//! A room is named by its incident's id and lives at its *home*, the center
//! that owned the incident when the room opened. Acting in a room is asking
//! the home: your node checks and stores the ask, answers
//! [`Response::Asked`] with the ask's id and sends it on; the home takes it
//! as the room's next numbered event, pushed back as
//! [`Notice::RoomChanged`] whose entry carries the ask's id, or refuses it
//! ([`Notice::RoomRefused`]). So every act subscribes first (nothing the
//! home answers can come before the command listens), asks, prints the
//! `Asked` line, and waits for the one notice that names its ask: exit 0
//! when taken, 1 when refused or when the wait ends (the ask is stored and
//! still on its way; nothing is lost). `--no-wait` ends at `Asked`.
//!
//! Connection options, tables, JSON (ids as 32 hex digits) and times in the
//! machine's time zone are those of the other operator commands
//! ([`crate::ops`]); the node's refusals print as `error: <reason>`.

use liandong_control::clock::now;
use liandong_control::text::{countdown_words, human_coarse, truncate};
use liandong_control::{Act, Query};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand, ValueEnum};
use liandong_control::{ControlClient, IdRef, Notice, Pushed, Request, Response, RoomView};
use liandong_dispatch::room::{Room, RoomEntry, state_words};
use liandong_dispatch::wire::{EnvelopeId, Mode, RoomAct, Timestamp};
use liandong_topology::NodeId;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

use crate::ops::view::{Clock, Fields, Table, age, full, json_line, print_json, to_json};
use crate::ops::{
    Connection, Followed, Progress, block_on, category_name, connect, duration, follow, id_ref, non_empty, query,
    unexpected, usage_error,
};

/// What every act's help says about waiting.
macro_rules! waiting {
    () => {
        "\n\nYour node stores the ask and sends it to the room's home; this then waits \
         (up to --timeout) until the home takes it as the room's next event (exit 0) or \
         refuses it (exit 1). With --no-wait it returns once your node has stored it."
    };
}

mod args;

pub use args::*;

/// One act in a room, checked: what [`Request::Act(Act::RoomAct)`] carries.
struct Ask {
    room: IdRef,
    act: RoomAct,
    home: Option<NodeId>,
}

pub fn run(cmd: RoomCommand) -> anyhow::Result<()> {
    block_on(|clock| execute(cmd, clock))
}

async fn execute(cmd: RoomCommand, clock: Clock) -> anyhow::Result<()> {
    // Every act but entering names no home.
    let in_room = |room, act| Ask { room, act, home: None };
    let (ask, wait, conn) = match cmd {
        RoomCommand::List(args) => return list(args).await,
        RoomCommand::Show(args) => return show(args, clock).await,
        RoomCommand::Minutes(args) => return minutes(args, clock).await,
        RoomCommand::Open(a) => (in_room(a.incident, RoomAct::Open), a.wait, a.conn),
        RoomCommand::Enter(a) => (
            Ask {
                room: a.id,
                act: RoomAct::Enter,
                home: a.home,
            },
            a.wait,
            a.conn,
        ),
        RoomCommand::Leave(a) => (in_room(a.id, RoomAct::Leave), a.wait, a.conn),
        RoomCommand::Say(a) => (in_room(a.id, RoomAct::Say { text: a.text.join(" ") }), a.wait, a.conn),
        RoomCommand::Decide(a) => (
            in_room(a.id, RoomAct::Decide { text: a.text.join(" ") }),
            a.wait,
            a.conn,
        ),
        RoomCommand::Task(a) => {
            let finish_by = a.due.map(|due| due_from_now(&due, now(), clock)).transpose()?;
            let act = RoomAct::Task {
                target: a.to,
                instruction: a.instruction,
                finish_by,
            };
            (in_room(a.id, act), a.wait, a.conn)
        }
        RoomCommand::Invite(a) => (in_room(a.id, RoomAct::Invite { node: a.invitee }), a.wait, a.conn),
        RoomCommand::Close(a) => (in_room(a.id, RoomAct::Close { summary: a.summary }), a.wait, a.conn),
    };
    let client = connect(&conn).await?;
    let outcome = act(&client, ask, &wait, clock).await;
    client.close().await;
    outcome
}

// ---------------------------------------------------------------- parsing

fn due(s: &str) -> Result<Due, String> {
    let s = s.trim();
    let expected = || {
        format!(
            "{s:?} is not a deadline: expected a duration from now (30m, 2h, 1d), \
             a time (18:30) or a date and time (2026-11-22 18:30)"
        )
    };
    if !s.contains(':') {
        return duration(s).map(Due::Within).map_err(|e| format!("{}: {e}", expected()));
    }
    let (date, time) = match s.split_once([' ', 'T']) {
        Some((date, time)) => (Some(parse_date(date).ok_or_else(expected)?), time.trim()),
        None => (None, s),
    };
    Ok(Due::At(date, parse_time(time).ok_or_else(expected)?))
}

/// `2026-11-22`.
fn parse_date(s: &str) -> Option<Date> {
    let mut parts = s.splitn(3, '-');
    let year: i32 = parts.next()?.parse().ok()?;
    let month: u8 = parts.next()?.parse().ok()?;
    let day: u8 = parts.next()?.parse().ok()?;
    Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()
}

/// `18:30` or `18:30:00`.
fn parse_time(s: &str) -> Option<Time> {
    let mut parts = s.splitn(3, ':');
    let hour: u8 = parts.next()?.parse().ok()?;
    let minute: u8 = parts.next()?.parse().ok()?;
    let second: u8 = parts.next().map_or(Some(0), |s| s.parse().ok())?;
    Time::from_hms(hour, minute, second).ok()
}

/// The deadline of a task due `due`, typed at `now`: a date and time
/// already past is a usage error.
fn due_from_now(due: &Due, now: Timestamp, clock: Clock) -> anyhow::Result<Timestamp> {
    let at = deadline(due, now, clock);
    if matches!(due, Due::At(Some(_), _)) && at <= now {
        return Err(usage_error(format!(
            "--due {} is in the past (it is now {})",
            clock.date_time(at),
            clock.date_time(now)
        )));
    }
    Ok(at)
}

/// When `due` falls, seen from `now`. A time without a date is the next
/// time the clock shows it; a date and time is taken as given, even past.
fn deadline(due: &Due, now: Timestamp, clock: Clock) -> Timestamp {
    match due {
        Due::Within(d) => now.plus(*d),
        Due::At(date, time) => {
            let here = clock.local(now);
            let mut at = PrimitiveDateTime::new(date.unwrap_or(here.date()), *time).assume_offset(clock.offset());
            if at <= here && date.is_none() {
                at += time::Duration::DAY;
            }
            timestamp(at)
        }
    }
}

fn timestamp(t: OffsetDateTime) -> Timestamp {
    Timestamp(u64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0))
}

// ---------------------------------------------------------------- acting

/// Asks, prints the `Asked` line, then (unless told not to) waits for the
/// home's answer to this ask.
async fn act(client: &ControlClient, ask: Ask, wait: &Wait, clock: Clock) -> anyhow::Result<()> {
    // Subscribe before asking: the home's answer cannot come before we listen.
    let subscription = if wait.no_wait {
        None
    } else {
        Some(client.subscribe().await?)
    };
    let request = Request::Act(Act::RoomAct {
        room: ask.room,
        act: ask.act,
        home: ask.home,
    });
    let (room, ask, what) = match client.call(request).await? {
        Response::Asked { room, ask, what } => (room, ask, what),
        other => return Err(unexpected(other, "Asked")),
    };
    if what.contains(&room.to_string()) {
        println!("{what}");
    } else {
        println!("{what} (room {room})");
    }
    println!("  ask {}", full(ask));
    let Some(mut subscription) = subscription else {
        return Ok(());
    };
    subscription.next().await; // the snapshot
    let waited = match follow(&mut subscription, Some(wait.timeout), |pushed| {
        answer_to(pushed, ask, clock)
    })
    .await?
    {
        Followed::Finished => return Ok(()),
        Followed::TimedOut(after) => format!("no answer from the room's home within {}", human_coarse(after)),
        Followed::Interrupted => "stopped waiting before the room's home answered".to_owned(),
    };
    // The answer may have come while this terminal fell behind: the room's
    // log at the node says.
    if let Some(entry) = taken_in_log(client, room, ask).await {
        println!("{}", taken(&entry));
        return Ok(());
    }
    bail!(
        "{waited}; the ask is stored at {} and on its way, nothing is lost \
         (`liandong room show {room}` shows it once the home takes it)",
        client.operator().node
    )
}

/// What a pushed notice means for the ask being waited on.
fn answer_to(pushed: &Pushed, ask: EnvelopeId, clock: Clock) -> Progress {
    match &pushed.notice {
        Notice::RoomChanged { entry, .. } if entry.ask == Some(ask) => Progress::Last(taken(entry)),
        Notice::RoomRefused {
            ask: refused, reason, ..
        } if *refused == ask => Progress::Failed(reason.clone()),
        Notice::Forwarded { id, to } if *id == ask => {
            Progress::Step(format!("{}  stored at {to}", clock.time(pushed.at)))
        }
        Notice::DeadLettered { id, stuck_at } if *id == ask => {
            Progress::Failed(format!("the ask {id} expired undelivered at {stuck_at}"))
        }
        _ => Progress::Other,
    }
}

fn taken(entry: &RoomEntry) -> String {
    format!("taken by the home as #{}: {}", entry.seq, entry_text(entry))
}

/// The room's log entry answering `ask`, if the node has it.
async fn taken_in_log(client: &ControlClient, room: EnvelopeId, ask: EnvelopeId) -> Option<RoomEntry> {
    match client.call(Request::Query(Query::Room { id: IdRef(full(room)) })).await {
        Ok(Response::Room(view)) => view.log.into_iter().find(|e| e.ask == Some(ask)),
        _ => None,
    }
}

// ---------------------------------------------------------------- reading

async fn list(args: ListArgs) -> anyhow::Result<()> {
    let rooms = match query(&args.conn, Request::Query(Query::Rooms { closed: args.all })).await? {
        Response::Rooms(rooms) => rooms,
        other => return Err(unexpected(other, "Rooms")),
    };
    if args.json {
        return print_json(&rooms);
    }
    if rooms.is_empty() {
        println!("no {}rooms", if args.all { "" } else { "open " });
    } else {
        print!("{}", room_table(&rooms));
    }
    Ok(())
}

async fn show(args: ShowArgs, clock: Clock) -> anyhow::Result<()> {
    let client = connect(&args.conn).await?;
    let outcome = show_on(&client, &args, clock).await;
    client.close().await;
    outcome
}

async fn show_on(client: &ControlClient, args: &ShowArgs, clock: Clock) -> anyhow::Result<()> {
    // Subscribe before fetching: whatever the room takes after the fetch
    // is pushed.
    let subscription = if args.watch {
        Some(client.subscribe().await?)
    } else {
        None
    };
    let view = fetch(client, &args.id).await?;
    match (args.json, args.watch) {
        (true, true) => println!("{}", json_line(&view)?),
        (true, false) => print_json(&view)?,
        (false, _) => print!("{}", room_detail(&view, now(), clock)),
    }
    let Some(mut subscription) = subscription else {
        return Ok(());
    };
    if !view.room.is_open() {
        eprintln!("the room is closed: nothing more will happen in it");
        return Ok(());
    }
    eprintln!("watching the room of incident {}; Ctrl-C to stop", view.room.id);
    let mut log = Follower {
        room: view.room.id,
        last: view.room.last_seq,
        json: args.json,
        clock,
    };
    subscription.next().await; // the snapshot
    loop {
        let item = tokio::select! {
            item = subscription.next() => item,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        let pushed = match item {
            None => bail!("the node ended the subscription"),
            Some(item) => match item? {
                Response::Pushed(pushed) => pushed,
                other => bail!("the node pushed {} on a subscription", other.kind()),
            },
        };
        let open = match pushed.notice {
            Notice::RoomChanged { room, entry } if room.id == log.room => {
                if entry.seq <= log.last {
                    continue; // already printed
                } else if entry.seq == log.last + 1 {
                    log.print(&entry)?;
                    room.is_open()
                } else {
                    log.catch_up(client).await?
                }
            }
            // Missed notices may have been about this room.
            Notice::Lagged { .. } => log.catch_up(client).await?,
            _ => continue,
        };
        if !open {
            eprintln!("the room is closed");
            return Ok(());
        }
    }
}

/// Where `show --watch` is in the room's log: every entry up to `last` is
/// printed, each once, in order.
struct Follower {
    room: EnvelopeId,
    last: u64,
    json: bool,
    clock: Clock,
}

impl Follower {
    fn print(&mut self, entry: &RoomEntry) -> anyhow::Result<()> {
        if self.json {
            println!("{}", json_line(entry)?);
        } else {
            println!("{}  {}", self.clock.time(entry.at), entry.summary());
        }
        self.last = entry.seq;
        Ok(())
    }

    /// A gap: prints what is missing from the node's log. Returns whether
    /// the room is still open.
    async fn catch_up(&mut self, client: &ControlClient) -> anyhow::Result<bool> {
        let view = fetch(client, &IdRef(full(self.room))).await?;
        let printed = self.last;
        for entry in view.log.iter().filter(|e| e.seq > printed) {
            self.print(entry)?;
        }
        Ok(view.room.is_open())
    }
}

async fn fetch(client: &ControlClient, id: &IdRef) -> anyhow::Result<RoomView> {
    match client.call(Request::Query(Query::Room { id: id.clone() })).await? {
        Response::Room(view) => Ok(view),
        other => Err(unexpected(other, "Room")),
    }
}

async fn minutes(args: MinutesArgs, clock: Clock) -> anyhow::Result<()> {
    let minutes = match query(&args.conn, Request::Query(Query::Minutes { room: args.id })).await? {
        Response::Minutes(minutes) => minutes,
        other => return Err(unexpected(other, "Minutes")),
    };
    let text = match args.format {
        Format::Md => minutes.to_markdown(|t| clock.date_time(t)),
        Format::Json => to_json(&minutes, serde_json::ser::PrettyFormatter::new())? + "\n",
    };
    match &args.out {
        None => print!("{text}"),
        Some(path) => {
            std::fs::write(path, &text).with_context(|| format!("cannot write the minutes to {}", path.display()))?;
            println!(
                "minutes of the room of incident {} written to {}{}",
                minutes.room,
                path.display(),
                if minutes.closing.is_none() {
                    " (a draft: the room is still open)"
                } else {
                    ""
                }
            );
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- printing

fn title_of(room: &Room) -> String {
    match room.mode {
        Mode::Exercise => format!("[exercise] {}", room.title),
        Mode::Actual => room.title.clone(),
    }
}

/// A log entry without its leading `#seq`.
fn entry_text(entry: &RoomEntry) -> String {
    let summary = entry.summary();
    match summary.strip_prefix(&format!("#{} ", entry.seq)) {
        Some(rest) => rest.to_owned(),
        None => summary,
    }
}

fn room_table(rooms: &[Room]) -> String {
    let mut table = Table::new(["ID", "SEV", "TITLE", "HOME", "PRESENT", "OPEN TASKS", "STATE"]);
    for room in rooms {
        table.row([
            room.id.to_string(),
            room.severity.to_string(),
            truncate(&title_of(room), 30),
            room.home.to_string(),
            room.present.len().to_string(),
            room.open_tasks().count().to_string(),
            room.state.name().to_owned(),
        ]);
    }
    table.render()
}

fn room_detail(view: &RoomView, now: Timestamp, clock: Clock) -> String {
    let room = &view.room;
    let mut fields = Fields::default();
    fields.add("room", format!("{} ({})", room.id, full(room.id)));
    fields.add("title", title_of(room));
    fields.add(
        "severity",
        format!("{} {}", room.severity, category_name(room.category)),
    );
    let state = match &room.closing {
        Some(c) if c.summary.is_empty() => format!("closed {} by {} ({})", clock.date_time(c.at), c.by.name, c.by.node),
        Some(c) => format!(
            "closed {} by {} ({}): {}",
            clock.date_time(c.at),
            c.by.name,
            c.by.node,
            c.summary
        ),
        None => room.state.name().to_owned(),
    };
    fields.add("state", state);
    fields.add("home", room.home.to_string());
    fields.add("origin", room.origin.to_string());
    if !room.place.is_empty() {
        fields.add("place", room.place.clone());
    }
    fields.add(
        "opened",
        format!(
            "{} by {} ({}, {}) ({} ago)",
            clock.date_time(room.opened),
            room.opened_by.name,
            room.opened_by.node,
            room.opened_by.role.name(),
            age(now, room.opened)
        ),
    );
    if !room.invited.is_empty() {
        let invited: Vec<&str> = room.invited.iter().map(NodeId::as_str).collect();
        fields.add("invited", invited.join(", "));
    }
    fields.add("events", room.last_seq.to_string());
    let mut out = fields.render();

    out.push('\n');
    if room.present.is_empty() {
        out.push_str("nobody present\n");
    } else {
        out.push_str(&format!("present: {}\n", room.present.len()));
        let mut table = Table::new(["NAME", "NODE", "ROLE", "SINCE"]);
        for p in &room.present {
            table.row([
                p.person.name.clone(),
                p.person.node.to_string(),
                p.person.role.name().to_owned(),
                clock.date_time(p.since),
            ]);
        }
        out.push_str(&table.render());
    }

    out.push('\n');
    if room.tasks.is_empty() {
        out.push_str("no tasks\n");
    } else {
        out.push_str(&format!(
            "tasks: {} ({} open)\n",
            room.tasks.len(),
            room.open_tasks().count()
        ));
        let mut table = Table::new(["#", "TARGET", "DUE", "STATE", "INSTRUCTION"]);
        for task in &room.tasks {
            let due = match task.finish_by {
                None => "-".to_owned(),
                Some(by) if task.state.is_final() => clock.date_time(by),
                Some(by) => format!("{} ({})", clock.date_time(by), countdown_words(now, by)),
            };
            table.row([
                task.seq.to_string(),
                task.target.to_string(),
                due,
                state_words(&task.state),
                task.instruction.clone(),
            ]);
        }
        out.push_str(&table.render());
    }

    out.push('\n');
    if view.log.is_empty() {
        out.push_str("log: empty\n");
    } else {
        out.push_str(&format!("log: {} entries\n", view.log.len()));
        let mut table = Table::new(["#", "TIME", "WHAT"]);
        for entry in &view.log {
            table.row([entry.seq.to_string(), clock.date_time(entry.at), entry_text(entry)]);
        }
        out.push_str(&table.render());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_as_typed() {
        assert_eq!(due("2h"), Ok(Due::Within(Duration::from_secs(7200))));
        assert_eq!(due("1h30m"), Ok(Due::Within(Duration::from_secs(5400))));
        assert_eq!(due("18:30"), Ok(Due::At(None, Time::from_hms(18, 30, 0).unwrap())));
        let date = Date::from_calendar_date(2026, Month::November, 22).unwrap();
        assert_eq!(
            due("2026-11-22 18:30:15"),
            Ok(Due::At(Some(date), Time::from_hms(18, 30, 15).unwrap()))
        );
        assert_eq!(
            due("2026-11-22T18:30"),
            Ok(Due::At(Some(date), Time::from_hms(18, 30, 0).unwrap()))
        );
        for bad in ["", "2", "25:00", "18:61", "2026-13-01 10:00", "tomorrow", "2026-11-22"] {
            assert!(due(bad).is_err(), "{bad:?} was taken");
        }
    }

    #[test]
    fn a_time_without_a_date_is_the_next_one_to_come() {
        let clock = Clock::local_zone();
        let now = Timestamp(1_790_000_000_000);
        let here = clock.local(now);
        // One minute before now, as a time of day: tomorrow.
        let before = (here - time::Duration::MINUTE).time();
        let at = deadline(&Due::At(None, before), now, clock);
        assert_eq!(at.since(now), Duration::from_secs(86_400 - 60));
        // One minute after: today.
        let after = (here + time::Duration::MINUTE).time();
        let at = deadline(&Due::At(None, after), now, clock);
        assert_eq!(at.since(now), Duration::from_secs(60));
        assert_eq!(
            deadline(&Due::Within(Duration::from_secs(60)), now, clock),
            Timestamp(now.0 + 60_000)
        );
    }

    #[test]
    fn a_date_and_time_already_past_is_a_usage_error() {
        let clock = Clock::local_zone();
        let now = Timestamp(1_790_000_000_000);
        let date = Date::from_calendar_date(2020, Month::January, 1).unwrap();
        let err = due_from_now(&Due::At(Some(date), Time::MIDNIGHT), now, clock).unwrap_err();
        let usage = err.downcast_ref::<clap::Error>().expect("a usage error");
        assert!(usage.to_string().contains("is in the past (it is now "), "{usage}");
        // A time of day already past is tomorrow's.
        let before = (clock.local(now) - time::Duration::MINUTE).time();
        assert!(due_from_now(&Due::At(None, before), now, clock).is_ok());
    }
}
