//! When things arrive: one subscription per watched center, each pushed
//! "recorded" (an incident stored there) and "order received" notice
//! timed on the harness's clock as it comes in, and links seen going down. A lagged subscription
//! (the node dropped notices for a slow reader) is marked, and the run
//! falls back to asking the node for what it still waits on.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use liandong_control::proto::{Notice, Response};
use liandong_dispatch::wire::EnvelopeId;
use liandong_topology::NodeId;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::federation::Federation;

/// Arrivals: (center, envelope) and when the harness heard of it.
#[derive(Default)]
pub(crate) struct Arrivals {
    seen: Mutex<HashMap<(NodeId, EnvelopeId), Instant>>,
    /// Links seen going down: (center, peer) and when.
    downs: Mutex<HashMap<(NodeId, NodeId), Instant>>,
    /// Some subscription lost notices: absent is not proof of not there.
    lagged: Mutex<bool>,
    pub(crate) changed: Notify,
}

impl Arrivals {
    pub(crate) fn at(&self, center: &NodeId, id: EnvelopeId) -> Option<Instant> {
        self.lock().get(&(center.clone(), id)).copied()
    }

    /// Records an arrival found another way (asked of the node), at `when`.
    pub(crate) fn record(&self, center: &NodeId, id: EnvelopeId, when: Instant) {
        self.lock().entry((center.clone(), id)).or_insert(when);
        self.changed.notify_waiters();
    }

    /// When `center` last saw its link to `peer` go down.
    pub(crate) fn down_at(&self, center: &NodeId, peer: &NodeId) -> Option<Instant> {
        let downs = self.downs.lock().unwrap_or_else(PoisonError::into_inner);
        downs.get(&(center.clone(), peer.clone())).copied()
    }

    pub(crate) fn lagged(&self) -> bool {
        *self.lagged.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(NodeId, EnvelopeId), Instant>> {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Subscribes at each of `centers` and records what arrives there until
/// the returned tasks are aborted.
pub(crate) async fn watch(
    fed: &Federation,
    centers: &[NodeId],
    arrivals: &Arc<Arrivals>,
) -> anyhow::Result<Vec<JoinHandle<()>>> {
    let mut tasks = Vec::new();
    for c in centers {
        let client = fed.client(c).await?;
        let mut sub = client.subscribe().await?;
        let arrivals = arrivals.clone();
        let center = c.clone();
        tasks.push(tokio::spawn(async move {
            // The client must live as long as its subscription.
            let _client = client;
            while let Some(Ok(r)) = sub.next().await {
                let Response::Pushed(p) = r else { continue };
                let id = match p.notice {
                    Notice::IncidentRecorded { incident, .. } => incident.id,
                    Notice::OrderReceived { order } => order.order.id,
                    Notice::LinkChanged { peer, up: false } => {
                        let mut downs = arrivals.downs.lock().unwrap_or_else(PoisonError::into_inner);
                        downs.insert((center.clone(), peer), Instant::now());
                        drop(downs);
                        arrivals.changed.notify_waiters();
                        continue;
                    }
                    Notice::Lagged { .. } => {
                        *arrivals.lagged.lock().unwrap_or_else(PoisonError::into_inner) = true;
                        arrivals.changed.notify_waiters();
                        continue;
                    }
                    _ => continue,
                };
                arrivals.record(&center, id, Instant::now());
            }
        }));
    }
    Ok(tasks)
}
