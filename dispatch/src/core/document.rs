//! The federation document: a new version published at the root, a
//! version that arrives from the parent, and applying one.
//!
//! A version is checked ([`crate::DocumentCheck`]: the admin's
//! certificate and signature, a valid topology that declares the
//! version) before anything is stored. An older or equal version is taken
//! off the sender's hands (hop-acked) but neither stored nor carried on;
//! one that fails its check is refused and not acked, as a forged envelope
//! is. A good one is stored, acked, applied, and carried down to every
//! child of the tree before and after it: a center that moved must still
//! hear of its move from its old parent, and a copy owed to a child that
//! is down waits in the outbox like any other (catch-up).
//!
//! Applying it: the core runs on the new topology from then on, so new
//! items take its deadlines and reach policy (items already open keep
//! theirs); copies owed to nodes that are no longer neighbours are given
//! up there and routed again on the new tree (a document itself keeps
//! going to a moved child); a new parent is dialled; and the driver is
//! told ([`Effect::Reconfigure`]) so its links and revocation list follow.
//! A version that no longer names this node is stored but not applied:
//! the node keeps its old topology, and its neighbours refuse it.

use super::*;
use crate::wire::Document;

/// How long a document envelope may wait for a node that is down before it
/// is given up (a center back after that needs a bootstrap document).
pub const DOCUMENT_TTL: Duration = Duration::from_secs(90 * 24 * 3600);

impl Core {
    /// The version of the federation document this node runs on, if any.
    pub fn document_version(&self) -> Option<u64> {
        self.document
    }

    /// The topology this core runs on, to share with the driver.
    pub fn topology_handle(&self) -> Arc<Topology> {
        self.topology.clone()
    }

    /// The highest document version among stored document envelopes.
    pub(super) fn stored_document_version(store: &Store) -> Option<u64> {
        store.document().map(|d| d.version)
    }

    /// `doc` in an envelope of this node's, signed.
    fn document_envelope(&mut self, doc: Document, now: Timestamp) -> Envelope {
        let mut envelope = Envelope {
            id: EnvelopeId(self.rng.random()),
            origin: self.me.clone(),
            created: now,
            expires: now.plus(DOCUMENT_TTL),
            mode: Mode::Actual,
            body: Body::Document(doc),
            signature: Vec::new(),
        };
        sign_envelope(&mut envelope, &*self.signer);
        envelope
    }

    /// Stores an envelope this node made, its trace starting here.
    fn keep_own(&mut self, envelope: Envelope, now: Timestamp) {
        self.persist(Record::Envelope(StoredEnvelope {
            envelope,
            trace: vec![Hop {
                node: self.me.clone(),
                at: now,
            }],
            catch_up: false,
        }));
    }

    /// The root publishes `doc`: checked, stored, applied, carried down.
    pub(super) fn publish(&mut self, doc: Document, now: Timestamp) -> Result<EnvelopeId, CommandError> {
        let root = self.topology.root().id.clone();
        if root != self.me {
            return Err(CommandError::NotRoot { root });
        }
        if let Some(current) = self.document.filter(|c| doc.version <= *c) {
            return Err(CommandError::StaleDocument {
                version: doc.version,
                current,
            });
        }
        let topology = self.documents.check(&doc, now).map_err(CommandError::BadDocument)?;
        if topology.root().id != self.me {
            return Err(CommandError::BadDocument(format!(
                "it makes {} the root, not this node {}",
                topology.root().id,
                self.me
            )));
        }
        let version = doc.version;
        let envelope = self.document_envelope(doc, now);
        let id = envelope.id;
        // Room for the frame around it and a trace down a deep tree.
        let len = crate::codec::encoded_len(&envelope);
        if len + 4096 > crate::codec::MAX_FRAME {
            return Err(CommandError::BadDocument(format!(
                "it is {len} bytes compressed with its signature; one envelope carries at most {}",
                crate::codec::MAX_FRAME - 4096
            )));
        }
        self.keep_own(envelope, now);
        self.audit(now, format!("published federation document version {version} ({id})"));
        self.apply_document(topology, id, version, now);
        Ok(id)
    }

    /// The document this node was first started with (a file the ops team
    /// gave it, before it could hear from the federation): checked,
    /// stored in this node's own name, and run on. It is not carried on:
    /// only the root's envelope of a version travels (see `on_document`).
    /// Nothing happens for a version this node already runs on.
    pub fn handle_bootstrap(&mut self, doc: Document, now: Timestamp) -> Result<(), CommandError> {
        if self.document == Some(doc.version) {
            return Ok(());
        }
        if let Some(current) = self.document.filter(|c| doc.version < *c) {
            return Err(CommandError::StaleDocument {
                version: doc.version,
                current,
            });
        }
        let topology = self.documents.check(&doc, now).map_err(CommandError::BadDocument)?;
        let Some(me_ix) = topology.ix(&self.me) else {
            return Err(CommandError::BadDocument(format!(
                "version {} does not name this node {}",
                doc.version, self.me
            )));
        };
        let version = doc.version;
        let envelope = self.document_envelope(doc, now);
        let id = envelope.id;
        self.keep_own(envelope, now);
        self.audit(
            now,
            format!("started on federation document version {version} (bootstrap)"),
        );
        let previous = self.document;
        self.topology = topology;
        self.me_ix = me_ix;
        self.document = Some(version);
        // Its place, and so its summaries, may differ on this document.
        self.arm_summaries(now);
        self.notify(Event::DocumentApplied { version, previous });
        self.after.push(Effect::Reconfigure { version, document: id });
        self.flush();
        Ok(())
    }

    /// A document envelope from `peer` that is not stored here yet.
    /// Called once its origin signature and sender have been checked.
    pub(super) fn on_document(&mut self, peer: &NodeId, carry: Carry, now: Timestamp) {
        let id = carry.envelope.id;
        let Body::Document(doc) = &carry.envelope.body else {
            return;
        };
        let version = doc.version;
        if self.document == Some(version) && self.runs_on_bootstrap(version) {
            // The root's envelope of the version this node was started on:
            // keep it and carry it on, as if it had come first.
            let topology = self.topology.clone();
            return self.take_document(peer, carry, topology, false, now);
        }
        if let Some(current) = self.document.filter(|c| version <= *c) {
            // Take it off the sender's hands, but keep nothing of it.
            self.refuse(
                peer,
                format!(
                    "document {id}: version {version} is not newer than version {current}, which this node runs on"
                ),
                now,
            );
            self.send_frame(peer, Lane::Control, &Frame::HopAck { id });
            return;
        }
        let topology = match self.documents.check(doc, now) {
            Ok(t) => t,
            Err(reason) => {
                // Neither stored nor acked, as a forged envelope.
                self.refuse(peer, format!("document {id} (version {version}): {reason}"), now);
                return;
            }
        };
        self.take_document(peer, carry, topology, true, now);
    }

    /// Whether the stored document of `version` is only this node's
    /// bootstrap copy (its own envelope, not the root's).
    fn runs_on_bootstrap(&self, version: u64) -> bool {
        let root = &self.topology.root().id;
        *root != self.me
            && !self.store.envelopes.values().any(|s| {
                matches!(&s.envelope.body, Body::Document(d) if d.version == version) && s.envelope.origin == *root
            })
    }

    /// Stores a checked document envelope from `peer`, acks it, and applies
    /// it (`apply`) or only carries it on.
    fn take_document(&mut self, peer: &NodeId, carry: Carry, topology: Arc<Topology>, apply: bool, now: Timestamp) {
        let id = carry.envelope.id;
        let Body::Document(doc) = &carry.envelope.body else {
            return;
        };
        let version = doc.version;
        let mut trace = carry.trace;
        trace.push(Hop {
            node: self.me.clone(),
            at: now,
        });
        self.persist(Record::Envelope(StoredEnvelope {
            envelope: carry.envelope,
            trace,
            catch_up: carry.catch_up,
        }));
        self.audit(now, format!("federation document version {version} ({id}) from {peer}"));
        self.send_frame(peer, Lane::Control, &Frame::HopAck { id });
        if apply {
            self.apply_document(topology, id, version, now);
        } else {
            self.forward(id, &[], false, now);
        }
    }

    /// Runs on `topology` from now on (document `id`, `version`), and
    /// carries the document to the children of the tree before and after.
    fn apply_document(&mut self, topology: Arc<Topology>, id: EnvelopeId, version: u64, now: Timestamp) {
        let before: Vec<NodeId> = self.children();
        let Some(me_ix) = topology.ix(&self.me) else {
            self.audit(
                now,
                format!("federation document version {version} does not name this node: not applied"),
            );
            self.notify(Event::RemovedFromFederation { version });
            return;
        };
        let old_parent = self.parent();
        let previous = self.document;
        self.topology = topology;
        self.me_ix = me_ix;
        self.document = Some(version);
        self.windows.clear();
        // Down the new tree, and to children of the old one that left it.
        self.forward(id, &[], false, now);
        let moved: Vec<NextHop> = before
            .into_iter()
            .filter(|c| !self.store.outbox.contains_key(&(c.clone(), id)))
            .map(|peer| NextHop {
                peer,
                to: Vec::new(),
                late: false,
            })
            .collect();
        self.enqueue(id, moved, false, now);
        self.reroute_after_change(now);
        let new_parent = self.parent();
        if new_parent != old_parent {
            self.parent_changed(new_parent, now);
        }
        // A new place or policy may owe summaries the old one did not.
        self.arm_summaries(now);
        self.audit(now, format!("applied federation document version {version}"));
        self.notify(Event::DocumentApplied { version, previous });
        self.after.push(Effect::Reconfigure { version, document: id });
    }

    /// This node's children in the topology it runs on.
    fn children(&self) -> Vec<NodeId> {
        self.topology
            .children_ix(self.me_ix)
            .iter()
            .map(|&c| self.topology.node(c).id.clone())
            .collect()
    }

    /// Copies owed to a node that is no longer a neighbour (removed, or
    /// moved out of this node's line) are given up there and routed again
    /// on the new tree. Documents stay: that is how a moved node hears.
    fn reroute_after_change(&mut self, now: Timestamp) {
        let stale: Vec<(NodeId, EnvelopeId, Vec<NodeId>)> = self
            .store
            .pending()
            .filter(|(peer, _, _)| !self.is_neighbour(peer))
            .filter(|(_, id, _)| {
                !self
                    .store
                    .envelopes
                    .get(id)
                    .is_some_and(|s| matches!(s.envelope.body, Body::Document(_)))
            })
            .map(|(peer, id, e)| (peer.clone(), *id, e.to.clone()))
            .collect();
        for (peer, id, to) in stale {
            self.persist(Record::GaveUp { peer: peer.clone(), id });
            self.retries.remove(&(peer.clone(), id));
            if let Some(n) = self.queued.get_mut(&peer) {
                *n = n.saturating_sub(1);
            }
            self.audit(
                now,
                format!("{id} to {peer}: no longer a neighbour in the new topology; routed again"),
            );
            self.forward(id, &to, false, now);
        }
    }

    /// Whether `peer` is in the topology and on this node's line (an
    /// ancestor or a descendant): a node it may link with.
    pub(super) fn is_neighbour(&self, peer: &NodeId) -> bool {
        self.ix(peer)
            .is_some_and(|p| self.is_below(p, self.me_ix) || self.is_below(self.me_ix, p))
    }

    /// The parent is another node now: dial it; the old one's down time
    /// and failover no longer count.
    fn parent_changed(&mut self, parent: Option<NodeId>, now: Timestamp) {
        self.failed_over = false;
        self.failed_over_via = None;
        self.failover_attempts = 0;
        match parent {
            Some(p) if self.link_up(&p) => self.parent_down_since = None,
            Some(p) => {
                self.parent_down_since = Some(now);
                self.timer(now.plus(self.topology.link().failover_after), Timer::ParentCheck);
                self.after.push(Effect::Connect(p));
            }
            None => self.parent_down_since = None,
        }
    }
}
