//! The rooms' figures of a run whose scenario drives coordination rooms
//! (`[rooms]`): rooms opened and closed, events in the homes' logs, asks
//! and what became of them, tasks and members checked.

use std::fmt;

use serde::Serialize;

/// What the rooms of a run came to, as the oracle counted it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RoomFigures {
    /// Rooms the scenario drew, and those a leader (or the policy) opened.
    pub planned: u64,
    pub opened: u64,
    /// Rooms whose home lost its disk after opening (excused as a whole).
    pub homes_lost: u64,
    /// Rooms whose home's log ends closed.
    pub closed: u64,
    /// Events in the homes' logs, and the most in one room.
    pub events: u64,
    pub max_events: u64,
    /// Asks the leaders' nodes sent; taken into a log; refused by the
    /// home; lost with a wiped disk (the asker's, or the home's).
    pub asks: u64,
    pub taken: u64,
    pub refused_by_home: u64,
    pub asks_excused: u64,
    /// Acts the acting node refused itself, and acts not made (the node
    /// down, or its room not there yet).
    pub refused_at_node: u64,
    pub not_acted: u64,
    /// Tasks assigned; their orders settled at the home; excused (the
    /// target's disk wiped after).
    pub tasks: u64,
    pub tasks_settled: u64,
    pub tasks_excused: u64,
    /// (room, member node) pairs checked, and those excused (wiped, and
    /// the room quiet since); nodes invited.
    pub members: u64,
    pub members_excused: u64,
    pub invited: u64,
    /// Gaps a node asked a home for (`RoomBody::Sync`).
    pub gaps_asked: u64,
}

impl fmt::Display for RoomFigures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "rooms: {} of {} opened ({} lost with the home's disk), {} closed; {} events in the homes' logs (at most {} in one)",
            self.opened, self.planned, self.homes_lost, self.closed, self.events, self.max_events
        )?;
        writeln!(
            f,
            "  asks {} sent: {} taken, {} refused by the home, {} lost with a wiped disk; {} refused at the asking node, {} not made (node down or no room yet)",
            self.asks, self.taken, self.refused_by_home, self.asks_excused, self.refused_at_node, self.not_acted
        )?;
        writeln!(
            f,
            "  tasks {}: {} settled, {} excused (a wiped disk); members {} checked ({} excused: wiped, the room quiet since), {} invited; {} gaps asked of a home",
            self.tasks,
            self.tasks_settled,
            self.tasks_excused,
            self.members,
            self.members_excused,
            self.invited,
            self.gaps_asked
        )
    }
}
