//! Keeping a dialed link: while there is no connection with the peer
//! (in either direction), dial it, and after each failure or loss wait
//! a backoff that starts at [`MIN_BACKOFF`] and doubles up to the
//! heartbeat interval, until shutdown, or until a federation document
//! makes the peer no longer an ancestor of this node. Each attempt dials
//! the address the transport's `DialAddresses` holds for the peer, if
//! any, else the one in the topology in force.

use std::net::SocketAddr;
use std::sync::Arc;

use liandong_topology::NodeId;
use tokio::sync::watch;

use super::link::lock;
use super::setup::MIN_BACKOFF;
use super::shared::Shared;

impl Shared {
    pub(super) async fn dial_loop(self: Arc<Self>, peer: NodeId, mut addr: SocketAddr) {
        let mut stop = self.stop.subscribe();
        let mut backoff = MIN_BACKOFF;
        loop {
            if !self.wait_disconnected(&peer, &mut stop).await {
                break;
            }
            // A federation document may have moved this node or the peer.
            if !self.dials(&peer) {
                tracing::info!(node = %self.me, peer = %peer, "stopped dialing node {peer}: no longer an ancestor of this node");
                break;
            }
            if let Some(node) = self.topology().get(&peer) {
                addr = node.listen;
            }
            let at = self.addresses.get(&peer).unwrap_or(addr);
            let dialed = tokio::select! {
                dialed = self.dial_once(&peer, at) => dialed,
                _ = stopped(&mut stop) => break,
            };
            if let Some(link) = dialed {
                backoff = MIN_BACKOFF;
                // Shutdown closes the connection too, so this always ends.
                let err = link.conn.closed().await;
                self.go_down(&link, &err).await;
            }
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                _ = stopped(&mut stop) => break,
            }
            backoff = (backoff * 2).min(self.timing.backoff_cap);
        }
        lock(&self.dialing).remove(&peer);
    }

    /// Waits until there is no connection with `peer`; false if stopping.
    async fn wait_disconnected(&self, peer: &NodeId, stop: &mut watch::Receiver<bool>) -> bool {
        let mut changes = self.changes.subscribe();
        loop {
            if *stop.borrow() {
                return false;
            }
            if !self.is_connected(peer) {
                return true;
            }
            tokio::select! {
                changed = changes.changed() => {
                    if changed.is_err() {
                        return false;
                    }
                }
                _ = stop.changed() => {}
            }
        }
    }
}

/// Resolves once the transport is stopping.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopping| *stopping).await;
}
