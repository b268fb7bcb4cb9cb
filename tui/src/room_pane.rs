//! The coordination room screen's state (综合协调室): the room the
//! operator is looking at, its log as loaded from the node, and the
//! input line (whose slash commands [`crate::slash`] reads).
//!
//! # The log
//! Opening the room screen asks the node for the room
//! ([`Request::Query(Query::Room)`](liandong_control::Request::Query(liandong_control::Query::Room))); the answer
//! is the header and the whole log as applied at the node. After it, every
//! pushed `RoomChanged` of this room is folded in by sequence number: the
//! next one is appended, one already held is ignored, and one that skips
//! a number is held back while the room is asked for again (the answer
//! and the pushes travel on different streams, so either may come first;
//! a lagged subscription may also have lost some). Entries pushed before
//! the first answer wait the same way. The log is therefore always
//! contiguous: what the node applied, in its order, with no hole.
//!
//! # Bounds
//! - The log keeps at most [`MAX_ROOM_LOG`] entries, the longest log a
//!   room can have (see `liandong_dispatch::room::MAX_ROOM_LOG`); more can
//!   only come from a misbehaving node, and then the oldest are dropped
//!   and counted in [`RoomPane::dropped`].
//! - Entries waiting for a gap to fill: at most [`MAX_PENDING`]; past it
//!   they are dropped too and the room is asked for again once the
//!   current answer is in (the answer holds them).
//! - The input line is an [`Editor`], bounded by
//!   [`editor::MAX_CHARS`](crate::editor::MAX_CHARS); the node has its
//!   own, smaller limit for room text and says so when refusing.

use std::collections::{BTreeMap, VecDeque};

use liandong_control::RoomView;
use liandong_dispatch::room::{Room, RoomEntry};
use liandong_dispatch::wire::EnvelopeId;

use crate::editor::Editor;

/// Most log entries the loaded room view keeps: the longest log a room
/// can have.
pub const MAX_ROOM_LOG: usize = liandong_dispatch::room::MAX_ROOM_LOG as usize;
/// Most entries held back waiting for a gap before them to fill.
pub const MAX_PENDING: usize = 64;

/// The room the room screen shows.
#[derive(Debug, Clone)]
pub struct RoomPane {
    /// The room, named by its incident's id.
    pub id: EnvelopeId,
    /// The header as of the newest event folded in (from the answer or a
    /// notice, whichever is further along).
    pub header: Option<Room>,
    /// The log, oldest first, contiguous in sequence numbers.
    pub log: VecDeque<RoomEntry>,
    /// Entries dropped from the front to keep [`MAX_ROOM_LOG`].
    pub dropped: u64,
    /// The first answer has been folded in.
    pub loaded: bool,
    /// A `Request::Query(Query::Room)` is out: don't ask again until it is answered.
    pub asking: bool,
    /// The node answered that it has no such room (its reason).
    pub missing: Option<String>,
    /// Entries that came ahead of the log, by sequence number.
    pending: BTreeMap<u64, RoomEntry>,
    /// Some were dropped from `pending`: ask again after the answer.
    stale: bool,
    /// The selected log entry; the view is anchored on it (at the
    /// bottom). On the last entry, new entries move it along (the tail
    /// is followed); scrolled up, it stays put.
    pub cursor: usize,
    /// The input line has the focus (else the log).
    pub typing: bool,
    pub input: Editor,
}

/// What folding one pushed entry did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fold {
    /// The next entry: appended.
    Appended,
    /// Already held (an answer covered it): ignored.
    Held,
    /// Held back: the log is not loaded yet, or numbers before it are
    /// missing. Ask for the room (again) unless an answer is awaited.
    Waiting,
}

impl RoomPane {
    pub fn new(id: EnvelopeId) -> RoomPane {
        RoomPane {
            id,
            header: None,
            log: VecDeque::new(),
            dropped: 0,
            loaded: false,
            asking: false,
            missing: None,
            pending: BTreeMap::new(),
            stale: false,
            cursor: 0,
            typing: true,
            input: Editor::single_line(),
        }
    }

    /// The sequence number of the newest entry held (0: none).
    pub fn last_seq(&self) -> u64 {
        self.log.back().map_or(0, |e| e.seq)
    }

    /// The cursor is on the newest entry (or there is none).
    pub fn at_tail(&self) -> bool {
        self.cursor + 1 >= self.log.len()
    }

    /// Entries held back, waiting for the numbers before them.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Takes a newer header; an older one (a late answer) is ignored.
    fn take_header(&mut self, room: &Room) {
        if self.header.as_ref().is_none_or(|h| room.last_seq >= h.last_seq) {
            self.header = Some(room.clone());
        }
    }

    /// Folds the node's answer in. Returns true if the room must be asked
    /// for again (entries are still missing before some held back).
    pub fn load(&mut self, view: RoomView) -> bool {
        let follow = self.at_tail() || !self.loaded;
        let RoomView { room, log } = view;
        self.take_header(&room);
        self.log.clear();
        self.dropped = 0;
        // The node sends its log in order with no gap; keep only a run
        // that is, whatever arrives.
        for entry in log {
            if self.log.is_empty() || entry.seq == self.last_seq() + 1 {
                self.push(entry);
            }
        }
        self.loaded = true;
        self.asking = false;
        self.missing = None;
        self.drain();
        let again = self.stale || !self.pending.is_empty();
        self.stale = false;
        if follow {
            self.cursor = self.log.len().saturating_sub(1);
        } else {
            self.cursor = self.cursor.min(self.log.len().saturating_sub(1));
        }
        again
    }

    /// Folds one pushed entry in, with the header that came with it.
    pub fn fold(&mut self, room: &Room, entry: &RoomEntry) -> Fold {
        self.take_header(room);
        if self.loaded && entry.seq <= self.last_seq() {
            return Fold::Held;
        }
        if self.loaded && entry.seq == self.last_seq() + 1 {
            let follow = self.at_tail();
            self.push(entry.clone());
            self.drain();
            if follow {
                self.cursor = self.log.len() - 1;
            }
            return Fold::Appended;
        }
        if self.pending.len() < MAX_PENDING {
            self.pending.insert(entry.seq, entry.clone());
        } else {
            self.stale = true;
        }
        debug_assert!(self.pending.len() <= MAX_PENDING);
        Fold::Waiting
    }

    /// Appends at the end, dropping the oldest past the bound.
    fn push(&mut self, entry: RoomEntry) {
        if self.log.len() == MAX_ROOM_LOG {
            self.log.pop_front();
            self.dropped += 1;
            self.cursor = self.cursor.saturating_sub(1);
        }
        self.log.push_back(entry);
        debug_assert!(self.log.len() <= MAX_ROOM_LOG);
    }

    /// Moves held-back entries that now follow the log onto it; drops
    /// those the log already covers.
    fn drain(&mut self) {
        let last = self.last_seq();
        self.pending.retain(|&seq, _| seq > last);
        while let Some(entry) = self.pending.remove(&(self.last_seq() + 1)) {
            let follow = self.at_tail();
            self.push(entry);
            if follow {
                self.cursor = self.log.len() - 1;
            }
        }
    }
}
