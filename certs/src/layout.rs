//! Where the federation's certificate files live on disk.
//!
//! ```text
//! DIR/
//!   ca.pem                       federation CA certificate (public)
//!   ca.key                       federation CA key (0600; keep this machine offline)
//!   revoked.toml                 revocation list, copied to every node
//!   nodes/<id>/node.pem          node certificate
//!   nodes/<id>/node.key          node key (0600)
//!   nodes/<id>/ca.pem            copy of the CA certificate: the directory is
//!                                everything a center's machine needs
//!   operators/<node-id>/<name>.pem, <name>.key (0600)
//!   admins/<name>.pem, <name>.key (0600)   federation admins (`certs issue-admin`):
//!                                they sign the federation document
//! ```
//!
//! Enrolled by request instead (`certs request` on the center's machine,
//! `certs sign` here), a center's directory holds `node.key` (made there,
//! never copied), `node.csr`, and once signed `node.pem` and `ca.pem`;
//! a renewed certificate's predecessor stays beside it as
//! `node.<serial hex>.pem`. People's files are named after them the same
//! way (`<name>.key`, `<name>.csr`, `<name>.pem`).

use std::path::{Path, PathBuf};

use liandong_topology::NodeId;

/// File name of the CA certificate.
pub const CA_CERT_FILE: &str = "ca.pem";
/// File name of the CA private key.
pub const CA_KEY_FILE: &str = "ca.key";
/// File name of the revocation list.
pub const REVOKED_FILE: &str = "revoked.toml";
/// File name of a node certificate inside its node directory.
pub const NODE_CERT_FILE: &str = "node.pem";
/// File name of a node key inside its node directory.
pub const NODE_KEY_FILE: &str = "node.key";

/// The paths of one federation's certificate directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaDir {
    root: PathBuf,
}

impl CaDir {
    /// A layout rooted at `root` (nothing is created).
    pub fn new(root: impl Into<PathBuf>) -> CaDir {
        CaDir { root: root.into() }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `DIR/ca.pem`.
    pub fn ca_cert(&self) -> PathBuf {
        self.root.join(CA_CERT_FILE)
    }

    /// `DIR/ca.key`.
    pub fn ca_key(&self) -> PathBuf {
        self.root.join(CA_KEY_FILE)
    }

    /// `DIR/revoked.toml`.
    pub fn revocations(&self) -> PathBuf {
        self.root.join(REVOKED_FILE)
    }

    /// `DIR/nodes/<id>`.
    pub fn node_dir(&self, id: &NodeId) -> PathBuf {
        self.root.join("nodes").join(id.as_str())
    }

    /// `DIR/nodes/<id>/node.pem`.
    pub fn node_cert(&self, id: &NodeId) -> PathBuf {
        self.node_dir(id).join(NODE_CERT_FILE)
    }

    /// `DIR/nodes/<id>/node.key`.
    pub fn node_key(&self, id: &NodeId) -> PathBuf {
        self.node_dir(id).join(NODE_KEY_FILE)
    }

    /// `DIR/nodes/<id>/ca.pem`.
    pub fn node_ca_copy(&self, id: &NodeId) -> PathBuf {
        self.node_dir(id).join(CA_CERT_FILE)
    }

    /// `DIR/operators/<node-id>`.
    pub fn operator_dir(&self, node: &NodeId) -> PathBuf {
        self.root.join("operators").join(node.as_str())
    }

    /// `DIR/operators/<node-id>/<name>.pem`. `name` must have passed
    /// [`validate_operator_name`](crate::validate_operator_name) (no '/').
    pub fn operator_cert(&self, node: &NodeId, name: &str) -> PathBuf {
        self.operator_dir(node).join(format!("{name}.pem"))
    }

    /// `DIR/operators/<node-id>/<name>.key`.
    pub fn operator_key(&self, node: &NodeId, name: &str) -> PathBuf {
        self.operator_dir(node).join(format!("{name}.key"))
    }

    /// `DIR/admins`.
    pub fn admin_dir(&self) -> PathBuf {
        self.root.join("admins")
    }

    /// `DIR/admins/<name>.pem`. `name` must have passed
    /// [`validate_name`](crate::validate_name) (no '/').
    pub fn admin_cert(&self, name: &str) -> PathBuf {
        self.admin_dir().join(format!("{name}.pem"))
    }

    /// `DIR/admins/<name>.key`.
    pub fn admin_key(&self, name: &str) -> PathBuf {
        self.admin_dir().join(format!("{name}.key"))
    }
}
