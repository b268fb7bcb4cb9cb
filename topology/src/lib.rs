//! liandong-topology: the federation's shape, as ops teams write it down.
//!
//! A federation is one tree of centers (city → county → township → village
//! → grid, under a province where there is one) with member units such as
//! police beside their centers. Every Liandong node loads the same
//! topology file; what a node does follows from where it sits in it. This
//! crate reads and validates that file, answers the questions routing asks
//! of the tree (parent, ancestors, subtree, lowest common ancestor, owner
//! of a report), holds the severity policy and link settings, and
//! generates real-sized federations for demos, tests and simulations.
//!
//! It must never do network or protocol work, and never accept a tree it
//! has not fully validated: a [`Topology`] value always satisfies every
//! rule below.
//!
//! # The topology file (TOML)
//!
//! ```toml
//! [federation]
//! name = "福州市综治联动网"
//!
//! [policy]
//! # The level each severity must reach ("top" = the root, whatever its
//! # level). The lowest center at or above it on the way up owns the report.
//! reach = { Routine = "township", IV = "county", III = "city", II = "top", I = "top" }
//! # Severities that alert every center on the way at once.
//! alert_path = ["I"]
//! # Severities whose owner opens a coordination room at once; for the
//! # others a leader of the owning center opens one when needed.
//! room_auto_open = ["I"]
//!
//! [policy.deadlines]
//! # accept: report at its owner -> accepted; sign_for: order delivered ->
//! # signed for; finish: accepted or signed for -> done.
//! II = { accept = "10m", sign_for = "20m", finish = "12h" }
//!
//! [policy.index]            # the safety index (平安指数), 0-100; defaults shown
//! on_time = 40              # weight of the on-time acceptance rate
//! resolved = 40             # weight of the resolution rate
//! signed_for = 20           # weight of the on-time sign-for rate of orders
//! per_incident = { Routine = 0, IV = 1, III = 4, II = 10, I = 20 } # points off each
//! per_supervised = 2        # points off per supervised (督办) item
//! per_centers = 20          # points off in full up to this many centers; scaled beyond
//! alarm_below = 60          # a child under this alarms its parent
//!
//! [policy.summary]          # figures sent up to the parent (平安报表); defaults shown
//! periods = ["day", "month"] # which periods' ends send a summary ([] for none)
//! grace = "5m"              # wait after a period's end, per level below the sender
//!
//! [link]
//! heartbeat = "5s"          # heartbeat interval on an idle link
//! failover_after = "30s"    # parent unreachable this long -> skip-level
//!
//! [link.village]             # the links of villages to their parents
//! rate_kbps = 64             # declared capacity each way: paced to it,
//!                            # random loss not read as congestion
//! urgent_copies = 1          # extra copies of urgent frames, as QUIC
//!                            # datagrams in their own packets
//! window = "20s"             # routine and bulk in flight: 20 s of the rate
//!
//! [[node]]
//! id = "350100"             # administrative-division code
//! name = "福州市"
//! level = "city"            # province, city, county, township, village, grid
//! listen = "127.0.0.1:7100" # QUIC address its children dial
//!
//! [[node]]
//! id = "350102"
//! name = "鼓楼区"
//! level = "county"
//! parent = "350100"
//! listen = "127.0.0.1:7101"
//!
//! [[node]]
//! id = "350102-police"      # member unit: center code + "-" + unit name
//! name = "鼓楼公安分局"
//! level = "county"          # a member unit sits at its center's level
//! kind = "member-unit"      # "center" (default) or "member-unit"
//! parent = "350102"
//! listen = "127.0.0.1:7102"
//! ```
//!
//! A **federation document** is a topology file with a `[document]`
//! table, and the federation's revocation list as `[[revoked]]` entries
//! (the certs crate reads those; here they are skipped), signed by a
//! federation admin and carried to every node:
//!
//! ```toml
//! [document]
//! version = 4                          # at least 1; each publish a higher one
//! published = "2026-12-05T10:00:00Z"   # optional, for people
//! note = "鼓楼区 revoked: laptop stolen" # optional, for people
//! ```
//!
//! Every section but `[[node]]` is optional; a missing policy entry takes
//! the default shown by `liandong topology generate`. Durations are
//! `30s`, `10m`, `4h`, `1h30m`, `7d` (`ms` for link timers). Levels may
//! also be written in Chinese (市, 县, 区, 乡镇, 街道, 村, 社区, 网格).
//!
//! # Rules checked on load
//! Each broken rule is reported with file, line and column, all at once:
//! well-formed ids ([`NodeId`]), no duplicate ids, known parents, no
//! cycles, exactly one root, a center's level strictly below its parent's,
//! member units at their center's level with a center as parent and no
//! children, valid and distinct listen addresses with a fixed port,
//! durations that parse, `failover_after` at least twice `heartbeat`, a
//! link class's `rate_kbps` at least 8 and `urgent_copies` at most 4, and
//! a policy that climbs at least as high for a more severe report and only
//! names levels the tree has. Unknown keys are refused (a typo is an error,
//! not a silent default).
//!
//! # Layout
//! - [`id`]: [`NodeId`], the division-code identity.
//! - [`level`]: [`Level`], [`Kind`], [`Severity`].
//! - [`policy`]: [`Policy`] (reach, deadlines, path alerts), [`LinkSettings`].
//! - [`tree`]: the validated [`Topology`] and its queries.
//! - `file`: loading and writing the TOML format.
//! - [`generate`]: presets and fan-out generators.
//! - [`duration`]: the duration notation.
//! - [`error`]: [`LoadError`] and located [`Problem`]s.

pub mod duration;
pub mod error;
mod file;
pub mod generate;
pub mod id;
pub mod level;
pub mod policy;
pub mod tree;

pub use error::{LoadError, Location, Problem, ProblemKind};
pub use generate::{Addressing, FanOut, GenerateError, Preset, Shape, generate};
pub use id::{IdError, NodeId};
pub use level::{Kind, Level, Severity};
pub use policy::{Deadlines, IndexWeights, LinkClass, LinkSettings, Policy, Reach, SummarySettings};
pub use tree::{DocumentHeader, LevelCount, NodeInfo, NodeIx, Topology};
