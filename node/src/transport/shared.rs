//! The state every task of one transport shares: the topology and this
//! node, the endpoint and its socket, the current link per peer, the
//! dial loops, the event channel to the driver, and the tasks. Here too
//! is how a peer goes up and down: at most one connection per peer is
//! current, and each peer's events alternate `Up`, `Down`, `Up`...
//!
//! The accept and dial paths (`peers`), the readers (`frames`) and the
//! redial loop (`redial`) are further `impl Shared` blocks in their own
//! files; they use this one, never the other way round.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use liandong_certs::{Usage, Verifier};
use liandong_dispatch::wire::Lane;
use liandong_topology::{LinkClass, NodeId, Topology};
use quinn::{ConnectionError, VarInt};
use rustls_pki_types::CertificateDer;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::close_code;
use super::event::LinkEvent;
use super::link::{LANE_QUEUE, LANES, Link, lock};
use super::pace::{Pacer, send_window};
use super::rate::RateCell;
use super::setup::Timing;
use super::writer::write_lane;

pub(super) struct Shared {
    /// The federation as this node knows it now, and the version before
    /// (see [`Shared::link_allowed`]).
    pub(super) topologies: Mutex<Topologies>,
    pub(super) me: NodeId,
    pub(super) verifier: Arc<Verifier>,
    pub(super) local_addr: SocketAddr,
    pub(super) timing: Timing,
    pub(super) client: Mutex<quinn::ClientConfig>,
    /// What each accepted connection's configuration is cloned from.
    pub(super) server: Mutex<quinn::ServerConfig>,
    pub(super) events: mpsc::Sender<LinkEvent>,
    pub(super) runtime: tokio::runtime::Handle,
    /// Taken at shutdown so the socket can be released.
    pub(super) endpoint: Mutex<Option<quinn::Endpoint>>,
    /// The UDP socket, to tell when quinn's tasks have let go of it.
    pub(super) socket: Weak<dyn quinn::AsyncUdpSocket>,
    /// Dial addresses that replace the topology's (read before each dial).
    pub(super) addresses: super::DialAddresses,
    /// The current connection per peer.
    pub(super) links: Mutex<HashMap<NodeId, Arc<Link>>>,
    /// Peers with a dial loop.
    pub(super) dialing: Mutex<HashSet<NodeId>>,
    /// Held while a peer goes up or down and its event is emitted, so the
    /// driver sees each peer's Up and Down in the order they happened.
    pub(super) order: tokio::sync::Mutex<()>,
    pub(super) next_gen: AtomicU64,
    pub(super) stop: watch::Sender<bool>,
    /// Bumped whenever `links` changes.
    pub(super) changes: watch::Sender<u64>,
    pub(super) tasks: Mutex<JoinSet<()>>,
}

/// The topology in force, and the one before it: a node that moved in
/// the newer one may still reach its old neighbours until it has heard.
pub(super) struct Topologies {
    pub(super) current: Arc<Topology>,
    pub(super) previous: Option<Arc<Topology>>,
}

impl Shared {
    /// The topology in force.
    pub(super) fn topology(&self) -> Arc<Topology> {
        lock(&self.topologies).current.clone()
    }

    pub(super) fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    pub(super) fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        if self.stopping() {
            return;
        }
        let mut tasks = lock(&self.tasks);
        // Reap finished tasks so the set does not grow with every connection.
        while tasks.try_join_next().is_some() {}
        tasks.spawn_on(task, &self.runtime);
    }

    /// How the link with `peer` is declared.
    pub(super) fn class_with(&self, peer: &NodeId) -> LinkClass {
        self.topology().link_class(&self.me, peer)
    }

    /// A dial's configuration: congestion control at the declared rate of
    /// the link with `peer`.
    pub(super) fn dial_config(&self, peer: &NodeId) -> quinn::ClientConfig {
        let rate = RateCell::default();
        let declared = self.class_with(peer).rate;
        rate.set(declared);
        let mut client = lock(&self.client).clone();
        client.transport_config(Arc::new(self.timing.quic_transport(&rate, declared.is_some())));
        client
    }

    /// An accepted connection's configuration and its rate cell, set once
    /// the peer's certificate says who it is. Its keep-alives are a
    /// declared link's if any level below this node declares its links
    /// (the peer is not known yet).
    pub(super) fn accept_config(&self) -> (Arc<quinn::ServerConfig>, RateCell) {
        let rate = RateCell::default();
        let topology = self.topology();
        let depth = topology.get(&self.me).map_or(0, |n| usize::from(n.level.depth()));
        let classes = &topology.link().classes;
        let declared = classes.iter().skip(depth + 1).any(|c| c.rate.is_some());
        let mut server = lock(&self.server).clone();
        server.transport_config(Arc::new(self.timing.quic_transport(&rate, declared)));
        (Arc::new(server), rate)
    }

    pub(super) fn is_connected(&self, peer: &NodeId) -> bool {
        lock(&self.links).contains_key(peer)
    }

    pub(super) async fn emit(&self, event: LinkEvent) {
        // A dropped receiver means the driver is gone: nothing to tell.
        let _ = self.events.send(event).await;
    }

    fn links_changed(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    pub(super) async fn report_refusal(&self, peer: Option<NodeId>, remote: SocketAddr, reason: String) {
        tracing::warn!(
            node = %self.me,
            peer = peer.as_ref().map_or("-", NodeId::as_str),
            %remote,
            %reason,
            "link refused"
        );
        self.emit(LinkEvent::Refused { peer, remote, reason }).await;
    }

    /// Makes `conn` the current connection with `peer`, replacing any other,
    /// starts its lane writers and reports Up. `None` if shutting down.
    pub(super) async fn go_up(
        self: &Arc<Self>,
        peer: NodeId,
        conn: quinn::Connection,
        usage: Usage,
        chain: Vec<CertificateDer<'static>>,
        open_control: bool,
    ) -> Option<Arc<Link>> {
        let _order = self.order.lock().await;
        if self.stopping() {
            conn.close(VarInt::from_u32(close_code::SHUTTING_DOWN), b"shutting down");
            return None;
        }
        let mut receivers = Vec::with_capacity(LANES.len());
        let lanes = std::array::from_fn(|_| {
            let (sender, receiver) = mpsc::channel(LANE_QUEUE);
            receivers.push(receiver);
            sender
        });
        let class = self.class_with(&peer);
        if let Some(rate) = class.rate {
            conn.set_send_window(send_window(rate));
        }
        let link = Arc::new(Link {
            generation: self.next_gen.fetch_add(1, Ordering::Relaxed),
            peer: peer.clone(),
            remote: conn.remote_address(),
            pacer: class.rate.map(|rate| Pacer::new(conn.clone(), rate)),
            conn,
            usage,
            chain,
            lanes,
            queued: Mutex::new(HashSet::new()),
            written: Default::default(),
            urgent_copies: class.urgent_copies,
            closing: Mutex::new(None),
            refused: std::sync::atomic::AtomicBool::new(false),
            budget: super::budget::Budget::new(),
        });
        for (lane, queue) in LANES.into_iter().zip(receivers) {
            let eager = open_control && lane == Lane::Control;
            self.spawn(write_lane(link.clone(), lane, queue, eager));
        }
        self.spawn(self.clone().read_datagrams(link.clone()));
        self.spawn(log_stats(link.clone()));
        let replaced = lock(&self.links).insert(peer.clone(), link.clone());
        if let Some(old) = replaced {
            let reason = "replaced by a new connection";
            old.close(close_code::REPLACED, reason);
            tracing::info!(node = %self.me, peer = %peer, remote = %old.remote, "{reason}");
            self.emit(LinkEvent::Down {
                peer: peer.clone(),
                reason: reason.to_owned(),
            })
            .await;
        }
        tracing::info!(node = %self.me, peer = %peer, remote = %link.remote, "link up");
        self.emit(LinkEvent::Up { peer }).await;
        self.links_changed();
        Some(link)
    }

    /// After `link`'s connection ended: reports this node's refusal of the
    /// peer if that is why, then Down if it was the current connection.
    pub(super) async fn go_down(&self, link: &Link, err: &ConnectionError) {
        let _order = self.order.lock().await;
        if let Some(reason) = link.refusal() {
            self.report_refusal(Some(link.peer.clone()), link.remote, reason).await;
        }
        let current = {
            let mut links = lock(&self.links);
            let current = links.get(&link.peer).is_some_and(|l| l.generation == link.generation);
            if current {
                links.remove(&link.peer);
            }
            current
        };
        if current {
            let reason = link.down_reason(err);
            tracing::info!(node = %self.me, peer = %link.peer, remote = %link.remote, %reason, "link down");
            self.emit(LinkEvent::Down {
                peer: link.peer.clone(),
                reason,
            })
            .await;
            self.links_changed();
        }
    }
}

/// Every 5 s while a link lives, its QUIC path figures at debug level
/// (`RUST_LOG=liandong_node::transport=debug`): what a thin link is doing.
async fn log_stats(link: Arc<Link>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = link.conn.closed() => return,
        }
        let s = link.conn.stats();
        let w = |i: usize| link.written[i].load(std::sync::atomic::Ordering::Relaxed);
        tracing::debug!(
            peer = %link.peer,
            rtt_ms = s.path.rtt.as_millis() as u64,
            cwnd = s.path.cwnd,
            sent = s.path.sent_packets,
            lost = s.path.lost_packets,
            congestion_events = s.path.congestion_events,
            udp_tx = s.udp_tx.bytes,
            udp_rx = s.udp_rx.bytes,
            datagrams_tx = s.frame_tx.datagram,
            datagrams_rx = s.frame_rx.datagram,
            acks_tx = s.frame_tx.acks,
            control = w(0),
            urgent = w(1),
            normal = w(2),
            bulk = w(3),
            "link stats"
        );
    }
}
