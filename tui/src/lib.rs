//! liandong-tui: the operator console, a ratatui client of one node's
//! control API.
//!
//! **Not built yet** (issue 5). It will render the escalation board,
//! incident detail, dispatch composer, links and coordination room as a
//! pure function of app state, fed by pushed subscriptions.
//!
//! It must never hold protocol logic or poll the node in a loop: it shows
//! what the node pushes and sends what the operator asks for.
//!
//! Today the crate exports nothing; depending on it gives you no behaviour.
