//! What operators, logs and metrics are told: each core [`Event`] becomes
//! a log line (in a span carrying the message id, so one message can be
//! followed through the logs of every node it passed), maybe a metric,
//! and a pushed control [`Notice`]; each committed batch and each link
//! updates the Prometheus metrics. Every metric carries the node's id as
//! its `node` label.
//!
//! Nothing here changes the core or decides anything: it reads the core
//! to fill notices in, after the batch that changed it is committed.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use liandong_control::proto::{Notice, Pushed};
use liandong_dispatch::{Core, Event, Lane, Record, Timestamp};
use liandong_topology::NodeId;
use tokio::sync::broadcast;
use tracing::{debug, info, info_span, warn};

use super::operators::order_view;
use crate::transport::SendError;

/// Where notices go and what labels metrics carry.
pub(super) struct Notices {
    /// Every subscriber of the control API (and `Node::subscribe`).
    pushed: broadcast::Sender<Pushed>,
    /// The node's id, the `node` label of every metric.
    labels: String,
    /// When link gauges were last set: at most once a second, not per turn
    /// (a busy center has hundreds of links and thousands of turns).
    links_observed: Option<Instant>,
}

impl Notices {
    pub fn new(pushed: broadcast::Sender<Pushed>, me: &NodeId) -> Notices {
        Notices {
            pushed,
            labels: me.to_string(),
            links_observed: None,
        }
    }

    /// Logs `event`, counts it if it is counted, and pushes its notice,
    /// filled in from the core.
    pub fn event(&mut self, event: Event, core: &Core, now: Timestamp) {
        // One span per message id, so a message can be followed in the
        // logs of every node it passed (JSON logs carry the span fields).
        let span = match &event {
            Event::IncidentRecorded { incident: id, .. }
            | Event::IncidentChanged { incident: id, .. }
            | Event::OrderReceived { order: id, .. }
            | Event::OrderProgress { order: id, .. }
            | Event::Forwarded { id, .. }
            | Event::DeadLettered { id, .. } => info_span!("message", id = %id),
            _ => tracing::Span::none(),
        };
        let _entered = span.enter();
        let labels = self.labels.clone();
        let notice = match event {
            Event::IncidentRecorded {
                incident,
                owner,
                severity,
                alert,
            } => {
                info!(%incident, %owner, %severity, alert, "incident recorded");
                let Some(i) = core.incident(incident).cloned() else {
                    return;
                };
                Notice::IncidentRecorded { incident: i, alert }
            }
            Event::IncidentChanged {
                incident,
                action,
                by,
                state,
                ..
            } => {
                info!(%incident, action, %by, state = state.name(), "incident changed");
                let Some(i) = core.incident(incident).cloned() else {
                    return;
                };
                Notice::IncidentChanged {
                    incident: i,
                    action: action.into(),
                    by,
                }
            }
            Event::OrderReceived { order, issuer } => {
                info!(%order, %issuer, "order received");
                if core.order(order).is_none() {
                    return;
                }
                Notice::OrderReceived {
                    order: order_view(core, order),
                }
            }
            Event::OrderProgress {
                order,
                target,
                state,
                roll_up,
            } => {
                info!(%order, %target, state = state.name(), %roll_up, "order progress");
                Notice::OrderProgress {
                    order,
                    target,
                    state,
                    roll_up,
                }
            }
            Event::Forwarded { id, to } => {
                debug!(%id, %to, "stored at the next hop");
                Notice::Forwarded { id, to }
            }
            Event::Supervised {
                item,
                stage,
                supervisor,
            } => {
                warn!(?item, ?stage, %supervisor, "deadline missed: supervised");
                metrics::counter!("liandong_sla_misses_total", "node" => labels, "stage" => format!("{stage:?}"))
                    .increment(1);
                Notice::Supervised {
                    item,
                    stage,
                    supervisor,
                }
            }
            Event::DeadLettered { id, stuck_at } => {
                warn!(%id, %stuck_at, "dead-lettered");
                Notice::DeadLettered { id, stuck_at }
            }
            Event::LinkChanged { peer, up } => {
                info!(%peer, up, "link state");
                // Link gauges follow a change at once, not at the next second.
                self.links_observed = None;
                Notice::LinkChanged { peer, up }
            }
            Event::FailedOver { parent, via } => {
                warn!(%parent, %via, "parent unreachable: failed over");
                Notice::FailedOver { parent, via }
            }
            Event::Duplicate { peer, id } => {
                // A retry after a lost hop ack, or a replay: acked, dropped.
                debug!(%peer, %id, "already held: a duplicate, acked and dropped");
                metrics::counter!("liandong_duplicates_total", "node" => labels).increment(1);
                return;
            }
            Event::Refused { peer, reason } => {
                warn!(%peer, %reason, "refused");
                metrics::counter!("liandong_refused_total", "node" => labels).increment(1);
                Notice::Refused { peer, reason }
            }
            Event::RoomChanged { room, seq, line } => {
                let (Some(r), Some(entry)) = (core.room(room), core.store().room_log.get(&(room, seq))) else {
                    return;
                };
                info!(%room, seq, line, "room event");
                Notice::RoomChanged {
                    room: r.clone(),
                    entry: entry.clone(),
                }
            }
            Event::RoomRefused { room, ask, reason } => {
                warn!(%room, %ask, %reason, "room ask refused");
                Notice::RoomRefused { room, ask, reason }
            }
            Event::DocumentApplied { version, previous } => {
                info!(version, previous = ?previous, "federation document applied");
                metrics::gauge!("liandong_document_version", "node" => labels).set(version as f64);
                Notice::DocumentApplied { version }
            }
            Event::SummaryReceived {
                child,
                period,
                version,
                late,
            } => {
                info!(%child, %period, version, late, "summary of figures received");
                Notice::Summary {
                    child,
                    period,
                    version,
                    late,
                }
            }
            Event::IndexAlarm {
                child,
                period,
                index,
                below,
            } => {
                warn!(%child, %period, index = index as f64 / 10.0, below, "safety index under the alarm line");
                metrics::counter!("liandong_index_alarms_total", "node" => labels).increment(1);
                Notice::IndexAlarm {
                    child,
                    period,
                    index,
                    below,
                }
            }
            Event::RemovedFromFederation { version } => {
                tracing::error!(
                    version,
                    "federation document version {version} does not name this node: it keeps its old topology, and its neighbours refuse it"
                );
                Notice::Refused {
                    peer: core.id().clone(),
                    reason: format!("this node is not in federation document version {version}"),
                }
            }
        };
        self.push(now, notice);
    }

    /// Pushes `notice` to every subscriber.
    pub fn push(&self, at: Timestamp, notice: Notice) {
        // No subscriber is fine: nobody is watching.
        let _ = self.pushed.send(Pushed { at, notice });
    }

    /// A connection the transport refused (or that refused this node).
    pub fn link_refused(&self, peer: Option<NodeId>, remote: SocketAddr, reason: String, me: &NodeId, now: Timestamp) {
        warn!(peer = ?peer.as_ref().map(|p| p.to_string()), %remote, %reason, "connection refused");
        metrics::counter!("liandong_refused_total", "node" => self.labels.clone()).increment(1);
        self.push(
            now,
            Notice::Refused {
                peer: peer.unwrap_or_else(|| me.clone()),
                reason: format!("{remote}: {reason}"),
            },
        );
    }

    /// A frame handed to the transport for `lane`.
    pub fn sent(&self, lane: Lane) {
        metrics::counter!("liandong_frames_sent_total", "node" => self.labels.clone(), "lane" => lane.name())
            .increment(1);
    }

    /// A frame the transport did not queue (the core keeps the copy and
    /// retries; nothing is lost).
    pub fn send_dropped(&self, peer: &NodeId, error: &SendError) {
        debug!(%peer, error = %error, "send not queued");
        metrics::counter!("liandong_sends_dropped_total", "node" => self.labels.clone()).increment(1);
    }

    /// A committed batch: how long the commit took, how many records, and
    /// what each stored envelope says about latency.
    pub fn committed(&self, records: &[Record], took: Duration) {
        metrics::histogram!("liandong_commit_seconds", "node" => self.labels.clone()).record(took.as_secs_f64());
        metrics::histogram!("liandong_commit_records", "node" => self.labels.clone()).record(records.len() as f64);
        self.observe_records(records);
    }

    /// Hop and delivery latency and a count per stored envelope.
    fn observe_records(&self, records: &[Record]) {
        for r in records {
            if let Record::Audit(entry) = r {
                // The audit chain holds it; the log shows it too when asked.
                debug!(what = %entry.what, "audit");
            }
            if let Record::Envelope(stored) = r {
                let kind = stored.envelope.kind().name();
                let n = stored.trace.len();
                if n >= 2 {
                    let hop = stored.trace[n - 1].at.since(stored.trace[n - 2].at);
                    let e2e = stored.trace[n - 1].at.since(stored.envelope.created);
                    metrics::histogram!("liandong_hop_latency_seconds", "node" => self.labels.clone(), "kind" => kind)
                        .record(hop.as_secs_f64());
                    metrics::histogram!("liandong_delivery_latency_seconds", "node" => self.labels.clone(), "kind" => kind)
                        .record(e2e.as_secs_f64());
                }
                debug!(id = %stored.envelope.id, kind, origin = %stored.envelope.origin, "stored");
                metrics::counter!("liandong_envelopes_stored_total", "node" => self.labels.clone(), "kind" => kind)
                    .increment(1);
            }
        }
    }

    /// Sets the per-link gauges (queue depth, up, round trip), at most
    /// once a second unless a link changed.
    pub fn observe_links(&mut self, core: &Core) {
        let now = Instant::now();
        if self
            .links_observed
            .is_some_and(|t| now.duration_since(t) < Duration::from_secs(1))
        {
            return;
        }
        self.links_observed = Some(now);
        for l in core.links() {
            let peer = l.peer.to_string();
            metrics::gauge!("liandong_queue_depth", "node" => self.labels.clone(), "peer" => peer.clone())
                .set(l.queued as f64);
            metrics::gauge!("liandong_link_up", "node" => self.labels.clone(), "peer" => peer.clone()).set(if l.up {
                1.0
            } else {
                0.0
            });
            if let Some(rtt) = l.rtt {
                metrics::gauge!("liandong_link_rtt_seconds", "node" => self.labels.clone(), "peer" => peer)
                    .set(rtt.as_secs_f64());
            }
        }
    }
}
