//! Routing: the next hops of a copy and what each covers (the tree
//! neighbour on the way, a live node further along while it is down past
//! the failover threshold, the targets of an order below each child),
//! queuing copies in the outbox, sending them and their backoff.

use super::*;

impl Core {
    /// Next hops for a copy of `envelope` going to `to` (empty for an
    /// order: its targets). Each hop comes with the destinations it
    /// covers and whether it is a late copy for a skipped center. The
    /// tree neighbour on the way is always a hop, even while it is down:
    /// when it returns it gets what it missed. While it is down past the
    /// failover threshold, a live node further along the path is a hop too.
    pub(super) fn route(&self, envelope: &Envelope, to: &[NodeId]) -> BTreeMap<NodeId, Covers> {
        match &envelope.body {
            Body::Order(order) => self.route_down(Some(order)),
            // A document goes to every node, as an order to the whole tree.
            Body::Document(_) => self.route_down(None),
            _ => self.route_to(to),
        }
    }

    /// Next hops of an order (or, `None`, of what goes to every node):
    /// each child with a target below it, and while that child is down,
    /// its failed-over descendants with targets that are live here.
    fn route_down(&self, order: Option<&Order>) -> BTreeMap<NodeId, Covers> {
        let t = &*self.topology;
        let mut hops: BTreeMap<NodeId, Covers> = BTreeMap::new();
        let reaches = |ix: NodeIx| order.is_none_or(|o| self.has_targets_in(o, ix));
        for &child in t.children_ix(self.me_ix) {
            if !reaches(child) {
                continue;
            }
            let child_id = t.node(child).id.clone();
            add_hop(&mut hops, &child_id, None);
            if !self.link_up(&child_id) {
                // Failed-over descendants of the down child take it directly.
                let live: Vec<NodeId> = self
                    .links
                    .iter()
                    .filter(|(p, l)| l.up && self.ix(p).is_some_and(|ix| self.is_below(child, ix) && reaches(ix)))
                    .map(|(p, _)| p.clone())
                    .collect();
                if !live.is_empty() {
                    hops.entry(child_id).or_default().late = true;
                    for p in live {
                        add_hop(&mut hops, &p, None);
                    }
                }
            }
        }
        hops
    }

    /// Next hops toward the destinations `to` (everything but orders and
    /// documents).
    fn route_to(&self, to: &[NodeId]) -> BTreeMap<NodeId, Covers> {
        let t = &*self.topology;
        let mut hops: BTreeMap<NodeId, Covers> = BTreeMap::new();
        for dest in to {
            let Some(d) = self.ix(dest) else { continue };
            if d == self.me_ix {
                continue;
            }
            if self.is_below(self.me_ix, d) {
                // Down the tree: the child on the way, then deeper if it is down.
                let mut path = vec![d];
                while let Some(p) = t.parent_ix(*path.last().unwrap_or(&d)) {
                    if p == self.me_ix {
                        break;
                    }
                    path.push(p);
                }
                path.reverse();
                let child = t.node(path[0]).id.clone();
                add_hop(&mut hops, &child, Some(dest));
                if !self.link_up(&child)
                    && let Some(live) = path[1..].iter().map(|&ix| &t.node(ix).id).find(|id| self.link_up(id))
                {
                    hops.entry(child.clone()).or_default().late = true;
                    add_hop(&mut hops, live, Some(dest));
                }
            } else if let Some(parent) = self.parent() {
                add_hop(&mut hops, &parent, Some(dest));
                if self.failed_over
                    && !self.link_up(&parent)
                    && let Some(live) = t.ancestors(&self.me).skip(1).map(|a| &a.id).find(|a| self.link_up(a))
                {
                    hops.entry(parent.clone()).or_default().late = true;
                    add_hop(&mut hops, live, Some(dest));
                }
            }
        }
        hops
    }

    /// Does the subtree at `at` hold a target of `order`?
    pub(super) fn has_targets_in(&self, order: &Order, at: NodeIx) -> bool {
        let t = &*self.topology;
        let within = |id: &NodeId| self.ix(id).is_some_and(|ix| ix == at || self.is_below(at, ix));
        match &order.targets {
            Targets::Node(n) => within(n),
            Targets::List(list) => list.iter().any(within),
            Targets::Subtree { root, level } => {
                let Some(r) = self.ix(root) else { return false };
                let (a, b) = (t.subtree_range(r), t.subtree_range(at));
                let (lo, hi) = (a.start.max(b.start), a.end.min(b.end));
                (lo..hi).any(|i| i != r.0 && level.is_none_or(|l| t.node(NodeIx(i)).level == l))
            }
        }
    }

    /// The targets of `order` inside the subtree at `at` (`at` included).
    pub(super) fn targets_in(&self, order: &Order, at: NodeIx) -> Vec<NodeId> {
        let t = &*self.topology;
        let within = |ix: NodeIx| ix == at || self.is_below(at, ix);
        match &order.targets {
            Targets::Node(n) => self
                .ix(n)
                .filter(|&ix| within(ix))
                .map(|_| vec![n.clone()])
                .unwrap_or_default(),
            Targets::List(list) => {
                let mut v: Vec<NodeId> = list
                    .iter()
                    .filter(|n| self.ix(n).is_some_and(within))
                    .cloned()
                    .collect();
                v.sort();
                v.dedup();
                v
            }
            Targets::Subtree { root, level } => {
                let Some(r) = self.ix(root) else { return Vec::new() };
                let (a, b) = (t.subtree_range(r), t.subtree_range(at));
                (a.start.max(b.start)..a.end.min(b.end))
                    .filter(|&i| i != r.0)
                    .map(NodeIx)
                    .filter(|&ix| level.is_none_or(|l| t.node(ix).level == l))
                    .map(|ix| t.node(ix).id.clone())
                    .collect()
            }
        }
    }

    /// The copies of `envelope` still to queue for its next hops: hops it
    /// was already queued for (acked or not) are skipped, so the same
    /// envelope is queued for the same peer at most once.
    pub(super) fn plan(&self, envelope: &Envelope, to: &[NodeId]) -> Vec<NextHop> {
        self.route(envelope, to)
            .into_iter()
            .filter(|(peer, _)| !self.store.outbox.contains_key(&(peer.clone(), envelope.id)))
            .map(|(peer, Covers { to, late })| NextHop { peer, to, late })
            .collect()
    }

    /// A peer whose queue is at its bound, if the plan needs one.
    pub(super) fn full_queue(&self, plan: &[NextHop]) -> Option<NodeId> {
        plan.iter()
            .map(|hop| &hop.peer)
            .find(|p| self.queued.get(*p).copied().unwrap_or(0) >= self.config.outbox_limit)
            .cloned()
    }

    /// Queues a stored envelope's planned copies and sends those whose link is up.
    pub(super) fn enqueue(&mut self, id: EnvelopeId, plan: Vec<NextHop>, catch_up: bool, now: Timestamp) {
        let Some(stored) = self.store.envelopes.get(&id) else {
            return;
        };
        let envelope_lane = Self::lane_for(&stored.envelope, catch_up);
        let expires = stored.envelope.expires;
        for NextHop { peer, to: dests, late } in plan {
            let lane = if late { Lane::Bulk } else { envelope_lane };
            let entry = OutboxEntry {
                to: dests,
                lane,
                catch_up: late || catch_up,
                acked: false,
                gave_up: false,
            };
            self.persist(Record::Outbox {
                peer: peer.clone(),
                id,
                entry,
            });
            *self.queued.entry(peer.clone()).or_default() += 1;
            self.timer(
                expires,
                Timer::Expire {
                    peer: peer.clone(),
                    item: id,
                },
            );
            if self.may_send(&peer) {
                self.send_or_wait(&peer, id, lane, now);
            }
        }
    }

    /// Queues copies of a stored envelope for its next hops. Bounds are
    /// checked where new work is accepted (frames, commands), not here:
    /// what this node already holds is never dropped for a full queue.
    pub(super) fn forward(&mut self, id: EnvelopeId, to: &[NodeId], catch_up: bool, now: Timestamp) {
        let Some(stored) = self.store.envelopes.get(&id) else {
            return;
        };
        let plan = self.plan(&stored.envelope, to);
        self.enqueue(id, plan, catch_up, now);
    }

    /// Sends one queued copy and arms its retry.
    pub(super) fn transmit(&mut self, peer: &NodeId, id: EnvelopeId, attempt: u32, now: Timestamp) {
        let key = (peer.clone(), id);
        let (Some(entry), Some(stored)) = (self.store.outbox.get(&key), self.store.envelopes.get(&id)) else {
            return;
        };
        let frame = Frame::Carry(Carry {
            envelope: stored.envelope.clone(),
            to: entry.to.clone(),
            trace: stored.trace.clone(),
            catch_up: entry.catch_up,
        });
        let lane = entry.lane;
        self.send_frame(peer, lane, &frame);
        let mut backoff = self.backoff(attempt);
        if self.windows.get(peer).is_some_and(|w| w.holds(&id)) {
            backoff = backoff.max(self.window_retry(peer));
        }
        let due = now.plus(backoff);
        self.retries.insert(
            key,
            NextTry {
                attempt: attempt.saturating_add(1),
                due,
            },
        );
        self.timer(
            due,
            Timer::Retry {
                peer: peer.clone(),
                item: id,
            },
        );
    }

    /// Capped exponential backoff with ±25% jitter from the seeded RNG.
    pub(super) fn backoff(&mut self, attempt: u32) -> Duration {
        let base = self.config.retry_base.as_millis() as u64;
        let cap = self.config.retry_cap.as_millis() as u64;
        let raw = base.saturating_mul(1u64 << attempt.min(20)).min(cap).max(1);
        let jitter = self.rng.random_range(0..=raw / 2);
        Duration::from_millis(raw - raw / 4 + jitter)
    }
}

/// Adds `peer` as a next hop covering `dest` (if any).
fn add_hop(hops: &mut BTreeMap<NodeId, Covers>, peer: &NodeId, dest: Option<&NodeId>) {
    let e = hops.entry(peer.clone()).or_default();
    if let Some(d) = dest
        && !e.to.contains(d)
    {
        e.to.push(d.clone());
    }
}
