//! The console's screens. A name of its own, apart from the state that
//! chooses one ([`crate::app`]) and the drawing of each ([`crate::ui`]):
//! the layout names the tabs by it without depending on either.

/// What the body of the console shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// The escalation board, the home screen (tab 1).
    Board,
    /// One incident: its facts, timeline and orders.
    Detail,
    /// The orders and their targets (tab 2).
    Orders,
    /// The node's links to its neighbours (tab 3).
    Links,
    /// The safety report (平安报表) of the current period (tab 4).
    Report,
    /// The dispatch composer.
    Composer,
    /// A coordination room (综合协调室), opened from the incident detail.
    Room,
}
