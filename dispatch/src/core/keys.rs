//! Origin keys the core does not hold yet: it asks its driver for them.
//!
//! The core checks every signed envelope with the keys in its
//! [`SignatureCheck`], which never reads a file or a clock. When an
//! envelope (or an envelope signed inside it: the report an escalation
//! carries, the ask and report of a room event) comes from a node of the
//! federation whose key the check does not hold, the core neither stores
//! nor acks it, and asks for the key with [`Effect::NeedKey`]. The driver
//! loads it off the core's path (the node reads and CA-checks that node's
//! certificate) and hands it back with [`Core::handle_key`]; the sender,
//! never acked, retries, and the retry is stored.
//!
//! The neighbour that sent the envelope checked it, so it holds the key:
//! the core asks it too ([`Frame::KeyAsk`]); what it answers
//! ([`Frame::KeyAnswer`], certificates) goes to the driver
//! ([`Effect::KeyOffered`]), which checks them against the CA before it
//! hands a key back. A neighbour's own ask reaches the driver as
//! [`Effect::KeyAsked`], answered with [`Core::answer_key`].
//!
//! A key that could not be loaded is asked for again only after
//! [`KEY_RETRY`]; meanwhile envelopes it signed are refused as from an
//! unknown origin, so a missing certificate costs one load per half
//! minute, not one per envelope. An envelope whose signature matches
//! none of the keys held is refused, and the key is asked for again (at
//! most once per [`KEY_RETRY`]): it may be signed with a renewed key,
//! which the sender's retry then finds here.
//!
//! A node that renews its own certificate ([`Core::renew_signer`]) signs
//! with the new key from then on and offers the new certificate to every
//! neighbour up, unasked, so they hold the key before its first envelope.

use super::*;
use crate::wire::RoomWhat;

/// How long after a failed load a key is asked for again (and how long
/// an unanswered ask stands before it is repeated).
const KEY_RETRY: Duration = Duration::from_secs(30);

/// Keys asked of the driver and loads that failed, by origin.
#[derive(Debug, Default)]
pub(super) struct KeyAsks {
    /// Asked and not answered yet: since when.
    asked: BTreeMap<NodeId, Timestamp>,
    /// The last load failed: when.
    failed: BTreeMap<NodeId, Timestamp>,
    /// Asked again because a signature matched none of the keys held
    /// (perhaps a renewed certificate): when.
    mismatched: BTreeMap<NodeId, Timestamp>,
}

/// Whether an envelope's signatures can be checked now.
pub(super) enum KeyWait {
    /// Every key is held, or a missing one is refused for now (the check
    /// then fails with the usual reason).
    Ready,
    /// The key of this origin was asked for: the envelope waits for the
    /// sender's retry.
    Asked(NodeId),
}

impl Core {
    /// The driver's answer to [`Effect::NeedKey`]: `origin`'s public key,
    /// or why it could not be loaded.
    pub fn handle_key(&mut self, origin: &NodeId, key: Result<Vec<u8>, String>, now: Timestamp) {
        self.key_asks.asked.remove(origin);
        let learned = key.and_then(|k| self.check.learn(origin.clone(), k).map_err(|e| e.to_string()));
        match learned {
            Ok(()) => {
                self.key_asks.failed.remove(origin);
                self.audit(now, format!("learned the key of {origin}"));
            }
            Err(reason) => {
                self.key_asks.failed.insert(origin.clone(), now);
                self.audit(now, format!("no key for {origin}: {reason}"));
            }
        }
        self.flush();
    }

    /// What a neighbour asked of this node's certificates of `node`, and
    /// what the driver found: sent back to `peer`.
    pub fn answer_key(&mut self, peer: &NodeId, node: &NodeId, certificates: Vec<Vec<u8>>) {
        self.send_frame(
            peer,
            Lane::Control,
            &Frame::KeyAnswer {
                node: node.clone(),
                certificates,
            },
        );
        self.flush();
    }

    /// This node renewed its certificate: what it originates from now on
    /// is signed by `signer`, its own new public `key` is held beside the
    /// old ones (what it signed before still checks), and `certificate`
    /// (DER) is offered to every neighbour up, so none refuses the next
    /// envelope for a signature it cannot check yet.
    pub fn renew_signer(&mut self, signer: Box<dyn Signer>, key: Vec<u8>, certificate: Vec<u8>, now: Timestamp) {
        self.signer = signer;
        let me = self.me.clone();
        if let Err(e) = self.check.learn(me.clone(), key) {
            self.audit(now, format!("the renewed key of this node is not held: {e}"));
        }
        let up: Vec<NodeId> = self
            .links
            .iter()
            .filter(|(_, l)| l.up)
            .map(|(p, _)| p.clone())
            .collect();
        for peer in up {
            self.send_frame(
                &peer,
                Lane::Control,
                &Frame::KeyAnswer {
                    node: me.clone(),
                    certificates: vec![certificate.clone()],
                },
            );
        }
        self.audit(now, "renewed this node's certificate".to_owned());
        self.flush();
    }

    /// Asks the driver for `origin`'s key, and `peer` (which sent an
    /// envelope it signed) for its certificates.
    fn ask_key(&mut self, peer: &NodeId, origin: &NodeId, now: Timestamp) {
        self.key_asks.asked.insert(origin.clone(), now);
        self.after.push(Effect::NeedKey(origin.clone()));
        if peer != origin && self.ix(peer).is_some() {
            self.send_frame(peer, Lane::Control, &Frame::KeyAsk { node: origin.clone() });
        }
    }

    /// An envelope from `peer` whose signature by `origin` matches none of
    /// the keys held (it is refused): `origin` may have renewed its
    /// certificate, so its keys are asked for again, at most once per
    /// [`KEY_RETRY`]; the sender's retry then finds the new key here.
    pub(super) fn refresh_key(&mut self, peer: &NodeId, origin: &NodeId, now: Timestamp) {
        if self.ix(origin).is_none()
            || self
                .key_asks
                .mismatched
                .get(origin)
                .is_some_and(|at| now.since(*at) < KEY_RETRY)
        {
            return;
        }
        self.key_asks.mismatched.insert(origin.clone(), now);
        self.ask_key(peer, origin, now);
        // A neighbour's own envelope: its handshake gave the key in force,
        // so the one that signed this is an older one it kept; ask it.
        if peer == origin {
            self.send_frame(peer, Lane::Control, &Frame::KeyAsk { node: origin.clone() });
        }
    }

    /// Asks for every key `envelope` (from `peer`) needs that the check
    /// lacks. Only nodes of the topology have keys worth asking for.
    pub(super) fn await_keys(&mut self, peer: &NodeId, envelope: &Envelope, now: Timestamp) -> KeyWait {
        let mut wait = KeyWait::Ready;
        for origin in signers(envelope).into_iter().flatten() {
            if self.check.knows(origin) || self.ix(origin).is_none() {
                continue;
            }
            let recent = |at: Option<&Timestamp>| at.is_some_and(|at| now.since(*at) < KEY_RETRY);
            if recent(self.key_asks.failed.get(origin)) {
                continue;
            }
            if !recent(self.key_asks.asked.get(origin)) {
                self.ask_key(peer, origin, now);
            }
            wait = KeyWait::Asked(origin.clone());
        }
        wait
    }
}

/// The origins whose signatures checking `envelope` takes: its own, and
/// those of the envelopes signed inside it. A fixed array, not a list:
/// this runs for every envelope that arrives.
fn signers(envelope: &Envelope) -> [Option<&NodeId>; 3] {
    let inside = match &envelope.body {
        Body::Update(Update {
            action: Action::Escalate { report, .. },
            ..
        }) => [Some(&report.origin), None],
        Body::Room(RoomBody::Event(event)) => match &event.what {
            RoomWhat::Asked { ask, report, .. } => [Some(&ask.origin), report.as_ref().map(|r| &r.origin)],
            _ => [None, None],
        },
        // A history's events are the home's, who signed the history.
        _ => [None, None],
    };
    [Some(&envelope.origin), inside[0], inside[1]]
}
