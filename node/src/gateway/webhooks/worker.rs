//! The delivery worker: its own task, apart from the driver. It reads the
//! pending deliveries that are due from the store, POSTs each (at most
//! [`MAX_IN_FLIGHT`] at once, each bounded by `post::ATTEMPT_TIMEOUT`),
//! and writes back what happened: delivered, tried again later
//! (`backoff`), or dead-lettered at expiry. It wakes when the driver
//! committed new deliveries, when the next one is due, and when an
//! attempt ends; after a restart it finds the pending ones in the store.
//!
//! It also keeps the counts per subscription that the status shows,
//! counted again at most every [`RECOUNT_EVERY`], and forgets finished
//! deliveries after [`KEEP_FINISHED`].

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use liandong_control::clock;
use liandong_dispatch::Timestamp;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

use super::backoff::{AfterFailure, after_failure};
use super::post::{Attempt, Poster};
use super::subscriptions::SubscriptionWatch;
use crate::store::{DeliveryCounts, DueDelivery, Durable};

/// Most attempts in flight at once.
pub const MAX_IN_FLIGHT: usize = 16;
/// Most due deliveries read per pass.
const READ_BATCH: u32 = 64;
/// The longest sleep with nothing due (the store is read again then).
const IDLE: Duration = Duration::from_secs(30);
/// Counts for the status are read again at most this often.
pub const RECOUNT_EVERY: Duration = Duration::from_millis(500);
/// Delivered and dead-lettered deliveries are kept this long (a replayed
/// record's event is recognised for as long).
pub const KEEP_FINISHED: Duration = Duration::from_secs(30 * 24 * 60 * 60);
/// Wait after the store failed a read or a write.
const STORE_RETRY: Duration = Duration::from_secs(2);

/// Counts per subscription id, as the status shows them.
pub type Counts = Arc<Mutex<BTreeMap<String, DeliveryCounts>>>;

/// What the worker shares with the node.
pub struct Worker {
    pub durable: Durable,
    pub subscriptions: Arc<SubscriptionWatch>,
    pub wake: Arc<Notify>,
    pub counts: Counts,
    pub stop: watch::Receiver<bool>,
}

/// What one attempt came to.
struct Ended {
    due: DueDelivery,
    attempts: u32,
    outcome: Result<u16, String>,
    expire_after: Duration,
}

impl Worker {
    pub async fn run(mut self) {
        let poster = Arc::new(Poster::default());
        let mut in_flight: JoinSet<Ended> = JoinSet::new();
        let mut busy: HashSet<(String, String)> = HashSet::new();
        let mut recount_at = Some(tokio::time::Instant::now());
        let mut pruned_at: Option<tokio::time::Instant> = None;
        loop {
            let now = clock::now();
            if pruned_at.is_none_or(|t| t.elapsed() >= Duration::from_secs(3600)) {
                pruned_at = Some(tokio::time::Instant::now());
                if let Err(e) = self
                    .durable
                    .prune_deliveries(Timestamp(now.0.saturating_sub(KEEP_FINISHED.as_millis() as u64)))
                    .await
                {
                    warn!(error = %e, "old webhook deliveries not forgotten");
                }
            }
            // Start what is due, up to the bound; sleep until the next due.
            let mut next_due = None;
            let limit = u32::try_from(busy.len()).unwrap_or(u32::MAX).saturating_add(READ_BATCH);
            match self.durable.pending_deliveries(limit).await {
                Ok(pending) => {
                    for d in pending {
                        let key = (d.subscription.clone(), d.event.clone());
                        if busy.contains(&key) {
                            continue;
                        }
                        if d.next_at.0 > now.0 {
                            next_due = Some(d.next_at);
                            break;
                        }
                        // Due, but the bound is reached: an attempt ending wakes us.
                        if in_flight.len() >= MAX_IN_FLIGHT {
                            break;
                        }
                        if self.start(d, &poster, &mut in_flight).await {
                            busy.insert(key);
                        }
                        recount_at.get_or_insert_with(recount_soon);
                    }
                }
                Err(e) => {
                    warn!(error = %e, "webhook deliveries: store unreadable");
                    next_due = Some(now.plus(STORE_RETRY));
                }
            }
            let wait = next_due.map_or(IDLE, |at| at.since(clock::now()).min(IDLE));
            tokio::select! {
                _ = self.stop.changed() => break,
                _ = self.wake.notified() => {
                    recount_at.get_or_insert_with(recount_soon);
                }
                Some(ended) = in_flight.join_next(), if !in_flight.is_empty() => {
                    if let Ok(ended) = ended {
                        busy.remove(&(ended.due.subscription.clone(), ended.due.event.clone()));
                        if !self.record(ended).await {
                            // Its row is still due: not again until the store takes writes.
                            tokio::time::sleep(STORE_RETRY).await;
                        }
                    }
                    recount_at.get_or_insert_with(recount_soon);
                }
                _ = tokio::time::sleep(wait) => {}
                _ = sleep_until(recount_at) => {
                    recount_at = None;
                    self.recount().await;
                }
            }
        }
        in_flight.shutdown().await;
        debug!("webhook worker stopped");
    }

    /// Starts an attempt at `due`; false if it was not started (its
    /// subscription is gone: it is dead-lettered).
    async fn start(&self, due: DueDelivery, poster: &Arc<Poster>, in_flight: &mut JoinSet<Ended>) -> bool {
        let subs = self.subscriptions.current();
        let Some(sub) = subs.get(&due.subscription).cloned() else {
            let outcome = self
                .durable
                .dead_letter_delivery(
                    &due.subscription,
                    &due.event,
                    due.attempts,
                    clock::now(),
                    "the subscription was removed",
                )
                .await;
            if let Err(e) = outcome {
                warn!(error = %e, "a removed subscription's delivery not dead-lettered");
            }
            return false;
        };
        let poster = poster.clone();
        in_flight.spawn(async move {
            let timestamp = clock::now().0 / 1000;
            let outcome = poster
                .post(&Attempt {
                    url: &sub.url,
                    ca: sub.ca.as_deref(),
                    secret: &sub.secret,
                    event: &due.event,
                    body: &due.body,
                    timestamp,
                })
                .await;
            Ended {
                attempts: due.attempts.saturating_add(1),
                due,
                outcome,
                expire_after: sub.expire_after(),
            }
        });
        true
    }

    /// Writes what an attempt came to; false if the store did not take it.
    async fn record(&self, ended: Ended) -> bool {
        let Ended {
            due,
            attempts,
            outcome,
            expire_after,
        } = ended;
        let now = clock::now();
        let (sub, event) = (due.subscription.as_str(), due.event.as_str());
        let written = match outcome {
            Ok(status) => {
                info!(subscription = sub, event, status, attempts, "webhook delivered");
                self.durable.delivered(sub, event, attempts, now).await
            }
            Err(error) => match after_failure(attempts, now, due.created, expire_after) {
                AfterFailure::RetryAt(next) => {
                    info!(subscription = sub, event, attempts, %error, retry_in_ms = next.0.saturating_sub(now.0), "webhook delivery failed");
                    self.durable.retry_delivery(sub, event, attempts, next, &error).await
                }
                AfterFailure::GiveUp => {
                    warn!(subscription = sub, event, attempts, %error, "webhook delivery expired: dead-lettered");
                    metrics::counter!("liandong_webhooks_dead_lettered_total").increment(1);
                    self.durable
                        .dead_letter_delivery(sub, event, attempts, now, &error)
                        .await
                }
            },
        };
        match written {
            Ok(()) => true,
            Err(e) => {
                // The row stays pending as it was: the attempt is made again.
                warn!(error = %e, subscription = sub, event, "webhook delivery outcome not stored");
                false
            }
        }
    }

    async fn recount(&self) {
        match self.durable.delivery_counts().await {
            Ok(rows) => {
                let mut counts = self.counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                *counts = rows.into_iter().collect();
            }
            Err(e) => warn!(error = %e, "webhook delivery counts not read"),
        }
    }
}

fn recount_soon() -> tokio::time::Instant {
    tokio::time::Instant::now() + RECOUNT_EVERY
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
