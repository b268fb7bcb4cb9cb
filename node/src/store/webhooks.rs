//! Webhook deliveries as the store keeps them (`webhook_deliveries`):
//! new rows go in with a turn's records, in the same transaction
//! ([`Durable::commit_with`]); the delivery worker reads the due ones
//! and writes back what each attempt did. The store only keeps them: what
//! an event is, when to retry and when to give up are the gateway's
//! (`gateway::webhooks`). Not part of the core's fold.

use liandong_dispatch::Timestamp;

use super::error::DbError;
use super::sql::{Arg, Dialect, Stmt};
use super::{Durable, StoreError};

/// A delivery row written with a turn's records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    /// The subscription's id.
    pub subscription: String,
    /// The event's id (the same for every subscription it goes to).
    pub event: String,
    /// incident, order, stage or supervision.
    pub kind: String,
    pub created: Timestamp,
    /// The JSON to send, the same bytes on every attempt.
    pub body: String,
}

/// A pending delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueDelivery {
    pub subscription: String,
    pub event: String,
    pub created: Timestamp,
    pub body: String,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the next attempt is due.
    pub next_at: Timestamp,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    Pending,
    Delivered,
    /// Given up at expiry (dead-lettered): kept, with its last error.
    Dead,
}

impl DeliveryState {
    pub fn name(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Dead => "dead",
        }
    }

    fn parse(s: &str) -> Option<DeliveryState> {
        [DeliveryState::Pending, DeliveryState::Delivered, DeliveryState::Dead]
            .into_iter()
            .find(|d| d.name() == s)
    }
}

/// How many deliveries of one subscription are in each state, and its
/// last error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryCounts {
    pub pending: u64,
    pub delivered: u64,
    pub dead: u64,
    /// The last error of its most recent failed attempt still on record.
    pub last_error: Option<String>,
}

/// The statements inserting `deliveries`: one (subscription, event) already
/// there is left as it is.
pub(super) fn statements(deliveries: &[NewDelivery], sql: Dialect) -> Vec<Stmt> {
    let rows: Vec<Vec<Arg>> = deliveries
        .iter()
        .map(|d| {
            let created = Arg::Int(ms(d.created));
            vec![
                Arg::Text(d.subscription.clone()),
                Arg::Text(d.event.clone()),
                Arg::Text(d.kind.clone()),
                created.clone(),
                Arg::Text(d.body.clone()),
                Arg::Text(DeliveryState::Pending.name().into()),
                Arg::Int(0),
                created,
            ]
        })
        .collect();
    let mut out = Vec::new();
    super::batch::chunked(&mut out, rows, |n| {
        format!(
            "INSERT INTO webhook_deliveries \
             (subscription, event, kind, created, body, state, attempts, next_at) VALUES {} \
             ON CONFLICT (subscription, event) DO NOTHING",
            sql.tuples(8, n)
        )
    });
    out
}

fn ms(t: Timestamp) -> i64 {
    t.0.min(i64::MAX as u64) as i64
}

impl Durable {
    fn deliveries_error<E: Into<DbError>>(&self, doing: &str) -> impl FnOnce(E) -> StoreError + '_ {
        let doing = format!("{doing} (webhook deliveries)");
        move |e| StoreError::from_db(e, &self.inner.place, doing)
    }

    async fn write_deliveries(&self, doing: &str, statements: Vec<Stmt>) -> Result<(), StoreError> {
        self.inner
            .backend
            .write(statements)
            .await
            .map_err(self.deliveries_error(doing))
    }

    /// The first `limit` pending deliveries, the soonest due first.
    pub async fn pending_deliveries(&self, limit: u32) -> Result<Vec<DueDelivery>, StoreError> {
        let rows: Vec<(String, String, i64, String, i64, i64)> = self
            .inner
            .backend
            .fetch(
                "SELECT subscription, event, created, body, attempts, next_at FROM webhook_deliveries \
                 WHERE state = 'pending' ORDER BY next_at LIMIT $1",
                &[Arg::Int(i64::from(limit))],
            )
            .await
            .map_err(self.deliveries_error("reading the pending ones"))?;
        Ok(rows
            .into_iter()
            .map(|(subscription, event, created, body, attempts, next_at)| DueDelivery {
                subscription,
                event,
                created: Timestamp(created.max(0) as u64),
                body,
                attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                next_at: Timestamp(next_at.max(0) as u64),
            })
            .collect())
    }

    /// Delivery `event` to `subscription` was accepted (a 2xx) at `at`,
    /// after `attempts` attempts in all.
    pub async fn delivered(
        &self,
        subscription: &str,
        event: &str,
        attempts: u32,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        self.finish(subscription, event, DeliveryState::Delivered, attempts, at, None)
            .await
    }

    /// Delivery `event` to `subscription` failed with `error`; it is tried
    /// again at `next`.
    pub async fn retry_delivery(
        &self,
        subscription: &str,
        event: &str,
        attempts: u32,
        next: Timestamp,
        error: &str,
    ) -> Result<(), StoreError> {
        let stmt = Stmt {
            sql: "UPDATE webhook_deliveries SET attempts = $1, next_at = $2, last_error = $3 \
                  WHERE subscription = $4 AND event = $5 AND state = 'pending'"
                .into(),
            args: vec![
                Arg::Int(i64::from(attempts)),
                Arg::Int(ms(next)),
                Arg::Text(error.to_owned()),
                Arg::Text(subscription.to_owned()),
                Arg::Text(event.to_owned()),
            ],
        };
        self.write_deliveries("recording a failed attempt", vec![stmt]).await
    }

    /// Delivery `event` to `subscription` is given up at `at` (expired, or
    /// its subscription was removed): dead-lettered, kept with `error`.
    pub async fn dead_letter_delivery(
        &self,
        subscription: &str,
        event: &str,
        attempts: u32,
        at: Timestamp,
        error: &str,
    ) -> Result<(), StoreError> {
        self.finish(subscription, event, DeliveryState::Dead, attempts, at, Some(error))
            .await
    }

    async fn finish(
        &self,
        subscription: &str,
        event: &str,
        state: DeliveryState,
        attempts: u32,
        at: Timestamp,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        // The last error stays as the failed attempts left it unless one is given.
        let (error_set, error_arg) = match error {
            Some(e) => (", last_error = $6", vec![Arg::Text(e.to_owned())]),
            None => ("", Vec::new()),
        };
        let mut args = vec![
            Arg::Text(state.name().into()),
            Arg::Int(i64::from(attempts)),
            Arg::Int(ms(at)),
            Arg::Text(subscription.to_owned()),
            Arg::Text(event.to_owned()),
        ];
        args.extend(error_arg);
        let stmt = Stmt {
            sql: format!(
                "UPDATE webhook_deliveries SET state = $1, attempts = $2, finished = $3{error_set} \
                 WHERE subscription = $4 AND event = $5 AND state = 'pending'"
            ),
            args,
        };
        self.write_deliveries("recording a delivery's end", vec![stmt]).await
    }

    /// Per subscription, how many deliveries are in each state, and the
    /// last error on record.
    pub async fn delivery_counts(&self) -> Result<Vec<(String, DeliveryCounts)>, StoreError> {
        let rows: Vec<(String, String, i64)> = self
            .inner
            .backend
            .fetch(
                "SELECT subscription, state, COUNT(*) FROM webhook_deliveries GROUP BY subscription, state \
                 ORDER BY subscription",
                &[],
            )
            .await
            .map_err(self.deliveries_error("counting"))?;
        let mut out: Vec<(String, DeliveryCounts)> = Vec::new();
        for (subscription, state, n) in rows {
            if out.last().is_none_or(|(s, _)| *s != subscription) {
                out.push((subscription, DeliveryCounts::default()));
            }
            let Some((_, counts)) = out.last_mut() else { continue };
            let n = n.max(0) as u64;
            match DeliveryState::parse(&state) {
                Some(DeliveryState::Pending) => counts.pending += n,
                Some(DeliveryState::Delivered) => counts.delivered += n,
                Some(DeliveryState::Dead) => counts.dead += n,
                None => {}
            }
        }
        let errors: Vec<(String, String)> = self
            .inner
            .backend
            .fetch(
                "SELECT d.subscription, d.last_error FROM webhook_deliveries d \
                 WHERE d.last_error IS NOT NULL AND d.state <> 'delivered' AND d.created = \
                 (SELECT MAX(e.created) FROM webhook_deliveries e \
                  WHERE e.subscription = d.subscription AND e.last_error IS NOT NULL AND e.state <> 'delivered')",
                &[],
            )
            .await
            .map_err(self.deliveries_error("reading the last errors"))?;
        for (subscription, error) in errors {
            if let Some((_, counts)) = out.iter_mut().find(|(s, _)| *s == subscription) {
                counts.last_error = Some(error);
            }
        }
        Ok(out)
    }

    /// Forgets deliveries delivered or dead-lettered before `before`.
    pub async fn prune_deliveries(&self, before: Timestamp) -> Result<(), StoreError> {
        let stmt = Stmt {
            sql: "DELETE FROM webhook_deliveries WHERE state <> 'pending' AND finished < $1".into(),
            args: vec![Arg::Int(ms(before))],
        };
        self.write_deliveries("forgetting old ones", vec![stmt]).await
    }

    /// Every delivery row of `subscription`: (event, state, attempts), for
    /// tests and drills.
    pub async fn deliveries_of(&self, subscription: &str) -> Result<Vec<(String, DeliveryState, u32)>, StoreError> {
        let rows: Vec<(String, String, i64)> = self
            .inner
            .backend
            .fetch(
                "SELECT event, state, attempts FROM webhook_deliveries WHERE subscription = $1 ORDER BY created, event",
                &[Arg::Text(subscription.to_owned())],
            )
            .await
            .map_err(self.deliveries_error("listing"))?;
        Ok(rows
            .into_iter()
            .filter_map(|(event, state, attempts)| {
                let state = DeliveryState::parse(&state)?;
                Some((event, state, u32::try_from(attempts).unwrap_or(u32::MAX)))
            })
            .collect())
    }
}
