//! Webhooks out: a center tells the systems that subscribed (a police
//! system, a hotline's case system) what happens here, as signed JSON
//! POSTs, durably.
//!
//! # Events
//! Made from the core's events as the driver drains them in a turn
//! (`events`), each with an id derived from this center and the durable
//! record that caused it:
//!
//! | type | when (core event) | id from |
//! | --- | --- | --- |
//! | `incident` | a new incident is stored here, filed here or received (`IncidentRecorded`; again as new owner after an escalation: the same id, so once) | the report's id |
//! | `order` | an order addressed to this center is received (`OrderReceived`) | the order's id |
//! | `stage` | an update moves an incident here: received by its owner, accepted, escalated, resolved, verified or sent back, closed, cancelled (`IncidentChanged`; feedback and notes are not stages) | the update envelope's id |
//! | `stage` | an order target's state moves, as seen here (issuer or a center on the way: `OrderProgress`) | order, target, state |
//! | `supervision` | an item is supervised (督办) after a missed deadline (`Supervised`), or escalated because its owner missed the accept deadline | item, stage, supervisor; or the escalation's id |
//!
//! # Durable
//! The driver adds one delivery row per event and subscription that wants
//! it to the turn's commit ([`Webhooks::deliveries`],
//! `Durable::commit_with`): the rows are stored in the same transaction
//! as the records, or neither is. A row already there (the same
//! subscription and event id) is kept as it is, so a replayed record
//! never delivers twice. The delivery worker (`worker`), its own task,
//! POSTs them (`post`), signed (`sign`), retried with backoff (`backoff`)
//! until a 2xx or the subscription's expiry (24 h unless it says), then
//! dead-letters them (kept, with the last error). Pending deliveries
//! resume after a restart. Delivery is at least once: a receiver that
//! answered 2xx just before the node crashed sees the event again, and
//! dedupes it by id.
//!
//! Nothing here blocks the driver's turn: mapping events reads the core
//! and the subscription file (read again only when it changed); HTTP is
//! the worker's.

pub mod backoff;
pub mod events;
pub mod post;
pub mod sign;
pub mod subscriptions;
mod worker;

use std::path::Path;
use std::sync::Arc;

use liandong_control::proto::WebhookView;
use liandong_dispatch::{Core, Event, Timestamp};
use liandong_topology::NodeId;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::store::{Durable, NewDelivery};
pub use events::{EventKind, WebhookEvent};
pub use subscriptions::{SubscriptionWatch, Subscriptions, WEBHOOKS_FILE};
pub use worker::MAX_IN_FLIGHT;

/// A node's webhooks: its subscriptions, and the worker delivering to them.
pub struct Webhooks {
    me: NodeId,
    subscriptions: Arc<SubscriptionWatch>,
    wake: Arc<Notify>,
    counts: worker::Counts,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Webhooks {
    /// The subscriptions in `data_dir`'s [`WEBHOOKS_FILE`], and the worker
    /// delivering what `durable` holds for them (started here).
    pub fn start(data_dir: &Path, me: NodeId, durable: Durable) -> Webhooks {
        let subscriptions = Arc::new(SubscriptionWatch::new(data_dir.join(WEBHOOKS_FILE)));
        let wake = Arc::new(Notify::new());
        let counts = worker::Counts::default();
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(
            worker::Worker {
                durable,
                subscriptions: subscriptions.clone(),
                wake: wake.clone(),
                counts: counts.clone(),
                stop: stopped,
            }
            .run(),
        );
        Webhooks {
            me,
            subscriptions,
            wake,
            counts,
            stop,
            task: Some(task),
        }
    }

    /// The delivery rows for `events` (a turn's, drained from `core`), at
    /// `now`: one per event and subscription that wants its kind.
    pub fn deliveries<'a>(
        &self,
        events: impl Iterator<Item = &'a Event>,
        core: &Core,
        now: Timestamp,
    ) -> Vec<NewDelivery> {
        let mut events = events.peekable();
        if events.peek().is_none() {
            return Vec::new();
        }
        let subs = self.subscriptions.current();
        if subs.webhooks.is_empty() {
            return Vec::new();
        }
        let mut out: Vec<NewDelivery> = Vec::new();
        for event in events {
            for e in events::events_of(event, core) {
                let wanting: Vec<_> = subs.webhooks.iter().filter(|s| s.wants(e.kind)).collect();
                if wanting.is_empty() {
                    continue;
                }
                let body = e.body(&self.me, now);
                for s in wanting {
                    if out.iter().any(|d| d.subscription == s.id && d.event == e.id) {
                        continue;
                    }
                    out.push(NewDelivery {
                        subscription: s.id.clone(),
                        event: e.id.clone(),
                        kind: e.kind.name().to_owned(),
                        created: now,
                        body: body.clone(),
                    });
                }
            }
        }
        out
    }

    /// New deliveries were committed: the worker takes them now.
    pub fn committed(&self) {
        self.wake.notify_one();
    }

    /// Every subscription with its deliveries' counts, for the status.
    pub fn views(&self) -> Vec<WebhookView> {
        let subs = self.subscriptions.current();
        let counts = self.counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        subs.webhooks
            .iter()
            .map(|s| {
                let c = counts.get(&s.id).cloned().unwrap_or_default();
                WebhookView {
                    id: s.id.clone(),
                    name: s.name.clone(),
                    url: s.url.clone(),
                    events: s.events.iter().map(|k| k.name().to_owned()).collect(),
                    pending: c.pending,
                    delivered: c.delivered,
                    dead_lettered: c.dead,
                    last_error: c.last_error,
                }
            })
            .collect()
    }

    /// Stops the worker; attempts in flight are abandoned (still pending
    /// in the store, tried again at the next start).
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Webhooks {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
