//! Federation documents: the versions a scenario's `[[publish]]` entries
//! have the root publish, and who applied each one when.
//!
//! Each version's text is built once, at setup: the scenario's topology as
//! written (`Topology::to_toml`) with its policy changes (and those of the
//! versions before it) and a `[document]` table, signed with
//! [`TestDocuments`]. The tree is the scenario's, node for node (checked
//! here): the network is laid out once from it, so versions change policy
//! only. At its time the root's core is given `Command::Publish`; while the
//! root is down the command is tried again every `FOLLOW_UP_RETRY`, at most
//! `FOLLOW_UP_TRIES` times, as an operator's follow-up is, and a version
//! never taken is recorded with the reason. From there the core carries it
//! as any durable envelope: nothing here routes or resends it.
//!
//! Every `Event::DocumentApplied` is tallied by version and node (the first
//! application counts), and so is the accept deadline every report filed
//! while versions exist took at its origin, by the version the origin ran:
//! that new items take a version's deadlines is what the report shows.

use std::cmp::Reverse;
use std::collections::BTreeMap;

use super::*;
use crate::report::{DocumentFigures, Documents, FiledOn};
use liandong_dispatch::Document;

/// One `[[publish]]` entry as the run goes.
pub(crate) struct Version {
    pub version: u64,
    /// What it changes, for people (also its `[document] note`).
    pub changes: String,
    pub doc: Document,
    /// When the scenario has the root publish it.
    pub asked: u64,
    /// When the root's core took it.
    pub published: Option<u64>,
    /// Why the root never took it.
    pub refused: Option<String>,
    /// When each node (by index) first applied it.
    pub applied: Vec<Option<u64>>,
}

/// What the engine records about documents (empty when the scenario
/// publishes none: then nothing here is touched).
#[derive(Default)]
pub(crate) struct Tally {
    pub versions: Vec<Version>,
    /// One per report filed while the scenario publishes: its severity,
    /// the version its origin ran (0: none) and the accept deadline it
    /// took there (ms).
    pub filed: Vec<(Severity, u64, u64)>,
    /// Frames a core could not send ("cannot send: ..."), and the first reason.
    pub unsendable: u64,
    pub first_unsendable: Option<String>,
}

impl<'a> Sim<'a> {
    /// Builds and signs every version, and queues its publishing.
    pub(super) fn setup_publishes(&mut self) -> Result<(), SimError> {
        let scenario = self.scenario;
        let mut policy = self.topo.policy().clone();
        for (i, p) in scenario.publishes.iter().enumerate() {
            let what = format!("[[publish]] #{} (version {})", i + 1, p.version);
            for (&severity, change) in &p.deadlines {
                let mut d = policy.deadlines(severity);
                d.accept = change.accept.map_or(d.accept, |x| x.0);
                d.sign_for = change.sign_for.map_or(d.sign_for, |x| x.0);
                d.finish = change.finish.map_or(d.finish, |x| x.0);
                policy.set_deadlines(severity, d);
            }
            let topo = Topology::build(
                self.topo.name(),
                self.topo.nodes().cloned().collect(),
                policy.clone(),
                *self.topo.link(),
            )
            .map_err(|e| SimError::Scenario(format!("{what}: {e}")))?;
            let changes = p.changes();
            let note = toml::Value::String(changes.clone()).to_string();
            let text = format!("[document]\nversion = {}\nnote = {note}\n{}", p.version, topo.to_toml());
            // As `TestDocuments::document` makes it, without parsing the
            // text once more for the version it was written with.
            let doc = Document::new(p.version, &text, TestDocuments::sign(&text), Vec::new());
            let parsed = self
                .documents
                .check(&doc, Timestamp(self.epoch))
                .map_err(|e| SimError::Scenario(format!("{what}: {e}")))?;
            let same_tree = parsed.len() == self.topo.len()
                && self
                    .topo
                    .nodes()
                    .zip(parsed.nodes())
                    .all(|(a, b)| a.id == b.id && a.parent == b.parent && a.level == b.level && a.kind == b.kind);
            if !same_tree {
                return Err(SimError::Scenario(format!(
                    "{what}: the document's tree is not the scenario's"
                )));
            }
            let asked = p.at.0.as_millis() as u64;
            self.docs.versions.push(Version {
                version: p.version,
                changes,
                doc,
                asked,
                published: None,
                refused: None,
                applied: vec![None; self.topo.len()],
            });
            self.push(
                asked,
                Ev::Publish {
                    index: i as u32,
                    tries: 0,
                },
            );
        }
        Ok(())
    }

    /// The root publishes version `index`, or tries again later if it is down.
    pub(super) fn publish(&mut self, index: u32, tries: u8) {
        let root = self
            .topo
            .ix(&self.topo.root().id)
            .expect("the root is in its topology")
            .0;
        if !self.up(root) {
            if tries < FOLLOW_UP_TRIES {
                self.push(
                    self.now + FOLLOW_UP_RETRY,
                    Ev::Publish {
                        index,
                        tries: tries + 1,
                    },
                );
            } else {
                let v = &mut self.docs.versions[index as usize];
                v.refused = Some(format!(
                    "the root was down at every try ({} tries over {})",
                    u64::from(tries) + 1,
                    report::human(Duration::from_millis(self.now - v.asked))
                ));
            }
            return;
        }
        let doc = self.docs.versions[index as usize].doc.clone();
        let now = self.local(root);
        let result = self.nodes[root as usize]
            .core
            .as_mut()
            .map(|c| c.handle_command(Command::Publish(doc), now));
        let v = &mut self.docs.versions[index as usize];
        match result {
            Some(Ok(_)) => v.published = Some(self.now),
            Some(Err(e)) => v.refused = Some(e.to_string()),
            None => {}
        }
        self.drain(root);
    }

    /// `Event::DocumentApplied` at `ix`.
    pub(super) fn document_applied(&mut self, ix: Ix, version: u64) {
        let now = self.now;
        if let Some(v) = self.docs.versions.iter_mut().find(|v| v.version == version) {
            v.applied[ix as usize].get_or_insert(now);
        }
    }

    /// A report `id` just filed at `ix`: the version its origin runs and the
    /// accept deadline it took there (only while the scenario publishes).
    pub(super) fn document_filed(&mut self, ix: Ix, id: EnvelopeId, severity: Severity) {
        if self.docs.versions.is_empty() {
            return;
        }
        let Some(core) = self.nodes[ix as usize].core.as_ref() else {
            return;
        };
        let Some(i) = core.store().incidents.get(&id) else {
            return;
        };
        let accept = i.accept_by.0.saturating_sub(i.reported.0);
        let version = core.document_version().unwrap_or(0);
        self.docs.filed.push((severity, version, accept));
    }

    /// A frame a core refused to send (only while the scenario publishes:
    /// an envelope over the frame limit is how a large document fails).
    pub(super) fn unsendable(&mut self, ix: Ix, reason: &str) {
        if self.docs.versions.is_empty() {
            return;
        }
        self.docs.unsendable += 1;
        if self.docs.first_unsendable.is_none() {
            self.docs.first_unsendable = Some(format!("{}: {reason}", self.node_name(ix)));
        }
    }

    /// The version a live node runs at the end, as (its core's version,
    /// the version of the topology it runs on); `None` if it is down.
    pub fn running_version(&self, ix: Ix) -> Option<(Option<u64>, Option<u64>)> {
        let core = self.nodes[ix as usize].core.as_ref()?;
        Some((core.document_version(), core.topology().document().map(|d| d.version)))
    }

    /// The newest version the root took, if any.
    pub fn newest_published(&self) -> Option<u64> {
        self.docs
            .versions
            .iter()
            .filter(|v| v.published.is_some())
            .map(|v| v.version)
            .max()
    }

    /// The report's documents section; `None` when the scenario publishes none.
    pub fn document_figures(&self) -> Option<Documents> {
        if self.docs.versions.is_empty() {
            return None;
        }
        let n = self.topo.len();
        let newest = self.newest_published();
        let mut versions = Vec::new();
        for (k, v) in self.docs.versions.iter().enumerate() {
            let later = &self.docs.versions[k + 1..];
            let mut times = Vec::new();
            let mut last: Option<(u64, Ix)> = None;
            let mut skipped = 0;
            for i in 0..n {
                match (v.applied[i], v.published) {
                    (Some(at), Some(p)) => {
                        times.push(at - p);
                        if last.is_none_or(|(t, _)| at > t) {
                            last = Some((at, i as Ix));
                        }
                    }
                    _ if later.iter().any(|l| l.applied[i].is_some()) => skipped += 1,
                    _ => {}
                }
            }
            let applied = times.len() as u64;
            versions.push(DocumentFigures {
                version: v.version,
                changes: v.changes.clone(),
                asked: Duration::from_millis(v.asked),
                published: v.published.map(Duration::from_millis),
                refused: v.refused.clone(),
                applied,
                skipped,
                never: n as u64 - applied - skipped,
                last: last.map(|(at, i)| (self.node_name(i), Duration::from_millis(at))),
                times: report::Percentiles::of(times),
            });
        }
        // At the end: live nodes on the newest version, and those behind
        // it whose disk a fault wiped (they restarted on the scenario's
        // topology, with nothing to say a version was ever taken).
        let (mut on_newest, mut lost_with_disk) = (0, 0);
        for i in 0..n as Ix {
            match self.running_version(i) {
                Some((a, b)) if a == newest && b == newest => on_newest += 1,
                Some(_) if self.nodes[i as usize].ever_wiped => lost_with_disk += 1,
                _ => {}
            }
        }
        // By version (none first), most severe first.
        let mut filed: BTreeMap<(u64, Reverse<Severity>, u64), u64> = BTreeMap::new();
        for &(severity, version, accept) in &self.docs.filed {
            *filed.entry((version, Reverse(severity), accept)).or_default() += 1;
        }
        let filed = filed
            .into_iter()
            .map(|((version, Reverse(severity), accept), count)| FiledOn {
                version: (version > 0).then_some(version),
                severity: severity.name().to_string(),
                accept: Duration::from_millis(accept),
                count,
            })
            .collect();
        Some(Documents {
            versions,
            on_newest,
            lost_with_disk,
            filed,
            unsendable: self.docs.unsendable,
            first_unsendable: self.docs.first_unsendable.clone(),
        })
    }
}
