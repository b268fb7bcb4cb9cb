//! Operators' input rules: what an operator may type into a command, in
//! one place, so the node, the simulator and every other driver obey the
//! same rules. Pure functions of the command; no I/O, no clock.
//!
//! [`Core::handle_command`](super::Core::handle_command) applies
//! [`Command::checked`] first, before any other refusal (a full queue,
//! an unknown incident, a wrong state): a command is checked and
//! normalised, then judged against what the node holds.
//!
//! # The rules
//! - A report's title is trimmed and required; it and the place are at
//!   most [`MAX_TITLE`] characters, the detail at most [`MAX_TEXT`]. The
//!   detail and the place are kept as typed and may be empty. It carries
//!   at most [`MAX_PHOTOS`] photos, each named once.
//! - A required text (an escalation's or a cancellation's reason,
//!   feedback, a note, a resolution's summary, an order's instruction, a
//!   room's message, decision or task) is trimmed, must not then be
//!   empty, and is at most [`MAX_TEXT`] characters once trimmed.
//! - An optional text (a verification's note, a room's closing summary)
//!   is at most [`MAX_TEXT`] characters as typed, then trimmed; it may be
//!   empty.
//! - An acknowledgement signs for, reports progress on, finishes or
//!   refuses ([`acknowledgement`]); `Pending` and `Delivered` are the
//!   core's own states, never an operator's.
//!
//! Checks run in that order within a command (for a report: the title's
//! emptiness, then the lengths of title, detail and place), and the first
//! broken rule is the refusal.
//!
//! # Who may do what
//! Role rules stay with the state they depend on: only a leader opens a
//! room, records a decision in it or closes it, and those checks live in
//! `room_asks` (`check_open`, `check_act`), after the checks of the room
//! itself (known, open, present), because the room's home repeats them on
//! every ask against its own copy and the order of refusals there is
//! part of what operators are told. Which operator acts, and in which
//! role, the core takes from the command (`by`, `role`): only the driver
//! sees the certificate that proves them, so authenticating the operator
//! stays with the driver.
//!
//! # Why the node still asks [`acknowledgement`] itself
//! An operator names an order by a prefix of its id, which only the
//! driver resolves (against the orders the core holds) before it can build
//! a [`Command::Acknowledge`]. Operators have always been told that the
//! kind of acknowledgement is wrong before they are told the order is
//! unknown, so the node asks this rule before resolving the id; the core
//! checks it again in [`Command::checked`], for drivers that do not.

use super::{Command, CommandError};
use crate::wire::{Report, RoomAct, TargetState};

/// Longest title (and place) of a report, in characters.
pub const MAX_TITLE: usize = 200;
/// Longest other text an operator may enter, in characters.
pub const MAX_TEXT: usize = 8000;
/// Most photos a report carries.
pub const MAX_PHOTOS: usize = 4;

impl Command {
    /// This command with its operator texts checked and trimmed, or the
    /// first rule it breaks (see the [module doc](self)). Checking a
    /// checked command changes nothing.
    pub fn checked(self) -> Result<Command, CommandError> {
        let command = match self {
            Command::Once { id, command } => Command::Once {
                id,
                command: Box::new(command.checked()?),
            },
            Command::Report { report, mode } => Command::Report {
                report: checked_report(report)?,
                mode,
            },
            Command::ReportOnce { id, report, mode } => Command::ReportOnce {
                id,
                report: checked_report(report)?,
                mode,
            },
            Command::Escalate { incident, by, reason } => Command::Escalate {
                incident,
                by,
                reason: text("reason", reason)?,
            },
            Command::Feedback { incident, by, text: t } => Command::Feedback {
                incident,
                by,
                text: text("feedback", t)?,
            },
            Command::Resolve { incident, by, summary } => Command::Resolve {
                incident,
                by,
                summary: text("summary", summary)?,
            },
            Command::Verify {
                incident,
                by,
                accepted,
                note,
            } => Command::Verify {
                incident,
                by,
                accepted,
                note: text_or_empty("note", note)?,
            },
            Command::Note { incident, by, text: t } => Command::Note {
                incident,
                by,
                text: text("note", t)?,
            },
            Command::Cancel { incident, by, reason } => Command::Cancel {
                incident,
                by,
                reason: text("reason", reason)?,
            },
            Command::Dispatch { mut order, mode } => {
                order.instruction = text("instruction", order.instruction)?;
                Command::Dispatch { order, mode }
            }
            Command::Acknowledge { order, state } => {
                acknowledgement(&state)?;
                Command::Acknowledge { order, state }
            }
            Command::Room {
                room,
                by,
                role,
                act,
                home,
            } => Command::Room {
                room,
                by,
                role,
                act: room_act(act)?,
                home,
            },
            c @ (Command::Accept { .. } | Command::Close { .. } | Command::Publish(_)) => c,
        };
        Ok(command)
    }
}

/// Whether an operator may acknowledge an order with `state`: signing
/// for, progress, done and refused are theirs; pending and delivered are
/// the core's. (Whether the step is allowed from the target's current
/// state is the core's to judge against the order it holds.)
pub fn acknowledgement(state: &TargetState) -> Result<(), CommandError> {
    match state {
        TargetState::Pending | TargetState::Delivered => Err(CommandError::NotAnAck { state: state.name() }),
        TargetState::SignedFor { .. }
        | TargetState::InProgress { .. }
        | TargetState::Done { .. }
        | TargetState::Refused { .. } => Ok(()),
    }
}

fn room_act(act: RoomAct) -> Result<RoomAct, CommandError> {
    let act = match act {
        RoomAct::Say { text: t } => RoomAct::Say {
            text: text("message", t)?,
        },
        RoomAct::Decide { text: t } => RoomAct::Decide {
            text: text("decision", t)?,
        },
        RoomAct::Task {
            target,
            instruction,
            finish_by,
        } => RoomAct::Task {
            target,
            instruction: text("task", instruction)?,
            finish_by,
        },
        RoomAct::Close { summary } => RoomAct::Close {
            summary: text_or_empty("summary", summary)?,
        },
        other @ (RoomAct::Open | RoomAct::Enter | RoomAct::Leave | RoomAct::Invite { .. }) => other,
    };
    Ok(act)
}

/// A report's title: trimmed, required, at most [`MAX_TITLE`].
fn report_title(title: String) -> Result<String, CommandError> {
    let title = trimmed(title);
    if title.is_empty() {
        return Err(CommandError::NoTitle);
    }
    check_len("title", &title, MAX_TITLE)?;
    Ok(title)
}

/// A report's texts: the title trimmed and required, detail and place bounded.
fn checked_report(mut report: Report) -> Result<Report, CommandError> {
    report.title = report_title(report.title)?;
    check_len("detail", &report.detail, MAX_TEXT)?;
    check_len("place", &report.place, MAX_TITLE)?;
    if report.photos.len() > MAX_PHOTOS {
        return Err(CommandError::TooManyPhotos {
            count: report.photos.len(),
            max: MAX_PHOTOS,
        });
    }
    for (i, photo) in report.photos.iter().enumerate() {
        if report.photos[..i].iter().any(|p| p.sha256 == photo.sha256) {
            return Err(CommandError::PhotoTwice(photo.hex()));
        }
    }
    Ok(report)
}

/// A required text: trimmed, not empty, at most [`MAX_TEXT`].
fn text(field: &'static str, value: String) -> Result<String, CommandError> {
    let value = trimmed(value);
    if value.is_empty() {
        return Err(CommandError::EmptyText { field });
    }
    check_len(field, &value, MAX_TEXT)?;
    Ok(value)
}

/// An optional text: at most [`MAX_TEXT`] as typed, then trimmed.
fn text_or_empty(field: &'static str, value: String) -> Result<String, CommandError> {
    check_len(field, &value, MAX_TEXT)?;
    Ok(trimmed(value))
}

fn check_len(field: &'static str, value: &str, max: usize) -> Result<(), CommandError> {
    let chars = value.chars().count();
    if chars > max {
        return Err(CommandError::TooLong { field, chars, max });
    }
    Ok(())
}

/// `value` without leading and trailing whitespace, reusing its buffer
/// when nothing is trimmed.
fn trimmed(value: String) -> String {
    if value.trim().len() == value.len() {
        value
    } else {
        value.trim().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use liandong_topology::{NodeId, Severity};

    use super::*;
    use crate::wire::{Category, EnvelopeId, Mode, Order, Report, Role, Targets};

    const INCIDENT: EnvelopeId = EnvelopeId(7);

    fn report(title: &str, detail: &str, place: &str) -> Command {
        Command::Report {
            report: Report {
                severity: Severity::IV,
                category: Category::Dispute,
                title: title.into(),
                detail: detail.into(),
                place: place.into(),
                reporter: "网格员张伟".into(),
                photos: Vec::new(),
            },
            mode: Mode::Actual,
        }
    }

    fn refusal(command: Command) -> String {
        command.checked().expect_err("a broken rule").to_string()
    }

    /// Every command carrying a required text, as `(field, command)`,
    /// with `t` as that text.
    fn required(t: &str) -> Vec<(&'static str, Command)> {
        let by = || "值班员李娜".to_owned();
        let room = |act| Command::Room {
            room: INCIDENT,
            by: by(),
            role: Role::Leader,
            act,
            home: None,
        };
        vec![
            (
                "reason",
                Command::Escalate {
                    incident: INCIDENT,
                    by: by(),
                    reason: t.into(),
                },
            ),
            (
                "feedback",
                Command::Feedback {
                    incident: INCIDENT,
                    by: by(),
                    text: t.into(),
                },
            ),
            (
                "summary",
                Command::Resolve {
                    incident: INCIDENT,
                    by: by(),
                    summary: t.into(),
                },
            ),
            (
                "note",
                Command::Note {
                    incident: INCIDENT,
                    by: by(),
                    text: t.into(),
                },
            ),
            (
                "reason",
                Command::Cancel {
                    incident: INCIDENT,
                    by: by(),
                    reason: t.into(),
                },
            ),
            (
                "instruction",
                Command::Dispatch {
                    order: Order {
                        incident: None,
                        targets: Targets::Node(NodeId::parse("350102").unwrap()),
                        severity: Severity::III,
                        instruction: t.into(),
                        by: by(),
                        finish_by: None,
                    },
                    mode: Mode::Actual,
                },
            ),
            ("message", room(RoomAct::Say { text: t.into() })),
            ("decision", room(RoomAct::Decide { text: t.into() })),
            (
                "task",
                room(RoomAct::Task {
                    target: NodeId::parse("350102001").unwrap(),
                    instruction: t.into(),
                    finish_by: None,
                }),
            ),
        ]
    }

    /// Every command carrying an optional text, with `t` as that text.
    fn optional(t: &str) -> Vec<(&'static str, Command)> {
        vec![
            (
                "note",
                Command::Verify {
                    incident: INCIDENT,
                    by: "张伟".into(),
                    accepted: true,
                    note: t.into(),
                },
            ),
            (
                "summary",
                Command::Room {
                    room: INCIDENT,
                    by: "王强".into(),
                    role: Role::Leader,
                    act: RoomAct::Close { summary: t.into() },
                    home: None,
                },
            ),
        ]
    }

    #[test]
    fn a_reports_title_is_trimmed_required_and_bounded() {
        let checked = report("  邻里纠纷 \n", " 两户争执 ", " 五一社区 ").checked().unwrap();
        assert_eq!(
            checked,
            report("邻里纠纷", " 两户争执 ", " 五一社区 "),
            "the title trimmed; detail and place as typed"
        );
        assert_eq!(refusal(report(" \t ", "", "")), "a report needs a title");
        assert_eq!(
            refusal(report(&"水".repeat(201), "", "")),
            "the title is 201 characters long; at most 200 are allowed"
        );
        assert!(report(&"水".repeat(200), "", "").checked().is_ok());
        let padded = format!("  {}  ", "水".repeat(200));
        assert!(report(&padded, "", "").checked().is_ok(), "bounded once trimmed");
        assert!(
            report("邻里纠纷", "", "").checked().is_ok(),
            "detail and place may be empty"
        );
    }

    #[test]
    fn a_reports_detail_and_place_are_bounded_as_typed() {
        assert_eq!(
            refusal(report("邻里纠纷", &"x".repeat(MAX_TEXT + 1), "")),
            "the detail is 8001 characters long; at most 8000 are allowed"
        );
        assert!(report("邻里纠纷", &"x".repeat(MAX_TEXT), "").checked().is_ok());
        assert_eq!(
            refusal(report("邻里纠纷", "", &format!("{} ", "村".repeat(MAX_TITLE)))),
            "the place is 201 characters long; at most 200 are allowed",
            "counted before any trimming"
        );
        assert!(report("邻里纠纷", "", &"村".repeat(MAX_TITLE)).checked().is_ok());
    }

    #[test]
    fn a_reports_rules_apply_in_order() {
        let long = "x".repeat(MAX_TEXT + 1);
        assert_eq!(refusal(report(" ", &long, &long)), "a report needs a title");
        assert_eq!(
            refusal(report(&"水".repeat(201), &long, &long)),
            "the title is 201 characters long; at most 200 are allowed"
        );
        assert_eq!(
            refusal(report("邻里纠纷", &long, &long)),
            "the detail is 8001 characters long; at most 8000 are allowed"
        );
    }

    #[test]
    fn required_texts_are_trimmed_then_required_and_bounded() {
        for (field, command) in required(" \t\n ") {
            assert_eq!(command.checked(), Err(CommandError::EmptyText { field }), "{field}");
        }
        for (field, command) in required(&"x".repeat(MAX_TEXT + 1)) {
            assert_eq!(
                refusal(command),
                format!("the {field} is 8001 characters long; at most 8000 are allowed")
            );
        }
        let padded = format!(" {} ", "x".repeat(MAX_TEXT));
        let trimmed = "x".repeat(MAX_TEXT);
        for ((field, command), (_, want)) in required(&padded).into_iter().zip(required(&trimmed)) {
            assert_eq!(command.checked().as_ref(), Ok(&want), "{field}: bounded once trimmed");
        }
        for ((field, command), (_, want)) in required(" 需要市级协调\n").into_iter().zip(required("需要市级协调"))
        {
            assert_eq!(command.checked(), Ok(want), "{field}");
        }
    }

    #[test]
    fn optional_texts_are_bounded_as_typed_then_trimmed() {
        for ((field, command), (_, want)) in optional("  ").into_iter().zip(optional("")) {
            assert_eq!(command.checked(), Ok(want), "{field} may be empty");
        }
        for ((field, command), (_, want)) in optional(" 已回访 ").into_iter().zip(optional("已回访")) {
            assert_eq!(command.checked(), Ok(want), "{field}");
        }
        let padded = format!("{} ", "x".repeat(MAX_TEXT));
        for (field, command) in optional(&padded) {
            assert_eq!(
                command.checked(),
                Err(CommandError::TooLong {
                    field,
                    chars: MAX_TEXT + 1,
                    max: MAX_TEXT
                }),
                "{field}: counted before trimming"
            );
        }
    }

    #[test]
    fn an_acknowledgement_is_an_operators_kind() {
        for state in [TargetState::Pending, TargetState::Delivered] {
            let command = Command::Acknowledge {
                order: INCIDENT,
                state: state.clone(),
            };
            assert_eq!(
                refusal(command),
                "an acknowledgement signs for, reports progress on, finishes or refuses"
            );
            assert_eq!(
                acknowledgement(&state),
                Err(CommandError::NotAnAck { state: state.name() })
            );
        }
        let theirs = [
            TargetState::SignedFor { by: "李娜".into() },
            TargetState::InProgress {
                note: " 在途 ".into()
            },
            TargetState::Done { note: String::new() },
            TargetState::Refused {
                reason: "人手不足".into(),
            },
        ];
        for state in theirs {
            assert_eq!(acknowledgement(&state), Ok(()));
            let command = Command::Acknowledge { order: INCIDENT, state };
            assert_eq!(command.clone().checked(), Ok(command), "kept as given");
        }
    }

    #[test]
    fn commands_without_texts_pass_and_checking_twice_changes_nothing() {
        let plain = [
            Command::Accept {
                incident: INCIDENT,
                by: " 李娜 ".into(),
            },
            Command::Close {
                incident: INCIDENT,
                by: "李娜".into(),
            },
            Command::Room {
                room: INCIDENT,
                by: "王强".into(),
                role: Role::Operator,
                act: RoomAct::Enter,
                home: Some(NodeId::parse("350102").unwrap()),
            },
        ];
        for command in plain {
            assert_eq!(command.clone().checked(), Ok(command));
        }
        let once = report(" 邻里纠纷 ", "", "").checked().unwrap();
        assert_eq!(once.clone().checked(), Ok(once));
    }
}
