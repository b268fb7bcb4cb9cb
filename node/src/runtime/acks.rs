//! Neighbours' hop acks that wait to ride with the next commit.
//!
//! When a neighbour acks a copy this node sent, the core persists the
//! mark (`Record::Acked`). Nothing depends on that mark being on disk: if
//! it is lost in a crash, the restarted node sends the copy again and the
//! neighbour acks it as a duplicate it already holds. So a turn whose
//! batch is nothing but such marks is not committed on its own: the marks
//! are held here and go with the next turn's commit, or alone once the
//! oldest has waited [`LINGER`], or when the driver stops.
//!
//! On a relay this halves the commits of a lone report (its store, then
//! its parent's ack), and the next report no longer waits behind the
//! commit of the ack before it. Every other record still commits before
//! the effects that follow it.

use std::time::{Duration, Instant};

use liandong_dispatch::Record;

/// Longest a held mark waits for a commit to ride with.
pub(super) const LINGER: Duration = Duration::from_millis(500);
/// Most marks held; more are committed at once.
pub(super) const MOST: usize = 4096;

/// The marks held, oldest first.
#[derive(Default)]
pub(super) struct HeldAcks {
    records: Vec<Record>,
    since: Option<Instant>,
}

impl HeldAcks {
    /// Holds `records` if they are only neighbours' acks and there is
    /// room; otherwise hands them back to be committed now.
    pub fn hold(&mut self, records: Vec<Record>, now: Instant) -> Vec<Record> {
        let only_acks = !records.is_empty() && records.iter().all(|r| matches!(r, Record::Acked { .. }));
        if !only_acks || self.records.len() + records.len() > MOST {
            return records;
        }
        self.since.get_or_insert(now);
        self.records.extend(records);
        Vec::new()
    }

    /// The batch to commit: the held marks (they came first), then
    /// `records`. Called for a batch that commits anyway, or when
    /// [`HeldAcks::due`].
    pub fn with(&mut self, records: Vec<Record>) -> Vec<Record> {
        let mut batch = self.take();
        batch.extend(records);
        batch
    }

    /// When the oldest held mark is due.
    pub fn deadline(&self) -> Option<Instant> {
        self.since.map(|s| s + LINGER)
    }

    /// Whether the held marks must commit now, alone if need be.
    pub fn due(&self, now: Instant) -> bool {
        self.deadline().is_some_and(|d| now >= d)
    }

    /// Every held mark, for a last commit.
    pub fn take(&mut self) -> Vec<Record> {
        self.since = None;
        std::mem::take(&mut self.records)
    }
}

#[cfg(test)]
mod tests {
    use liandong_dispatch::EnvelopeId;
    use liandong_topology::NodeId;

    use super::*;

    fn acked(n: u128) -> Record {
        Record::Acked {
            peer: NodeId::parse("350100").unwrap(),
            id: EnvelopeId(n),
        }
    }

    fn ids(records: &[Record]) -> Vec<u128> {
        records
            .iter()
            .map(|r| match r {
                Record::Acked { id, .. } => id.0,
                _ => 0,
            })
            .collect()
    }

    #[test]
    fn acks_alone_wait_and_ride_first_with_the_next_commit() {
        let (mut held, t0) = (HeldAcks::default(), Instant::now());
        assert!(held.hold(vec![acked(1)], t0).is_empty());
        assert!(held.hold(vec![acked(2), acked(3)], t0 + LINGER / 2).is_empty());
        assert_eq!(held.deadline(), Some(t0 + LINGER), "the oldest sets the deadline");
        assert!(!held.due(t0 + LINGER / 2));
        // A turn that commits anyway takes them, first.
        let other = Record::Forget(vec![EnvelopeId(9)]);
        let batch = held.with(vec![other]);
        assert_eq!(ids(&batch), vec![1, 2, 3, 0]);
        assert!(matches!(batch[3], Record::Forget(_)));
        assert_eq!(held.deadline(), None);
    }

    #[test]
    fn held_acks_commit_alone_once_due() {
        let (mut held, t0) = (HeldAcks::default(), Instant::now());
        assert!(held.hold(vec![acked(1)], t0).is_empty());
        assert!(!held.due(t0 + LINGER - Duration::from_millis(1)));
        assert!(held.due(t0 + LINGER));
        assert_eq!(ids(&held.with(Vec::new())), vec![1]);
        assert!(!held.due(t0 + LINGER), "nothing held, nothing due");
        assert!(held.take().is_empty());
    }

    #[test]
    fn a_batch_with_anything_but_acks_is_not_held() {
        let (mut held, t0) = (HeldAcks::default(), Instant::now());
        let mixed = vec![
            acked(1),
            Record::GaveUp {
                peer: NodeId::parse("350100").unwrap(),
                id: EnvelopeId(2),
            },
        ];
        assert_eq!(held.hold(mixed, t0).len(), 2, "a give-up commits now");
        assert!(held.hold(Vec::new(), t0).is_empty());
        assert_eq!(held.deadline(), None, "nothing held");
    }

    #[test]
    fn no_more_than_most_are_held() {
        let (mut held, t0) = (HeldAcks::default(), Instant::now());
        let many: Vec<Record> = (0..MOST as u128).map(acked).collect();
        assert!(held.hold(many, t0).is_empty());
        assert_eq!(held.hold(vec![acked(99_999)], t0).len(), 1, "full: committed now");
        assert_eq!(held.take().len(), MOST);
        assert_eq!(held.deadline(), None);
        assert!(held.take().is_empty());
    }
}
