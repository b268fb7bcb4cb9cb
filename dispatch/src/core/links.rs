//! Links: a peer's connection coming up or going down, re-routing what
//! was stuck behind a down link, and the parent's failover.

use super::*;

impl Core {
    /// After a link change, copies waiting on a down neighbour that now
    /// has a way around it get that way too.
    pub(super) fn reroute(&mut self, now: Timestamp) {
        let stuck: Vec<(NodeId, EnvelopeId, Vec<NodeId>)> = self
            .store
            .pending()
            .filter(|(peer, _, e)| !e.catch_up && !self.link_up(peer))
            .map(|(peer, id, e)| (peer.clone(), *id, e.to.clone()))
            .collect();
        for (peer, id, to) in stuck {
            let Some(stored) = self.store.envelopes.get(&id) else {
                continue;
            };
            let hops = self.route(&stored.envelope, &to);
            if hops.keys().any(|p| *p != peer && self.link_up(p)) {
                if let Some(entry) = self.store.outbox.get(&(peer.clone(), id)) {
                    let entry = OutboxEntry {
                        catch_up: true,
                        lane: Lane::Bulk,
                        ..entry.clone()
                    };
                    self.persist(Record::Outbox {
                        peer: peer.clone(),
                        id,
                        entry,
                    });
                }
                self.forward(id, &to, false, now);
            }
        }
    }

    pub(super) fn set_link(&mut self, peer: &NodeId, up: bool, now: Timestamp) {
        let was_up = self.link_up(peer);
        let link = self.links.entry(peer.clone()).or_insert(Link {
            up,
            last_heard: now,
            rtt: None,
            silent: false,
        });
        link.up = up;
        link.silent = false;
        // A link that went down has been unreachable since it was last heard.
        let unreachable_since = link.last_heard.min(now);
        if up {
            link.last_heard = now;
        }
        if was_up == up {
            return;
        }
        self.notify(Event::LinkChanged { peer: peer.clone(), up });
        let is_parent = self.parent().as_ref() == Some(peer);
        if up {
            if is_parent {
                self.parent_down_since = None;
                self.failed_over = false;
                self.failed_over_via = None;
                self.failover_attempts = 0;
            } else if self.failed_over && self.topology.is_ancestor(peer, &self.me) {
                // The ancestor dialed for failover answered: route through it now
                // rather than at the next check.
                self.announce_failover(peer.clone());
            }
            let hb = self.topology.link().heartbeat;
            // One heartbeat chain per peer: drop the one of an earlier up or of probing.
            self.timers
                .retain(|(_, t)| !matches!(t, Timer::Heartbeat { peer: p } if p == peer));
            self.timer(now.plus(hb), Timer::Heartbeat { peer: peer.clone() });
            // Everything owed to this peer, urgent first; retries armed
            // while it was down or silent are dropped, as these sends
            // arm their own (else they would all fire at once, past any
            // window).
            self.retries.retain(|(p, _), _| p != peer);
            let mut owed: Vec<(Lane, EnvelopeId)> = self
                .store
                .outbox
                .range((peer.clone(), EnvelopeId(0))..=(peer.clone(), EnvelopeId(u128::MAX)))
                .filter(|(_, e)| !e.acked)
                .map(|((_, id), e)| (e.lane, *id))
                .collect();
            owed.sort();
            for (lane, id) in owed {
                self.send_or_wait(peer, id, lane, now);
            }
        } else {
            self.drop_window(peer);
            for key in self
                .retries
                .keys()
                .filter(|(p, _)| p == peer)
                .cloned()
                .collect::<Vec<_>>()
            {
                self.retries.remove(&key);
            }
            if is_parent {
                self.parent_down_since = Some(unreachable_since);
                self.timer(
                    unreachable_since.plus(self.topology.link().failover_after),
                    Timer::ParentCheck,
                );
            }
        }
        self.reroute(now);
    }
}
