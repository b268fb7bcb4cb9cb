//! Where to dial a peer when not at its topology address: the node's
//! config file names its parent's address (`parent = "IP:PORT"`), and a
//! reload may change it while the node runs. The redial loop asks here
//! before every attempt, so a change takes effect at the next dial; a
//! live connection is left alone.
//!
//! Nothing here dials or checks who answers: the peer's certificate is
//! checked against the id dialed, whatever the address.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use liandong_topology::NodeId;

use super::link::lock;

/// Dial addresses that replace the topology's, per peer. Cheap to clone:
/// clones share one table.
#[derive(Debug, Clone, Default)]
pub struct DialAddresses {
    table: Arc<Mutex<HashMap<NodeId, SocketAddr>>>,
}

impl DialAddresses {
    /// Dials `peer` at `addr` from the next attempt on; `None` goes back to
    /// its topology address. Returns the address it replaced, if any.
    pub fn set(&self, peer: &NodeId, addr: Option<SocketAddr>) -> Option<SocketAddr> {
        let mut table = lock(&self.table);
        match addr {
            Some(addr) => table.insert(peer.clone(), addr),
            None => table.remove(peer),
        }
    }

    /// The address that replaces `peer`'s topology address, if one does.
    pub fn get(&self, peer: &NodeId) -> Option<SocketAddr> {
        lock(&self.table).get(peer).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_replaces_the_topology_one_until_unset() {
        let book = DialAddresses::default();
        let city = NodeId::parse("350100").unwrap();
        let other = NodeId::parse("350102").unwrap();
        let first: SocketAddr = "127.0.0.1:7100".parse().unwrap();
        let second: SocketAddr = "127.0.0.2:7100".parse().unwrap();
        assert_eq!(book.set(&city, Some(first)), None);
        let shared = book.clone();
        assert_eq!(shared.set(&city, Some(second)), Some(first));
        assert_eq!(book.get(&city), Some(second), "clones share the table");
        assert_eq!(book.get(&other), None);
        assert_eq!(book.set(&city, None), Some(second));
        assert_eq!(book.get(&city), None);
    }
}
