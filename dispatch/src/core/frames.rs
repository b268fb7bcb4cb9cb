//! Frames from a peer: decoding, hop acks, refusals with their reason,
//! and the checks on a carried envelope (signature, dedup, who may send
//! what) before it is stored and acked.

use super::*;

/// The timeline's words for a report's first hop ack at its origin.
pub const STORED_AT_NEXT_HOP: &str = "stored at the next hop";

impl Core {
    pub(super) fn refuse(&mut self, peer: &NodeId, reason: String, now: Timestamp) {
        self.audit(now, format!("refused from {peer}: {reason}"));
        self.notify(Event::Refused {
            peer: peer.clone(),
            reason,
        });
    }

    pub(super) fn on_frame(&mut self, peer: &NodeId, frame: Frame, signature: Signature, now: Timestamp) {
        if let Some(link) = self.links.get_mut(peer) {
            link.last_heard = now;
        }
        if !self.link_up(peer) {
            self.set_link(peer, true, now);
        }
        match frame {
            Frame::Heartbeat { sent } => self.send_frame(peer, Lane::Control, &Frame::HeartbeatEcho { sent }),
            Frame::HeartbeatEcho { sent } => {
                if let Some(link) = self.links.get_mut(peer) {
                    link.rtt = Some(now.since(sent));
                }
            }
            Frame::HopAck { id } => {
                let key = (peer.clone(), id);
                if self.store.outbox.get(&key).is_some_and(|e| !e.acked) {
                    self.persist(Record::Acked { peer: peer.clone(), id });
                    self.retries.remove(&key);
                    if let Some(n) = self.queued.get_mut(peer) {
                        *n = n.saturating_sub(1);
                    }
                    self.settled(peer, id, now);
                    if self
                        .store
                        .envelopes
                        .get(&id)
                        .is_some_and(|s| s.envelope.origin == self.me)
                    {
                        self.notify(Event::Forwarded { id, to: peer.clone() });
                        self.stored_at_next_hop(id, peer, now);
                    }
                }
            }
            Frame::Carry(carry) => self.on_carry(peer, carry, signature, now),
            Frame::KeyAsk { node } => self.after.push(Effect::KeyAsked {
                peer: peer.clone(),
                node,
            }),
            Frame::KeyAnswer { node, certificates } => self.after.push(Effect::KeyOffered {
                peer: peer.clone(),
                node,
                certificates,
            }),
            // Photos are the driver's files: the core only passes them on.
            Frame::PhotoAsk { sha256 } => self.after.push(Effect::PhotoAsked {
                peer: peer.clone(),
                sha256,
            }),
            Frame::PhotoPiece {
                sha256,
                offset,
                total,
                bytes,
            } => self.after.push(Effect::PhotoPiece {
                peer: peer.clone(),
                sha256,
                offset,
                total,
                bytes,
            }),
        }
    }

    /// The reporter's stage "at the next hop": the first neighbour that
    /// stored a report filed here goes in its incident's timeline, once.
    fn stored_at_next_hop(&mut self, id: EnvelopeId, peer: &NodeId, now: Timestamp) {
        let Some(incident) = self.store.incidents.get(&id) else {
            return;
        };
        if incident.owner == self.me || incident.timeline.iter().any(|e| e.what == STORED_AT_NEXT_HOP) {
            return;
        }
        let mut incident = incident.clone();
        incident.log(now, peer, STORED_AT_NEXT_HOP.into());
        self.persist(Record::Incident(incident));
    }

    pub(super) fn on_carry(&mut self, peer: &NodeId, carry: Carry, signature: Signature, now: Timestamp) {
        let id = carry.envelope.id;
        // The very envelope this node checked and stored before: its
        // signature held then, so it is not checked again (a retry or a
        // replay costs a comparison, not a signature check). Anything else
        // under a held id is checked, and a forgery refused.
        let (known, held) = match self.store.envelopes.get(&id) {
            Some(stored) => (true, stored.envelope == carry.envelope),
            None => (false, false),
        };
        if !held {
            if let keys::KeyWait::Asked(origin) = self.await_keys(peer, &carry.envelope, now) {
                // Neither stored nor acked: the sender retries once the key is here.
                self.audit(now, format!("{id} from {peer} waits for the key of {origin}"));
                return;
            }
            // Unless its driver checked the origin's signature already,
            // off the core's path (`handle_decoded_frame`).
            let verified = match signature {
                Signature::Holds => Ok(()),
                Signature::Unchecked => verify_envelope(&carry.envelope, &*self.check),
            };
            if let Err(e) = verified {
                if let SignatureError::Mismatch(origin) = &e {
                    // Perhaps signed with a renewed key: ask for it; the
                    // sender's retry (this copy is not acked) finds it here.
                    self.refresh_key(peer, origin, now);
                }
                self.refuse(peer, format!("envelope {id}: {e}"), now);
                return;
            }
        }
        if let Err(reason) = self.permitted(peer, &carry.envelope) {
            self.refuse(peer, format!("envelope {id}: {reason}"), now);
            return;
        }
        if let Some(reason) = self.summary_refused(&carry.envelope, &carry.to) {
            self.refuse(peer, format!("envelope {id}: {reason}"), now);
            return;
        }
        if !known && matches!(carry.envelope.body, Body::Document(_)) {
            self.on_document(peer, carry, now);
            return;
        }
        if !known && carry.envelope.expires <= now {
            // Too late to act on: take it off the sender's hands and tell the origin.
            self.audit(now, format!("{id} from {peer} arrived expired"));
            self.dead_letter(&carry.envelope, now);
            self.send_frame(peer, Lane::Control, &Frame::HopAck { id });
            return;
        }
        let plan = self.plan(&carry.envelope, &carry.to);
        if let Some(full) = self.full_queue(&plan) {
            // Nothing stored and no ack: the sender keeps it and retries.
            self.audit(now, format!("queue to {full} full: {id} from {peer} not accepted"));
            self.notify(Event::Refused {
                peer: peer.clone(),
                reason: format!("envelope {id}: queue to {full} full, retry later"),
            });
            return;
        }
        if !known {
            let mut trace = carry.trace;
            trace.push(Hop {
                node: self.me.clone(),
                at: now,
            });
            let stored = StoredEnvelope {
                envelope: carry.envelope,
                trace,
                catch_up: carry.catch_up,
            };
            self.persist(Record::Envelope(stored));
        }
        self.enqueue(id, plan, carry.catch_up, now);
        self.send_frame(peer, Lane::Control, &Frame::HopAck { id });
        if known {
            self.notify(Event::Duplicate { peer: peer.clone(), id });
        } else {
            self.deliver(id, carry.to.contains(&self.me), now);
        }
    }

    /// Rules a frame's content must follow whatever the signature says.
    pub(super) fn permitted(&self, peer: &NodeId, envelope: &Envelope) -> Result<(), String> {
        if let Body::Document(_) = &envelope.body {
            let root = &self.topology.root().id;
            if envelope.origin != *root {
                return Err(format!(
                    "a federation document from {}: documents are published at the root ({root}) (sent by {peer})",
                    envelope.origin
                ));
            }
            if self.ix(peer).is_some_and(|p| self.is_below(self.me_ix, p)) {
                return Err(format!("a federation document sent upward by {peer}"));
            }
        }
        if let Body::Order(_) = &envelope.body {
            let issuer = self
                .ix(&envelope.origin)
                .ok_or_else(|| format!("unknown issuer {}", envelope.origin))?;
            if !self.is_below(issuer, self.me_ix) {
                return Err(format!(
                    "order from {} which is not above this node (sent by {peer})",
                    envelope.origin
                ));
            }
        }
        if self.ix(&envelope.origin).is_none() {
            return Err(format!("unknown origin {}", envelope.origin));
        }
        Ok(())
    }
}
