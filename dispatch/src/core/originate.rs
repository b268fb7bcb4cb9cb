//! What this node sends in its own name: a new signed envelope stored and
//! forwarded, and the dead letter that tells an origin its envelope
//! expired undelivered.

use super::*;

impl Core {
    /// Creates, signs, stores, applies and routes an envelope from this node,
    /// under the id its command chose ([`Command::Once`]) or a fresh one.
    pub(super) fn originate(&mut self, body: Body, to: Vec<NodeId>, mode: Mode, now: Timestamp) -> EnvelopeId {
        let id = match self.chosen.take() {
            Some(id) => id,
            None => EnvelopeId(self.rng.random()),
        };
        self.originate_as(id, body, to, mode, now)
    }

    /// [`Core::originate`] under an id the caller chose.
    pub(super) fn originate_as(
        &mut self,
        id: EnvelopeId,
        body: Body,
        to: Vec<NodeId>,
        mode: Mode,
        now: Timestamp,
    ) -> EnvelopeId {
        let ttl = self.config.ttl;
        self.originate_for(id, body, to, mode, ttl, now)
    }

    /// [`Core::originate_as`], the envelope living `ttl` (not the
    /// configured one): what may wait long for a node that is down.
    pub(super) fn originate_for(
        &mut self,
        id: EnvelopeId,
        body: Body,
        to: Vec<NodeId>,
        mode: Mode,
        ttl: Duration,
        now: Timestamp,
    ) -> EnvelopeId {
        let mut envelope = Envelope {
            id,
            origin: self.me.clone(),
            created: now,
            expires: now.plus(ttl),
            mode,
            body,
            signature: Vec::new(),
        };
        sign_envelope(&mut envelope, &*self.signer);
        let trace = vec![Hop {
            node: self.me.clone(),
            at: now,
        }];
        self.persist(Record::Envelope(StoredEnvelope {
            envelope,
            trace,
            catch_up: false,
        }));
        self.deliver(id, true, now);
        self.forward(id, &to, false, now);
        id
    }

    pub(super) fn dead_letter(&mut self, envelope: &Envelope, now: Timestamp) {
        if matches!(envelope.body, Body::DeadLetter(_)) {
            return;
        }
        let notice = DeadLetter {
            id: envelope.id,
            kind: envelope.kind(),
            stuck_at: self.me.clone(),
            expired: now,
        };
        if envelope.origin == self.me {
            self.audit(
                now,
                format!("own {:?} {} expired undelivered", envelope.kind(), envelope.id),
            );
            self.notify(Event::DeadLettered {
                id: envelope.id,
                stuck_at: self.me.clone(),
            });
        } else {
            // One per envelope and node: a copy that arrives expired again
            // (a retry, or a replay of a captured envelope) is not told
            // twice, so replays cannot make this node send.
            let id = dead_letter_id(envelope.id, &self.me);
            if self.store.envelopes.contains_key(&id) {
                return;
            }
            self.originate_as(
                id,
                Body::DeadLetter(notice),
                vec![envelope.origin.clone()],
                envelope.mode,
                now,
            );
        }
    }
}

/// The id of the dead letter `me` sends about envelope `id`: derived, so
/// the same envelope gets at most one (while it is held, its TTL).
fn dead_letter_id(id: EnvelopeId, me: &NodeId) -> EnvelopeId {
    let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
    digest.update(b"liandong dead letter\0");
    digest.update(&id.0.to_be_bytes());
    digest.update(me.as_str().as_bytes());
    let mut first = [0u8; 16];
    first.copy_from_slice(&digest.finish().as_ref()[..16]);
    EnvelopeId(u128::from_be_bytes(first))
}
