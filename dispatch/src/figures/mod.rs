//! 平安报表: a center's own figures for a period, as a fold over what its
//! store holds, so the same store always gives the same figures.
//!
//! Counted once, at the owner: an incident is in its owner's figures
//! (`owned` and everything after it), and in the centers' it passed on the
//! way only as `received` and `passed_up`. Orders count at their issuer,
//! which alone holds every target's state. Drills (Exercise) are kept
//! apart from actual cases and never mixed in.
//!
//! The fold is `fold`; `counts` holds what it makes. `summary` is the
//! roll-up: the summary a center sends its parent and the report that
//! adds its children's summaries to its own figures. Every figure is a
//! count or fixed buckets (`durations`), so a parent can add its
//! children's figures exactly. Pure: no I/O, no clock.
//!
//! `counts`, `summary`, `period`, `index` and `durations` use only the
//! crate's `basics`, never `wire` or `store`: the wire carries a summary
//! (`Body::Summary`), and the fold (which reads the store) is the one
//! part here that depends on them.

mod counts;
mod durations;
mod fold;
mod index;
mod period;
pub(crate) mod summary;

pub use counts::{Breakdown, CenterFigures, Figures};
pub use durations::{BOUNDS_S, Durations, Within};
pub use fold::fold;
pub use index::{index_text, safety_index};
pub use period::{Period, PeriodError};
pub use summary::{Report, Row, Source, Summary, SummaryRecord, report};
