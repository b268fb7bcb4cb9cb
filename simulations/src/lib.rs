//! liandong-sim: failure simulations over the real dispatch core.
//!
//! **Not built yet** (issue 6). It will run many `Core`s on a simulated
//! network and clock from one seed (deterministic, byte-identical reports),
//! and a live chaos harness over real node processes on loopback.
//!
//! It must never use a second implementation of the protocol: every node
//! in a simulation is the production `liandong_dispatch::Core`.
//!
//! Today the crate exports nothing; depending on it gives you no behaviour.
