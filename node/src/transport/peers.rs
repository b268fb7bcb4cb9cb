//! Who is accepted: connections accepted and dialed, and the checks on
//! the peer's identity before any frame is read. The TLS layer refuses
//! foreign-CA, expired and revoked certificates and a server that is not
//! the node dialed; then the peer's certificate must name a node (not an
//! operator), in the topology, that is an ancestor or a descendant of
//! this node. A dialer counts a peer as accepting it only once the
//! peer's first stream arrives.

use std::net::SocketAddr;
use std::sync::Arc;

use liandong_certs::tls::peer_identity_of;
use liandong_certs::{Identity, Usage, server_name_for};
use liandong_topology::NodeId;
use quinn::{ConnectionError, VarInt};
use rustls_pki_types::CertificateDer;

use super::close_code;
use super::failure::{Failure, classify};
use super::frames::{StreamStart, first_stream};
use super::link::{Link, lock};
use super::shared::Shared;
use liandong_topology::Topology;

/// A refusal of a peer: who (if known) and why.
struct Refusal {
    peer: Option<NodeId>,
    reason: String,
}

impl Shared {
    /// The link rule: `peer` must be in the topology in force, not this
    /// node, and an ancestor or a descendant of this node in it, or in the
    /// version before (a node that moved in the newer federation document
    /// still reaches its old parent until it has heard of its move; a
    /// node removed from the document is refused at once).
    pub(super) fn link_allowed(&self, peer: &NodeId) -> Result<(), String> {
        let (current, previous) = {
            let t = lock(&self.topologies);
            (t.current.clone(), t.previous.clone())
        };
        if current.get(peer).is_none() {
            return Err(format!("unknown node {peer} (not in the topology)"));
        }
        if *peer == self.me {
            return Err(format!(
                "node {peer} is this node itself (is this node's certificate on another machine?)"
            ));
        }
        let related = |t: &Topology| t.is_ancestor(peer, &self.me) || t.is_ancestor(&self.me, peer);
        if related(&current) || previous.as_deref().is_some_and(related) {
            Ok(())
        } else {
            Err(format!(
                "node {peer} may not link with node {}: it is neither an ancestor nor a descendant of it",
                self.me
            ))
        }
    }

    /// Whether this node keeps dialing `peer`: an ancestor in the topology
    /// in force (the parent, or one further up during failover).
    pub(super) fn dials(&self, peer: &NodeId) -> bool {
        self.topology().is_ancestor(peer, &self.me)
    }

    /// Who the peer of an established connection is, and whether it may link.
    fn check_peer(&self, chain: &[CertificateDer<'_>]) -> Result<NodeId, Refusal> {
        let identity = peer_identity_of(chain).map_err(|e| Refusal {
            peer: None,
            reason: format!("the peer's certificate names no identity: {e}"),
        })?;
        let id = match identity {
            Identity::Node(id) => id,
            operator @ Identity::Operator { .. } => {
                return Err(Refusal {
                    peer: None,
                    reason: format!(
                        "{operator} presented an operator certificate on the node port: operator certificates belong on the control port"
                    ),
                });
            }
            admin @ Identity::Admin { .. } => {
                return Err(Refusal {
                    peer: None,
                    reason: format!(
                        "{admin} presented an admin certificate on the node port: admin certificates only sign the federation document"
                    ),
                });
            }
        };
        match self.link_allowed(&id) {
            Ok(()) => Ok(id),
            Err(reason) => Err(Refusal { peer: Some(id), reason }),
        }
    }

    /// Closes `conn` with `code` and `reason` and reports the refusal.
    async fn refuse(&self, conn: &quinn::Connection, peer: Option<NodeId>, code: u32, reason: String) {
        conn.close(VarInt::from_u32(code), reason.as_bytes());
        self.report_refusal(peer, conn.remote_address(), reason).await;
    }

    pub(super) async fn accept_loop(self: Arc<Self>, endpoint: quinn::Endpoint) {
        while let Some(incoming) = endpoint.accept().await {
            if self.stopping() {
                incoming.refuse();
                continue;
            }
            let shared = self.clone();
            self.spawn(shared.accept_one(incoming));
        }
    }

    /// Handshake, identity checks, Up, then the connection's life.
    async fn accept_one(self: Arc<Self>, incoming: quinn::Incoming) {
        let remote = incoming.remote_address();
        let (config, rate) = self.accept_config();
        let connecting = match incoming.accept_with(config) {
            Ok(connecting) => connecting,
            Err(e) => {
                tracing::debug!(node = %self.me, %remote, "incoming connection not accepted: {e}");
                return;
            }
        };
        let conn = match connecting.await {
            Ok(conn) => conn,
            Err(e) => {
                match classify(&e) {
                    Failure::Refused(reason) => self.report_refusal(None, remote, reason).await,
                    Failure::RefusedByPeer(reason) => {
                        tracing::warn!(node = %self.me, %remote, %reason, "a dialing peer refused this node");
                    }
                    Failure::Lost(reason) => {
                        tracing::debug!(node = %self.me, %remote, %reason, "incoming handshake failed");
                    }
                }
                return;
            }
        };
        let chain = peer_chain(&conn);
        let peer = match self.check_peer(&chain) {
            Ok(peer) => peer,
            Err(Refusal { peer, reason }) => {
                self.refuse(&conn, peer, close_code::REFUSED, reason).await;
                return;
            }
        };
        rate.set(self.class_with(&peer).rate);
        let Some(link) = self.go_up(peer, conn, Usage::Client, chain, true).await else {
            return;
        };
        self.spawn(self.clone().accept_streams(link.clone()));
        let err = link.conn.closed().await;
        self.go_down(&link, &err).await;
    }

    /// One connection attempt to `peer`: handshake, identity check, wait for
    /// the peer's acceptance, Up. Failures are reported here.
    pub(super) async fn dial_once(self: &Arc<Self>, peer: &NodeId, addr: SocketAddr) -> Option<Arc<Link>> {
        let endpoint = lock(&self.endpoint).clone()?;
        let server_name = server_name_for(peer).to_str().into_owned();
        let connecting = match endpoint.connect_with(self.dial_config(peer), addr, &server_name) {
            Ok(connecting) => connecting,
            Err(e) => {
                tracing::warn!(node = %self.me, peer = %peer, remote = %addr, "cannot dial: {e}");
                return None;
            }
        };
        drop(endpoint);
        let conn = match connecting.await {
            Ok(conn) => conn,
            Err(e) => {
                self.dial_failed(peer, addr, &e).await;
                return None;
            }
        };
        let chain = peer_chain(&conn);
        match self.check_peer(&chain) {
            Ok(id) if id == *peer => {}
            Ok(id) => {
                let reason = format!("dialed node {peer} but node {id} answered");
                self.refuse(&conn, Some(id), close_code::REFUSED, reason).await;
                return None;
            }
            Err(Refusal { peer: who, reason }) => {
                self.refuse(&conn, who.or_else(|| Some(peer.clone())), close_code::REFUSED, reason)
                    .await;
                return None;
            }
        }
        // The peer accepts us by opening its first stream.
        let first = match tokio::time::timeout(self.timing.idle, first_stream(&conn)).await {
            Ok(Ok(first)) => first,
            Ok(Err(StreamStart::Closed(e))) => {
                self.dial_failed(peer, addr, &e).await;
                return None;
            }
            Ok(Err(StreamStart::Violation(reason))) => {
                self.refuse(&conn, Some(peer.clone()), close_code::PROTOCOL, reason)
                    .await;
                return None;
            }
            Ok(Err(StreamStart::Ended)) | Err(_) => {
                let reason = format!("node {peer} did not accept this node within {:?}", self.timing.idle);
                conn.close(VarInt::from_u32(close_code::PROTOCOL), reason.as_bytes());
                tracing::warn!(node = %self.me, peer = %peer, remote = %addr, "{reason}");
                return None;
            }
        };
        let link = self.go_up(peer.clone(), conn, Usage::Server, chain, false).await?;
        let (recv, lane, deflated) = first;
        if deflated {
            self.spawn(self.clone().read_deflated(link.clone(), recv, lane));
        } else {
            self.spawn(self.clone().read_stream(link.clone(), recv, lane));
        }
        self.spawn(self.clone().accept_streams(link.clone()));
        Some(link)
    }

    async fn dial_failed(&self, peer: &NodeId, addr: SocketAddr, err: &ConnectionError) {
        match classify(err) {
            Failure::Refused(reason) => self.report_refusal(Some(peer.clone()), addr, reason).await,
            Failure::RefusedByPeer(reason) => {
                let reason = format!("node {peer} refused this node: {reason}");
                self.report_refusal(Some(peer.clone()), addr, reason).await;
            }
            Failure::Lost(reason) => {
                tracing::debug!(node = %self.me, peer = %peer, remote = %addr, %reason, "dial failed");
            }
        }
    }
}

/// The peer's certificate chain as the TLS layer verified it.
fn peer_chain(conn: &quinn::Connection) -> Vec<CertificateDer<'static>> {
    conn.peer_identity()
        .and_then(|any| any.downcast::<Vec<CertificateDer<'static>>>().ok())
        .map(|chain| *chain)
        .unwrap_or_default()
}
