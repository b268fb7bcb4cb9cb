//! The severity policy and link settings: data from the topology file, not
//! constants in code.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use crate::{Level, Severity};

/// How high a report of some severity must climb.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// At least this level: the lowest center at or above it owns the report.
    Level(Level),
    /// The root of the federation, whatever its level.
    Top,
}

impl Reach {
    pub fn parse(s: &str) -> Option<Reach> {
        if s == "top" || s == "顶级" {
            return Some(Reach::Top);
        }
        Level::parse(s).map(Reach::Level)
    }

    /// Orders reaches so that a higher reach compares greater; `Top` is
    /// above every level.
    pub(crate) fn height(self) -> u8 {
        match self {
            Reach::Top => u8::MAX,
            Reach::Level(level) => Level::Grid.depth() - level.depth(),
        }
    }
}

impl fmt::Display for Reach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reach::Top => f.write_str("top"),
            Reach::Level(level) => f.write_str(level.name()),
        }
    }
}

/// Deadlines for one severity, measured from when the stage starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadlines {
    /// From a report's arrival at its owner to acceptance (受理).
    pub accept: Duration,
    /// From an order's delivery to a target's sign-for (签收).
    pub sign_for: Duration,
    /// From acceptance or sign-for to done (办结).
    pub finish: Duration,
}

/// Which level each severity must reach, the deadlines per severity,
/// which severities alert every center on the way at once, and which
/// open a coordination room at their owner by themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    reach: BTreeMap<Severity, Reach>,
    deadlines: BTreeMap<Severity, Deadlines>,
    alert_path: Vec<Severity>,
    room_auto_open: Vec<Severity>,
    index: IndexWeights,
    summary: SummarySettings,
}

/// When centers send their figures up (`[policy.summary]` in the file):
/// which periods end in a summary to the parent, and the grace after a
/// period's end before a center sends. A center sends at the period's end
/// plus `grace` times one more than the levels below it (a village after
/// one grace, its township after two, ...), so its children's summaries
/// are usually in before its own leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SummarySettings {
    /// A summary at the end of every day (China Standard Time).
    pub day: bool,
    /// A summary at the end of every month.
    pub month: bool,
    /// The wait after a period's end, per level below the sender.
    pub grace: Duration,
}

impl Default for SummarySettings {
    fn default() -> Self {
        SummarySettings {
            day: true,
            month: true,
            grace: mins(5),
        }
    }
}

/// The weights of the safety index (平安指数) of a center for a period,
/// `[policy.index]` in the file: points for the rates, penalties for
/// serious incidents owned and for supervised items, and the threshold
/// under which a child's index alarms its parent. The formula is in
/// `liandong_dispatch::figures::index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexWeights {
    /// Weight of the on-time acceptance rate (按时受理率).
    pub on_time: u32,
    /// Weight of the resolution rate (办结率).
    pub resolved: u32,
    /// Weight of the on-time sign-for rate of orders (按时签收率).
    pub signed_for: u32,
    /// Points off per owned incident, by severity (least severe first:
    /// Routine, IV, III, II, I).
    pub per_incident: [u32; 5],
    /// Points off per supervised (督办) item.
    pub per_supervised: u32,
    /// The points off count in full for a subtree of this many centers
    /// (a township's worth); a larger subtree's are scaled down by its
    /// size, so a city's index is not pinned at 0 by the sheer number of
    /// its area's incidents. 0: never scaled.
    pub per_centers: u32,
    /// An index under this alarms the parent (the early warning).
    pub alarm_below: u32,
}

impl Default for IndexWeights {
    fn default() -> Self {
        IndexWeights {
            on_time: 40,
            resolved: 40,
            signed_for: 20,
            per_incident: [0, 1, 4, 10, 20],
            per_supervised: 2,
            per_centers: 20,
            alarm_below: 60,
        }
    }
}

const fn mins(m: u64) -> Duration {
    Duration::from_secs(m * 60)
}

impl Default for Policy {
    /// The design's defaults: Routine→township, IV→county, III→city,
    /// II and I→top; I alerts every level on the way.
    fn default() -> Self {
        let reach = [
            (Severity::Routine, Reach::Level(Level::Township)),
            (Severity::IV, Reach::Level(Level::County)),
            (Severity::III, Reach::Level(Level::City)),
            (Severity::II, Reach::Top),
            (Severity::I, Reach::Top),
        ];
        let deadlines = [
            (
                Severity::Routine,
                Deadlines {
                    accept: mins(240),
                    sign_for: mins(480),
                    finish: mins(7 * 24 * 60),
                },
            ),
            (
                Severity::IV,
                Deadlines {
                    accept: mins(60),
                    sign_for: mins(120),
                    finish: mins(3 * 24 * 60),
                },
            ),
            (
                Severity::III,
                Deadlines {
                    accept: mins(30),
                    sign_for: mins(60),
                    finish: mins(24 * 60),
                },
            ),
            (
                Severity::II,
                Deadlines {
                    accept: mins(10),
                    sign_for: mins(20),
                    finish: mins(12 * 60),
                },
            ),
            (
                Severity::I,
                Deadlines {
                    accept: mins(5),
                    sign_for: mins(10),
                    finish: mins(6 * 60),
                },
            ),
        ];
        Policy {
            reach: reach.into_iter().collect(),
            deadlines: deadlines.into_iter().collect(),
            alert_path: vec![Severity::I],
            room_auto_open: vec![Severity::I],
            index: IndexWeights::default(),
            summary: SummarySettings::default(),
        }
    }
}

impl Policy {
    /// How high a report of `severity` must climb.
    pub fn reach(&self, severity: Severity) -> Reach {
        self.reach[&severity]
    }

    pub fn deadlines(&self, severity: Severity) -> Deadlines {
        self.deadlines[&severity]
    }

    /// True if a report of `severity` alerts every center on its way at
    /// once, not only its owner.
    pub fn alerts_path(&self, severity: Severity) -> bool {
        self.alert_path.contains(&severity)
    }

    pub fn alert_path(&self) -> &[Severity] {
        &self.alert_path
    }

    pub fn set_reach(&mut self, severity: Severity, reach: Reach) {
        self.reach.insert(severity, reach);
    }

    pub fn set_deadlines(&mut self, severity: Severity, deadlines: Deadlines) {
        self.deadlines.insert(severity, deadlines);
    }

    pub fn set_alert_path(&mut self, severities: Vec<Severity>) {
        self.alert_path = severities;
    }

    /// True if the owner of a report of `severity` opens a coordination
    /// room (综合协调室) on it at once, without waiting for a leader.
    pub fn opens_room(&self, severity: Severity) -> bool {
        self.room_auto_open.contains(&severity)
    }

    pub fn room_auto_open(&self) -> &[Severity] {
        &self.room_auto_open
    }

    pub fn set_room_auto_open(&mut self, severities: Vec<Severity>) {
        self.room_auto_open = severities;
    }

    /// The safety index's weights.
    pub fn index(&self) -> IndexWeights {
        self.index
    }

    pub fn set_index(&mut self, index: IndexWeights) {
        self.index = index;
    }

    /// When centers send their figures up.
    pub fn summary(&self) -> SummarySettings {
        self.summary
    }

    pub fn set_summary(&mut self, summary: SummarySettings) {
        self.summary = summary;
    }
}

/// Link health settings every node uses, and what each level's links to
/// their parents are declared to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkSettings {
    /// Interval between heartbeats on an idle link.
    pub heartbeat: Duration,
    /// How long a parent may stay unreachable before a node fails over to
    /// the nearest reachable ancestor (越级).
    pub failover_after: Duration,
    /// The links of each level's nodes to their ancestors (index:
    /// [`Level::depth`]); `[link.village]` in the topology file.
    pub classes: [LinkClass; 6],
}

impl LinkSettings {
    /// How the link between a node at `level` and its parent (or, on
    /// failover, a further ancestor) is declared: the lower end names it.
    pub fn class(&self, level: Level) -> LinkClass {
        self.classes[usize::from(level.depth())]
    }

    pub fn set_class(&mut self, level: Level, class: LinkClass) {
        self.classes[usize::from(level.depth())] = class;
    }
}

impl Default for LinkSettings {
    fn default() -> Self {
        LinkSettings {
            heartbeat: Duration::from_secs(5),
            failover_after: Duration::from_secs(30),
            classes: [LinkClass::default(); 6],
        }
    }
}

/// What a level's links are declared to be: a thin link names its rate,
/// and the transport then paces to it instead of reading random loss as
/// congestion, and sends extra copies of urgent frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkClass {
    /// Declared capacity each way, bytes per second (`rate_kbps` in the
    /// file, kilobits); `None`: unknown, loss-based congestion control.
    pub rate: Option<u32>,
    /// Extra copies of every urgent frame that fits in a
    /// QUIC datagram, each in its own packet; 0: none.
    pub urgent_copies: u8,
    /// With a declared rate: how much of it, as time, routine and bulk
    /// copies may have in flight (sent, not yet hop-acked) per link; a
    /// copy in flight is retried no sooner than ten times this. It must cover
    /// the time from handing a copy to the transport to its hop ack,
    /// which on a lossy link includes waiting for earlier lost packets
    /// (one stream per lane): 2 s starved a 64 kbit/s link at 20% loss
    /// (measured before the transport paced declared links itself).
    pub window: Duration,
}

impl Default for LinkClass {
    fn default() -> Self {
        LinkClass {
            rate: None,
            urgent_copies: 0,
            window: Duration::from_secs(20),
        }
    }
}

impl LinkClass {
    /// Most extra copies a class may ask for.
    pub const MAX_COPIES: u8 = 4;
    /// Lowest declared rate, kbit/s: below it a handshake alone takes many seconds.
    pub const MIN_KBPS: u32 = 8;
    /// On a declared link, the most stream data of one paced piece of a
    /// routine or bulk lane: one packet's worth. The live transport cuts
    /// those lanes into such pieces and the simulator models them so.
    pub const PIECE: usize = 1100;
    /// A packet's bytes on the wire besides its stream data (QUIC short
    /// header, packet number, AEAD tag, STREAM frame header), as the live
    /// transport's pacer charges and the simulator models it.
    pub const PACKET_OVERHEAD: usize = 40;
    /// Most frame bytes of a routine or bulk lane compressed as one batch
    /// (one DEFLATE sync flush) on a declared link: a few packets' worth.
    pub const SQUEEZE: usize = 4 * Self::PIECE;
}
