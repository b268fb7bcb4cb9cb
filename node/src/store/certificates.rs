//! Certificates of other nodes this node has learned: from a link's TLS
//! handshake, or from a neighbour it asked for the key of a distant
//! origin. The caller checks each against the CA before it keeps it; the
//! store only keeps them, by node and serial, and gives them back newest
//! first. Not part of the core's fold: learning a certificate is not a
//! protocol step, and a node that lost them asks again.

use liandong_dispatch::Timestamp;
use liandong_topology::NodeId;

use super::sql::{Arg, Stmt};
use super::{Durable, StoreError};

/// Most certificates kept per node (a node renews every year or two; the
/// oldest beyond this are not returned).
pub const CERTIFICATES_PER_NODE: usize = 8;

impl Durable {
    /// Keeps `certificates` (serial, DER) of `node`, learned at `at`; one
    /// already kept stays as it was.
    pub async fn keep_certificates(
        &self,
        node: &NodeId,
        certificates: &[(Vec<u8>, Vec<u8>)],
        at: Timestamp,
    ) -> Result<(), StoreError> {
        let statements: Vec<Stmt> = certificates
            .iter()
            .map(|(serial, der)| Stmt {
                sql: "INSERT INTO certificates (node, serial, learned, der) VALUES ($1, $2, $3, $4) \
                      ON CONFLICT (node, serial) DO NOTHING"
                    .into(),
                args: vec![
                    Arg::Text(node.to_string()),
                    Arg::Bytes(serial.clone()),
                    Arg::Int(at.0 as i64),
                    Arg::Bytes(der.clone()),
                ],
            })
            .collect();
        self.inner
            .backend
            .write(statements)
            .await
            .map_err(|e| StoreError::from_db(e, &self.inner.place, format!("keeping certificates of {node}")))
    }

    /// Every certificate kept here: (node, DER), newest first per node.
    pub async fn all_certificates(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.inner
            .backend
            .fetch(
                "SELECT node, der FROM certificates ORDER BY node, learned DESC, serial DESC",
                &[],
            )
            .await
            .map_err(|e| StoreError::from_db(e, &self.inner.place, "reading the certificates kept"))
    }

    /// The certificates of `node` kept here (DER), newest first, at most
    /// [`CERTIFICATES_PER_NODE`].
    pub async fn certificates(&self, node: &NodeId) -> Result<Vec<Vec<u8>>, StoreError> {
        let rows: Vec<(Vec<u8>,)> = self
            .inner
            .backend
            .fetch(
                "SELECT der FROM certificates WHERE node = $1 ORDER BY learned DESC, serial DESC LIMIT $2",
                &[Arg::Text(node.to_string()), Arg::Int(CERTIFICATES_PER_NODE as i64)],
            )
            .await
            .map_err(|e| StoreError::from_db(e, &self.inner.place, format!("reading certificates of {node}")))?;
        Ok(rows.into_iter().map(|(der,)| der).collect())
    }
}
