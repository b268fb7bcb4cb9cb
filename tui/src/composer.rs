//! The dispatch composer (交办): pick targets from the tree below this
//! node, a severity, a deadline and a mode, write the instruction, confirm,
//! then watch the targets sign for it.
//!
//! Targets follow the three shapes the protocol knows
//! ([`Targets`]): one node, a list of marked nodes, or a whole subtree with
//! an optional level filter ("every village under 鼓楼区"). Marking nodes
//! and picking a subtree exclude each other; the last choice wins.

use liandong_control::Act;
use std::collections::BTreeSet;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use liandong_control::{IdRef, Request};
use liandong_dispatch::wire::{EnvelopeId, Mode, Targets, Timestamp};
use liandong_topology::{Level, NodeId, Severity, Topology};

use crate::editor::Editor;
use crate::list::Scroll;

/// Deadline choices, left to right; `None` leaves it to the policy.
pub const DEADLINES: [Option<Duration>; 8] = [
    None,
    Some(Duration::from_secs(30 * 60)),
    Some(Duration::from_secs(3600)),
    Some(Duration::from_secs(2 * 3600)),
    Some(Duration::from_secs(4 * 3600)),
    Some(Duration::from_secs(12 * 3600)),
    Some(Duration::from_secs(24 * 3600)),
    Some(Duration::from_secs(3 * 24 * 3600)),
];

/// The parts of the form, in Tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Targets,
    Level,
    Severity,
    Deadline,
    Mode,
    Instruction,
    Send,
}

impl Field {
    pub const ALL: [Field; 7] = [
        Field::Targets,
        Field::Level,
        Field::Severity,
        Field::Deadline,
        Field::Mode,
        Field::Instruction,
        Field::Send,
    ];

    fn step(self, forward: bool) -> Field {
        let i = Field::ALL.iter().position(|&f| f == self).unwrap_or(0);
        let n = Field::ALL.len();
        Field::ALL[if forward { (i + 1) % n } else { (i + n - 1) % n }]
    }
}

/// Where the composer is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    Editing,
    /// The summary is shown; `y` sends, `n` goes back.
    Confirm,
    /// Sent; waiting for the node's answer.
    Sending,
    /// The node took it: show its targets' acknowledgements live.
    Watching(EnvelopeId),
}

/// One row of the target tree: a node below (or at) this one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeRow {
    pub id: NodeId,
    /// Depth below this node (0 is this node itself).
    pub depth: u8,
}

#[derive(Debug, Clone)]
pub struct Composer {
    /// The incident this order handles, if opened from one.
    pub incident: Option<EnvelopeId>,
    /// This node, then everything below it, in pre-order.
    pub tree: Vec<TreeRow>,
    pub tree_scroll: Scroll,
    pub marked: BTreeSet<NodeId>,
    /// A subtree picked as a whole; excludes `marked`.
    pub subtree: Option<NodeId>,
    pub level: Option<Level>,
    pub severity: Severity,
    /// Index into [`DEADLINES`].
    pub deadline: usize,
    pub mode: Mode,
    pub instruction: Editor,
    pub focus: Field,
    pub stage: Stage,
    /// Why the last confirm was refused locally (nothing picked, no text).
    pub problem: Option<Problem>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    NoTargets,
    NoInstruction,
}

/// What a key did in the composer.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    Stay,
    /// Leave the composer.
    Close,
    /// Send this request.
    Send(Request),
}

impl Composer {
    /// A composer for an order from `me`, optionally about an incident of
    /// the given severity and mode.
    pub fn new(topology: &Topology, me: &NodeId, incident: Option<(EnvelopeId, Severity, Mode)>) -> Composer {
        let base = topology.ix(me).map_or(0, |ix| topology.depth_ix(ix));
        let tree = topology
            .subtree(me, None)
            .map(|n| TreeRow {
                id: n.id.clone(),
                depth: topology.ix(&n.id).map_or(0, |ix| topology.depth_ix(ix)) - base,
            })
            .collect::<Vec<_>>();
        Composer {
            incident: incident.map(|(id, _, _)| id),
            tree_scroll: Scroll {
                cursor: usize::from(tree.len() > 1),
                offset: 0,
            },
            tree,
            marked: BTreeSet::new(),
            subtree: None,
            level: None,
            severity: incident.map_or(Severity::IV, |(_, s, _)| s),
            deadline: 0,
            mode: incident.map_or(Mode::Actual, |(_, _, m)| m),
            instruction: Editor::multi_line(),
            focus: Field::Targets,
            stage: Stage::Editing,
            problem: None,
        }
    }

    /// The targets as picked, if any.
    pub fn targets(&self) -> Option<Targets> {
        if let Some(root) = &self.subtree {
            return Some(Targets::Subtree {
                root: root.clone(),
                level: self.level,
            });
        }
        match self.marked.len() {
            0 => None,
            1 => self.marked.first().cloned().map(Targets::Node),
            _ => Some(Targets::List(self.marked.iter().cloned().collect())),
        }
    }

    /// How many nodes the picked targets reach.
    pub fn target_count(&self, topology: &Topology) -> usize {
        match &self.subtree {
            Some(root) => topology.subtree(root, self.level).filter(|n| &n.id != root).count(),
            None => self.marked.len(),
        }
    }

    /// The request the form describes, `now` fixing the deadline.
    pub fn request(&self, now: Timestamp) -> Result<Request, Problem> {
        let targets = self.targets().ok_or(Problem::NoTargets)?;
        if self.instruction.is_blank() {
            return Err(Problem::NoInstruction);
        }
        Ok(Request::Act(Act::Dispatch {
            incident: self.incident.map(|id| IdRef(format!("{:032x}", id.0))),
            targets,
            severity: self.severity,
            instruction: self.instruction.text().trim().to_owned(),
            finish_by: DEADLINES[self.deadline].map(|d| now.plus(d)),
            mode: self.mode,
        }))
    }

    /// True while keys type into the instruction.
    pub fn typing(&self) -> bool {
        self.stage == Stage::Editing && self.focus == Field::Instruction
    }

    /// Handles a key; `now` is for the deadline of a confirmed order.
    pub fn handle_key(&mut self, key: KeyEvent, now: Timestamp) -> Outcome {
        match self.stage {
            Stage::Editing => self.edit(key, now),
            Stage::Confirm => match key.code {
                KeyCode::Char('y') | KeyCode::Enter => match self.request(now) {
                    Ok(request) => {
                        self.stage = Stage::Sending;
                        Outcome::Send(request)
                    }
                    Err(p) => {
                        self.problem = Some(p);
                        self.stage = Stage::Editing;
                        Outcome::Stay
                    }
                },
                KeyCode::Char('n') | KeyCode::Esc => {
                    self.stage = Stage::Editing;
                    Outcome::Stay
                }
                _ => Outcome::Stay,
            },
            Stage::Sending | Stage::Watching(_) => match key.code {
                KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q') => Outcome::Close,
                _ => Outcome::Stay,
            },
        }
    }

    fn edit(&mut self, key: KeyEvent, now: Timestamp) -> Outcome {
        match key.code {
            KeyCode::Tab => {
                self.focus = self.focus.step(true);
                return Outcome::Stay;
            }
            KeyCode::BackTab => {
                self.focus = self.focus.step(false);
                return Outcome::Stay;
            }
            KeyCode::Esc => return Outcome::Close,
            KeyCode::Char('s') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                return self.confirm(now);
            }
            _ => {}
        }
        if self.focus == Field::Instruction {
            self.instruction.handle_key(key);
            self.problem = None;
            return Outcome::Stay;
        }
        let (left, right) = (
            matches!(key.code, KeyCode::Left | KeyCode::Char('h')),
            matches!(key.code, KeyCode::Right | KeyCode::Char('l')),
        );
        match self.focus {
            Field::Targets => self.tree_key(key),
            Field::Level if left || right => self.cycle_level(right),
            Field::Severity if left || right => {
                let i = Severity::ALL.iter().position(|&s| s == self.severity).unwrap_or(0);
                // Right is more severe, as the scale reads left to right.
                let i = if right { (i + 1).min(4) } else { i.saturating_sub(1) };
                self.severity = Severity::ALL[i];
            }
            Field::Deadline if left => self.deadline = self.deadline.saturating_sub(1),
            Field::Deadline if right => self.deadline = (self.deadline + 1).min(DEADLINES.len() - 1),
            Field::Mode if left || right => {
                self.mode = match self.mode {
                    Mode::Actual => Mode::Exercise,
                    Mode::Exercise => Mode::Actual,
                }
            }
            Field::Send if key.code == KeyCode::Enter => return self.confirm(now),
            _ => match key.code {
                KeyCode::Down | KeyCode::Char('j') => self.focus = self.focus.step(true),
                KeyCode::Up | KeyCode::Char('k') => self.focus = self.focus.step(false),
                _ => {}
            },
        }
        Outcome::Stay
    }

    fn confirm(&mut self, now: Timestamp) -> Outcome {
        match self.request(now) {
            Ok(_) => {
                self.problem = None;
                self.stage = Stage::Confirm;
            }
            Err(p) => self.problem = Some(p),
        }
        Outcome::Stay
    }

    fn tree_key(&mut self, key: KeyEvent) {
        let cursor = self.tree_scroll.cursor;
        match key.code {
            KeyCode::Char(' ') => self.toggle_mark(cursor),
            KeyCode::Char('t') => self.toggle_subtree(cursor),
            KeyCode::Char('l') => self.cycle_level(true),
            KeyCode::Enter => self.focus = Field::Instruction,
            code => {
                self.tree_scroll.key(code, self.tree.len(), 10);
            }
        }
        self.problem = None;
    }

    /// Marks or unmarks one node (never this node itself).
    pub fn toggle_mark(&mut self, row: usize) {
        let Some(r) = self.tree.get(row) else { return };
        if r.depth == 0 {
            return;
        }
        self.subtree = None;
        if !self.marked.remove(&r.id) {
            self.marked.insert(r.id.clone());
        }
    }

    /// Picks (or drops) the whole area below a node.
    pub fn toggle_subtree(&mut self, row: usize) {
        let Some(r) = self.tree.get(row) else { return };
        self.marked.clear();
        if self.subtree.as_ref() == Some(&r.id) {
            self.subtree = None;
        } else {
            self.subtree = Some(r.id.clone());
        }
    }

    fn cycle_level(&mut self, forward: bool) {
        const LEVELS: [Option<Level>; 5] = [
            None,
            Some(Level::County),
            Some(Level::Township),
            Some(Level::Village),
            Some(Level::Grid),
        ];
        let i = LEVELS.iter().position(|&l| l == self.level).unwrap_or(0);
        let n = LEVELS.len();
        self.level = LEVELS[if forward { (i + 1) % n } else { (i + n - 1) % n }];
    }
}
