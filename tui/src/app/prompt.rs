//! The one-line question at the bottom of the screen: what it asks, its
//! keys, and the request its answer makes. Everything but a search and
//! a verification note needs words; an empty answer sends nothing and
//! keeps the prompt open.

use crossterm::event::{KeyCode, KeyEvent};
use liandong_control::{Act, Request};
use liandong_dispatch::wire::{EnvelopeId, TargetState};

use super::{Action, App, id_ref};
use crate::editor::Editor;

/// A one-line question at the bottom of the screen.
#[derive(Debug, Clone)]
pub struct Prompt {
    pub kind: PromptKind,
    pub editor: Editor,
}

/// What a prompt asks for, and about which incident or order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptKind {
    /// Live search on the board.
    Search,
    Escalate(EnvelopeId),
    Note(EnvelopeId),
    Feedback(EnvelopeId),
    Resolve(EnvelopeId),
    Verify {
        incident: EnvelopeId,
        accepted: bool,
    },
    Cancel(EnvelopeId),
    /// Report an order done.
    Done(EnvelopeId),
    /// Refuse an order.
    Refuse(EnvelopeId),
}

impl App {
    /// A key while a prompt is open: Esc drops it (and the search),
    /// Enter answers it, anything else edits it.
    pub(super) fn prompt_key(&mut self, key: KeyEvent, out: &mut Vec<Action>) {
        let Some(prompt) = self.prompt.as_mut() else { return };
        match key.code {
            KeyCode::Esc => {
                if prompt.kind == PromptKind::Search {
                    self.filter.search.clear();
                    self.dirty = true;
                }
                self.prompt = None;
            }
            KeyCode::Enter => {
                let text = prompt.editor.text().trim().to_owned();
                let kind = prompt.kind;
                // Everything but a verification note needs words.
                let may_be_empty = matches!(kind, PromptKind::Search | PromptKind::Verify { .. });
                if text.is_empty() && !may_be_empty {
                    return;
                }
                self.prompt = None;
                if let Some(request) = prompt_request(kind, text) {
                    out.push(Action::Send(request));
                }
            }
            _ => {
                prompt.editor.handle_key(key);
                if prompt.kind == PromptKind::Search {
                    self.filter.search = prompt.editor.text();
                    self.dirty = true;
                }
            }
        }
    }
}

fn prompt_request(kind: PromptKind, text: String) -> Option<Request> {
    Some(match kind {
        PromptKind::Search => return None,
        PromptKind::Escalate(id) => Request::Act(Act::Escalate {
            incident: id_ref(id),
            reason: text,
        }),
        PromptKind::Note(id) => Request::Act(Act::Note {
            incident: id_ref(id),
            text,
        }),
        PromptKind::Feedback(id) => Request::Act(Act::Feedback {
            incident: id_ref(id),
            text,
        }),
        PromptKind::Resolve(id) => Request::Act(Act::Resolve {
            incident: id_ref(id),
            summary: text,
        }),
        PromptKind::Verify { incident, accepted } => Request::Act(Act::Verify {
            incident: id_ref(incident),
            accepted,
            note: text,
        }),
        PromptKind::Cancel(id) => Request::Act(Act::Cancel {
            incident: id_ref(id),
            reason: text,
        }),
        PromptKind::Done(order) => Request::Act(Act::Acknowledge {
            order: id_ref(order),
            state: TargetState::Done { note: text },
        }),
        PromptKind::Refuse(order) => Request::Act(Act::Acknowledge {
            order: id_ref(order),
            state: TargetState::Refused { reason: text },
        }),
    })
}
