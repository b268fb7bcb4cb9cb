//! Keys and paste: how the operator's typing changes the app.
//!
//! Global keys first (quit, help, alarms, screens), then the open prompt
//! or the current screen's keys. Keys that ask the node for something
//! return [`Action::Send`]; words (a reason, a summary) are asked for in a
//! prompt first. While the operator types (the composer's instruction,
//! the room's input line) only Ctrl-C / Ctrl-Q and F1 are global.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use liandong_control::{Act, Request};
use liandong_dispatch::wire::{Mode, RoomAct};
use liandong_topology::Severity;

use super::requests::{room_act, sign_for};
use super::{Action, App, Filter, Prompt, PromptKind, id_ref};
use crate::composer::{Composer, Outcome};
use crate::editor::Editor;
use crate::list::Scroll;
use crate::screen::Screen;
use crate::slash;

impl App {
    /// One key press: the global keys, else the prompt's or the screen's.
    pub(super) fn on_key(&mut self, key: KeyEvent, out: &mut Vec<Action>) {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && matches!(key.code, KeyCode::Char('c') | KeyCode::Char('q')) {
            out.push(Action::Quit);
            return;
        }
        if self.prompt.is_some() {
            self.prompt_key(key, out);
            return;
        }
        if self.help {
            match key.code {
                KeyCode::Esc | KeyCode::Char('?') | KeyCode::Char('q') | KeyCode::Enter | KeyCode::F(1) => {
                    self.help = false;
                }
                KeyCode::Down | KeyCode::Char('j') => self.help_scroll += 1,
                KeyCode::Up | KeyCode::Char('k') => self.help_scroll = self.help_scroll.saturating_sub(1),
                KeyCode::PageDown => self.help_scroll += 10,
                KeyCode::PageUp => self.help_scroll = self.help_scroll.saturating_sub(10),
                KeyCode::Home | KeyCode::Char('g') => self.help_scroll = 0,
                _ => {}
            }
            return;
        }
        if key.code == KeyCode::F(1) {
            // F1 types nothing, so it opens the help even while typing.
            self.help = true;
            self.help_scroll = 0;
            return;
        }
        if !self.typing() {
            match key.code {
                KeyCode::Char('?') | KeyCode::F(1) => {
                    self.help = true;
                    self.help_scroll = 0;
                    return;
                }
                KeyCode::Char('q') if self.screen != Screen::Composer => {
                    out.push(Action::Quit);
                    return;
                }
                KeyCode::Char(' ') if !self.alarms.is_empty() && self.screen != Screen::Composer => {
                    self.acknowledge_alarm();
                    return;
                }
                KeyCode::Char('A') if !self.alarms.is_empty() => {
                    self.alarms.clear();
                    self.alarms_dropped = 0;
                    return;
                }
                KeyCode::Char(c @ '1'..='4') if self.screen != Screen::Composer => {
                    let tab = match c {
                        '1' => Screen::Board,
                        '2' => Screen::Orders,
                        '3' => Screen::Links,
                        _ => Screen::Report,
                    };
                    self.open_tab(tab, out);
                    return;
                }
                _ => {}
            }
        }
        match self.screen {
            Screen::Board => self.board_key(key, out),
            Screen::Detail => self.detail_key(key, out),
            Screen::Orders => self.orders_key(key, out),
            Screen::Links => self.links_key(key, out),
            Screen::Composer => self.composer_key(key, out),
            Screen::Room => self.room_key(key, out),
            Screen::Report => self.report_key(key, out),
        }
    }

    /// True while keys are text: the composer's instruction, or the room's
    /// input line, has the focus.
    pub(crate) fn typing(&self) -> bool {
        match self.screen {
            Screen::Composer => self.composer.as_ref().is_some_and(Composer::typing),
            Screen::Room => self.room.as_ref().is_some_and(|p| p.typing),
            _ => false,
        }
    }

    fn board_key(&mut self, key: KeyEvent, out: &mut Vec<Action>) {
        let page = self.board_page();
        if self.board.key(key.code, self.board_rows.len(), page) {
            return;
        }
        match key.code {
            KeyCode::Enter | KeyCode::Right | KeyCode::Char('l') => {
                if let Some(id) = self.selected_incident() {
                    self.open_detail(id);
                }
            }
            KeyCode::Char('a') => {
                if let Some(id) = self.selected_incident() {
                    out.push(Action::Send(Request::Act(Act::Accept { incident: id_ref(id) })));
                }
            }
            KeyCode::Char('/') => {
                let mut editor = Editor::single_line();
                editor.insert_str(&self.filter.search);
                self.prompt = Some(Prompt {
                    kind: PromptKind::Search,
                    editor,
                });
            }
            KeyCode::Char('s') => {
                self.filter.min_severity = match self.filter.min_severity {
                    None => Some(Severity::IV),
                    Some(Severity::IV) => Some(Severity::III),
                    Some(Severity::III) => Some(Severity::II),
                    Some(Severity::II) => Some(Severity::I),
                    Some(_) => None,
                };
                self.dirty = true;
            }
            KeyCode::Char('t') => {
                self.filter.state = self.filter.state.next();
                self.dirty = true;
            }
            KeyCode::Char('e') => {
                self.filter.mode = match self.filter.mode {
                    None => Some(Mode::Actual),
                    Some(Mode::Actual) => Some(Mode::Exercise),
                    Some(Mode::Exercise) => None,
                };
                self.dirty = true;
            }
            KeyCode::Char('c') | KeyCode::Esc => {
                self.filter = Filter::default();
                self.dirty = true;
            }
            KeyCode::Char('n') => self.open_composer(None),
            _ => {}
        }
    }

    fn detail_key(&mut self, key: KeyEvent, out: &mut Vec<Action>) {
        let Some(id) = self.detail else {
            self.pop();
            return;
        };
        let (timeline_page, orders_page) = self.pages_detail();
        let scrolled = if self.detail_orders_pane {
            let n = self.detail_order_count();
            self.detail_orders.key(key.code, n, orders_page)
        } else {
            let n = self.model.incidents.get(&id).map_or(0, |i| i.timeline.len());
            self.timeline.key(key.code, n, timeline_page)
        };
        if scrolled {
            return;
        }
        let prompt = |kind| Prompt {
            kind,
            editor: Editor::single_line(),
        };
        match key.code {
            KeyCode::Esc | KeyCode::Left | KeyCode::Backspace | KeyCode::Char('h') => self.pop(),
            KeyCode::Tab | KeyCode::BackTab => self.detail_orders_pane = !self.detail_orders_pane,
            KeyCode::Char('a') => out.push(Action::Send(Request::Act(Act::Accept { incident: id_ref(id) }))),
            KeyCode::Char('c') => out.push(Action::Send(Request::Act(Act::Close { incident: id_ref(id) }))),
            KeyCode::Char('e') => self.prompt = Some(prompt(PromptKind::Escalate(id))),
            KeyCode::Char('n') => self.prompt = Some(prompt(PromptKind::Note(id))),
            KeyCode::Char('f') => self.prompt = Some(prompt(PromptKind::Feedback(id))),
            KeyCode::Char('r') => self.prompt = Some(prompt(PromptKind::Resolve(id))),
            KeyCode::Char('v') => {
                self.prompt = Some(prompt(PromptKind::Verify {
                    incident: id,
                    accepted: true,
                }))
            }
            KeyCode::Char('b') => {
                self.prompt = Some(prompt(PromptKind::Verify {
                    incident: id,
                    accepted: false,
                }))
            }
            KeyCode::Char('x') => self.prompt = Some(prompt(PromptKind::Cancel(id))),
            KeyCode::Char('d') => self.open_composer(Some(id)),
            KeyCode::Char('m') => self.open_room(id, out),
            KeyCode::Char('M') => out.push(room_act(id, RoomAct::Open, None)),
            KeyCode::Char('i') => {
                let home = self.home_to_ask(id);
                out.push(room_act(id, RoomAct::Enter, home));
                self.open_room(id, out);
            }
            KeyCode::Char('o') => out.push(room_act(id, RoomAct::Leave, None)),
            KeyCode::Char('s') if self.detail_orders_pane => {
                if let Some(order) = self.detail_order_at(self.detail_orders.cursor) {
                    out.push(sign_for(order));
                }
            }
            _ => {}
        }
    }

    fn room_key(&mut self, key: KeyEvent, out: &mut Vec<Action>) {
        let page = self.room_page();
        let Some(pane) = self.room.as_mut() else {
            self.pop();
            return;
        };
        let len = pane.log.len();
        let mut scroll = Scroll {
            cursor: pane.cursor,
            offset: 0,
        };
        // Arrows and paging scroll the log whichever has the focus (the
        // input is one line); letters only in the log.
        let scrolls = match key.code {
            KeyCode::Up | KeyCode::Down | KeyCode::PageUp | KeyCode::PageDown => true,
            KeyCode::Char(_) | KeyCode::Home | KeyCode::End => !pane.typing,
            _ => false,
        };
        if scrolls && scroll.key(key.code, len, page) {
            pane.cursor = scroll.cursor;
            return;
        }
        match key.code {
            KeyCode::Esc => self.pop(),
            KeyCode::Tab | KeyCode::BackTab => pane.typing = !pane.typing,
            KeyCode::Enter if pane.typing => self.send_room_line(out),
            _ if pane.typing => {
                pane.input.handle_key(key);
            }
            KeyCode::Enter | KeyCode::Char('i') => pane.typing = true,
            _ => {}
        }
    }

    /// Enter on the room's input line: the act it asks for, or why not.
    fn send_room_line(&mut self, out: &mut Vec<Action>) {
        let Some(pane) = self.room.as_ref() else { return };
        let id = pane.id;
        let home = self.room_header(id).map(|r| r.home.clone());
        let parsed = slash::parse(&pane.input.text(), self.model.topology.as_ref(), home.as_ref());
        match parsed {
            Ok(None) => {}
            Ok(Some(act)) => {
                let home = if act == RoomAct::Enter {
                    self.home_to_ask(id)
                } else {
                    None
                };
                out.push(room_act(id, act, home));
                if let Some(pane) = self.room.as_mut() {
                    pane.input = Editor::single_line();
                }
                let text = self.lang.words().waiting_answer.to_owned();
                self.say(text, false);
            }
            Err(e) => {
                let text = e.describe(self.lang);
                self.say(text, true);
            }
        }
    }

    fn orders_key(&mut self, key: KeyEvent, out: &mut Vec<Action>) {
        let (list_page, targets_page) = self.pages_orders();
        let selected = self.order_rows.get(self.orders.cursor).copied();
        let scrolled = if self.orders_targets_pane {
            let n = selected
                .and_then(|id| self.model.orders.get(&id))
                .map_or(0, |o| o.targets.len());
            self.order_targets.key(key.code, n, targets_page)
        } else {
            let before = self.orders.cursor;
            let moved = self.orders.key(key.code, self.order_rows.len(), list_page);
            if self.orders.cursor != before {
                self.order_targets = Scroll::default();
            }
            moved
        };
        if scrolled {
            return;
        }
        let Some(order) = selected else {
            if key.code == KeyCode::Esc {
                self.go(Screen::Board);
            }
            return;
        };
        let prompt = |kind| Prompt {
            kind,
            editor: Editor::single_line(),
        };
        match key.code {
            KeyCode::Esc => self.go(Screen::Board),
            KeyCode::Tab | KeyCode::BackTab => self.orders_targets_pane = !self.orders_targets_pane,
            KeyCode::Char('s') => out.push(sign_for(order)),
            KeyCode::Char('f') => self.prompt = Some(prompt(PromptKind::Done(order))),
            KeyCode::Char('x') => self.prompt = Some(prompt(PromptKind::Refuse(order))),
            KeyCode::Enter => {
                if let Some(incident) = self.model.orders.get(&order).and_then(|o| o.order.order.incident)
                    && self.model.incidents.contains_key(&incident)
                {
                    self.open_detail(incident);
                }
            }
            _ => {}
        }
    }

    fn links_key(&mut self, key: KeyEvent, out: &mut Vec<Action>) {
        let n = self.model.status.as_ref().map_or(0, |s| s.links.len());
        if self.links.key(key.code, n, 10) {
            return;
        }
        match key.code {
            KeyCode::Char('r') => self.ask_status(out),
            KeyCode::Esc => self.go(Screen::Board),
            _ => {}
        }
    }

    /// The safety report: rows scroll; `d` the day / the month, `[` `]`
    /// the period before / after, `r` asks again.
    fn report_key(&mut self, key: KeyEvent, out: &mut Vec<Action>) {
        let len = self.report.shown_rows().len();
        let page = self.report_page();
        if self.report.rows.key(key.code, len, page) {
            return;
        }
        match key.code {
            KeyCode::Char('d') => self.report.day_view = !self.report.day_view,
            KeyCode::Char('[') => self.step_report(true, out),
            KeyCode::Char(']') => self.step_report(false, out),
            KeyCode::Char('r') => self.ask_report(out),
            KeyCode::Esc => self.go(Screen::Board),
            _ => {}
        }
    }

    fn composer_key(&mut self, key: KeyEvent, out: &mut Vec<Action>) {
        let Some(c) = self.composer.as_mut() else {
            self.pop();
            return;
        };
        match c.handle_key(key, self.now) {
            Outcome::Stay => {}
            Outcome::Close => self.pop(),
            Outcome::Send(request) => {
                let text = self.lang.words().waiting_answer.to_owned();
                self.say(text, false);
                out.push(Action::Send(request));
            }
        }
    }

    /// Pasted (or IME-committed) text goes where typing would.
    pub(super) fn on_paste(&mut self, text: &str) {
        if let Some(prompt) = self.prompt.as_mut() {
            prompt.editor.insert_str(text);
            if prompt.kind == PromptKind::Search {
                self.filter.search = prompt.editor.text();
                self.dirty = true;
            }
        } else if let Some(c) = self.composer.as_mut()
            && self.screen == Screen::Composer
            && c.typing()
        {
            c.instruction.insert_str(text);
        } else if let Some(p) = self.room.as_mut()
            && self.screen == Screen::Room
        {
            p.typing = true;
            p.input.insert_str(text);
        }
    }
}
