//! Who a certificate (or a certificate request) speaks for, read from its
//! `liandong://` URI SANs.
//!
//! A node certificate carries exactly one `liandong://node/<id>`. An operator
//! certificate carries `liandong://operator/<node-id>/<name>` plus
//! `liandong://role/<operator|leader>`. A federation admin's certificate
//! carries `liandong://admin/<name>`: it signs the federation document and
//! never identifies a peer on a connection. SAN URIs are IA5 (ASCII)
//! strings, so a person's name is percent-encoded as UTF-8 (`张伟` becomes
//! `%E5%BC%A0%E4%BC%9F`) and decoded when read back. SANs with other schemes
//! (and DNS names) are ignored here; they never confer an identity.

use std::fmt;
use std::str::FromStr;

use liandong_topology::{IdError, NodeId};
use rustls_pki_types::{DnsName, ServerName};
use serde::{Deserialize, Serialize};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;

/// Prefix of every identity-bearing SAN URI.
pub const SCHEME_PREFIX: &str = "liandong://";
/// DNS suffix of the TLS server name used to dial a node: `<id>.node.liandong`.
pub const SERVER_NAME_SUFFIX: &str = ".node.liandong";
/// Most characters a person's name (operator or admin) may have.
pub const MAX_NAME_CHARS: usize = 64;
/// The former name of [`MAX_NAME_CHARS`], from when only operators had names.
pub const MAX_OPERATOR_NAME_CHARS: usize = MAX_NAME_CHARS;

/// What an operator certificate allows its holder to do at its node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Works incidents and orders at the node.
    Operator,
    /// May also open and decide in coordination rooms.
    Leader,
}

impl Role {
    /// The lowercase word used in SANs, files and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Leader => "leader",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A word that is not a [`Role`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}: expected \"operator\" or \"leader\"")]
pub struct RoleError(pub String);

impl FromStr for Role {
    type Err = RoleError;
    fn from_str(s: &str) -> Result<Role, RoleError> {
        match s {
            "operator" => Ok(Role::Operator),
            "leader" => Ok(Role::Leader),
            other => Err(RoleError(other.to_owned())),
        }
    }
}

/// The identity a certificate carries.
///
/// Serialized (serde) as `{ node = "350102" }`,
/// `{ operator = { node = "350102", name = "张伟", role = "leader" } }` or
/// `{ admin = { name = "陈静" } }`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Identity {
    /// A center's node (`liandong://node/<id>`).
    Node(NodeId),
    /// A person working at a node (`liandong://operator/<node>/<name>` + role).
    Operator {
        /// The node the operator works at.
        node: NodeId,
        /// The operator's name as people write it (UTF-8, e.g. 张伟).
        name: String,
        /// What the operator may do.
        role: Role,
    },
    /// A federation admin (`liandong://admin/<name>`): signs the federation
    /// document. Never a peer: nodes refuse this certificate on every port.
    Admin {
        /// The admin's name as people write it (UTF-8).
        name: String,
    },
}

impl Identity {
    /// The node this identity belongs to (itself, or the operator's node);
    /// none for a federation admin, who belongs to the whole federation.
    pub fn node(&self) -> Option<&NodeId> {
        match self {
            Identity::Node(id) => Some(id),
            Identity::Operator { node, .. } => Some(node),
            Identity::Admin { .. } => None,
        }
    }

    /// The stem of this identity's file names: `node` for a node
    /// (`node.key`, `node.csr`, `node.pem`), the person's name otherwise
    /// (`张伟.key`...). Names never contain '/' (see [`validate_name`]).
    pub fn file_stem(&self) -> &str {
        match self {
            Identity::Node(_) => "node",
            Identity::Operator { name, .. } | Identity::Admin { name } => name,
        }
    }

    /// The SAN URIs that encode this identity, in the order they are written.
    pub fn uris(&self) -> Vec<String> {
        match self {
            Identity::Node(id) => vec![node_uri(id)],
            Identity::Operator { node, name, role } => {
                vec![
                    format!("{SCHEME_PREFIX}operator/{node}/{}", percent_encode(name)),
                    role_uri(*role),
                ]
            }
            Identity::Admin { name } => vec![admin_uri(name)],
        }
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Identity::Node(id) => write!(f, "node {id}"),
            Identity::Operator { node, name, role } => write!(f, "{role} {name} at node {node}"),
            Identity::Admin { name } => write!(f, "federation admin {name}"),
        }
    }
}

/// `liandong://node/<id>`.
pub fn node_uri(id: &NodeId) -> String {
    format!("{SCHEME_PREFIX}node/{id}")
}

/// `liandong://admin/<percent-encoded name>`.
pub fn admin_uri(name: &str) -> String {
    format!("{SCHEME_PREFIX}admin/{}", percent_encode(name))
}

fn role_uri(role: Role) -> String {
    format!("{SCHEME_PREFIX}role/{role}")
}

/// Why a person's name (an operator's or an admin's) cannot go into a
/// certificate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name is empty.
    #[error("the name is empty")]
    Empty,
    /// More than [`MAX_NAME_CHARS`] characters.
    #[error("the name {name:?} has {chars} characters; at most {MAX_NAME_CHARS} are allowed")]
    TooLong {
        /// The name given.
        name: String,
        /// Its length in characters.
        chars: usize,
    },
    /// Contains '/', which would split the SAN path and the file path.
    #[error("the name {0:?} contains '/'")]
    Slash(String),
    /// Contains a control character (newline, tab, NUL...).
    #[error("the name {0:?} contains a control character")]
    Control(String),
    /// Starts or ends with whitespace, almost always a typing accident.
    #[error("the name {0:?} starts or ends with whitespace")]
    Whitespace(String),
}

/// The former name of [`NameError`], from when only operators had names.
pub type OperatorNameError = NameError;

/// Checks a person's name, an operator's or an admin's: 1 to 64 characters,
/// no '/' (the name is also a file name), no control characters, no
/// surrounding whitespace. Any script is fine (张伟, Zhang Wei).
pub fn validate_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    let chars = name.chars().count();
    if chars > MAX_NAME_CHARS {
        return Err(NameError::TooLong {
            name: name.to_owned(),
            chars,
        });
    }
    if name.contains('/') {
        return Err(NameError::Slash(name.to_owned()));
    }
    if name.chars().any(char::is_control) {
        return Err(NameError::Control(name.to_owned()));
    }
    if name.trim() != name {
        return Err(NameError::Whitespace(name.to_owned()));
    }
    Ok(())
}

/// Checks an operator name: the rules of [`validate_name`].
pub fn validate_operator_name(name: &str) -> Result<(), NameError> {
    validate_name(name)
}

/// Why no identity could be read from a certificate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// The peer presented no certificate at all.
    #[error("no certificate was presented")]
    NoCertificate,
    /// The bytes are not an X.509 certificate, or its SAN extension is broken.
    #[error("certificate cannot be parsed: {0}")]
    BadCertificate(String),
    /// No `liandong://` URI SAN.
    #[error("certificate carries no liandong:// identity (no liandong:// URI in its subject alternative names)")]
    NoIdentity,
    /// A `liandong://` URI that does not follow the scheme.
    #[error("malformed identity URI {uri:?}: {reason}")]
    MalformedUri {
        /// The URI as found.
        uri: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The node id inside a URI is not a valid [`NodeId`].
    #[error("identity URI {uri:?} names a bad node id: {source}")]
    BadNodeId {
        /// The URI as found.
        uri: String,
        /// Why the id is refused.
        source: IdError,
    },
    /// The person's name inside an operator or admin URI is not acceptable.
    #[error("identity URI {uri:?} carries an unusable name: {source}")]
    BadName {
        /// The URI as found.
        uri: String,
        /// Why the name is refused.
        source: NameError,
    },
    /// An operator URI without a `liandong://role/...` URI.
    #[error("operator certificate {uri:?} carries no liandong://role/ (operator or leader)")]
    OperatorWithoutRole {
        /// The operator URI.
        uri: String,
    },
    /// A role URI on a certificate that is not an operator's, or two roles.
    #[error("misplaced or repeated role URI {uri:?}")]
    MisplacedRole {
        /// The role URI.
        uri: String,
    },
    /// More than one node, operator or admin URI.
    #[error("certificate carries several liandong:// identities: {}", .uris.join(", "))]
    SeveralIdentities {
        /// All identity URIs found.
        uris: Vec<String>,
    },
}

/// Reads the identity of a DER certificate from its SANs.
pub fn identity_of(cert_der: &[u8]) -> Result<Identity, IdentityError> {
    let (_, cert) =
        x509_parser::parse_x509_certificate(cert_der).map_err(|e| IdentityError::BadCertificate(e.to_string()))?;
    identity_of_parsed(&cert)
}

/// The raw 32-byte Ed25519 public key of a certificate: what a node's
/// keyring needs to check the origin signatures of envelopes from the node
/// the certificate names.
pub fn ed25519_public_key(cert_der: &[u8]) -> Result<Vec<u8>, IdentityError> {
    let (_, cert) =
        x509_parser::parse_x509_certificate(cert_der).map_err(|e| IdentityError::BadCertificate(e.to_string()))?;
    let spki = &cert.tbs_certificate.subject_pki;
    // 1.3.101.112 is id-Ed25519 (RFC 8410).
    if spki.algorithm.algorithm.to_id_string() != "1.3.101.112" {
        return Err(IdentityError::BadCertificate(format!(
            "key algorithm {} is not Ed25519",
            spki.algorithm.algorithm.to_id_string()
        )));
    }
    Ok(spki.subject_public_key.data.to_vec())
}

/// Reads the identity of an already parsed certificate.
pub(crate) fn identity_of_parsed(cert: &X509Certificate<'_>) -> Result<Identity, IdentityError> {
    let san = cert
        .subject_alternative_name()
        .map_err(|e| IdentityError::BadCertificate(format!("subject alternative names: {e}")))?;
    let Some(san) = san else {
        return Err(IdentityError::NoIdentity);
    };
    let uris = san.value.general_names.iter().filter_map(|name| match name {
        GeneralName::URI(uri) => Some(*uri),
        _ => None,
    });
    identity_from_uris(uris)
}

/// All URI SANs of a parsed certificate (for display).
pub(crate) fn san_strings(cert: &X509Certificate<'_>) -> Vec<String> {
    let Ok(Some(san)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    san.value
        .general_names
        .iter()
        .map(|name| match name {
            GeneralName::URI(uri) => format!("URI:{uri}"),
            GeneralName::DNSName(dns) => format!("DNS:{dns}"),
            other => format!("{other}"),
        })
        .collect()
}

/// Interprets a certificate's URI SANs. URIs of other schemes are ignored.
pub fn identity_from_uris<'a>(uris: impl IntoIterator<Item = &'a str>) -> Result<Identity, IdentityError> {
    enum Found {
        Node(NodeId),
        Operator(NodeId, String),
        Admin(String),
    }
    let mut found: Vec<(String, Found)> = Vec::new();
    let mut roles: Vec<(String, Role)> = Vec::new();

    for uri in uris {
        let Some(rest) = uri.strip_prefix(SCHEME_PREFIX) else {
            continue;
        };
        let malformed = |reason| IdentityError::MalformedUri {
            uri: uri.to_owned(),
            reason,
        };
        let Some((kind, path)) = rest.split_once('/') else {
            return Err(malformed(
                "expected liandong://node/, liandong://operator/, liandong://admin/ or liandong://role/",
            ));
        };
        let parse_name = |encoded: &str| {
            let name = percent_decode(encoded).map_err(malformed)?;
            validate_name(&name).map_err(|source| IdentityError::BadName {
                uri: uri.to_owned(),
                source,
            })?;
            Ok::<String, IdentityError>(name)
        };
        let parse_node = |text: &str| {
            NodeId::parse(text).map_err(|source| IdentityError::BadNodeId {
                uri: uri.to_owned(),
                source,
            })
        };
        match kind {
            "node" => {
                if path.contains('/') {
                    return Err(malformed("a node URI has exactly one path segment, the node id"));
                }
                found.push((uri.to_owned(), Found::Node(parse_node(path)?)));
            }
            "operator" => {
                let Some((node, encoded)) = path.split_once('/') else {
                    return Err(malformed("expected liandong://operator/<node-id>/<name>"));
                };
                if encoded.contains('/') {
                    return Err(malformed("an operator URI has exactly two path segments"));
                }
                let node = parse_node(node)?;
                found.push((uri.to_owned(), Found::Operator(node, parse_name(encoded)?)));
            }
            "admin" => {
                if path.contains('/') {
                    return Err(malformed("an admin URI has exactly one path segment, the name"));
                }
                found.push((uri.to_owned(), Found::Admin(parse_name(path)?)));
            }
            "role" => {
                let role = path
                    .parse::<Role>()
                    .map_err(|_| malformed("the role must be operator or leader"))?;
                roles.push((uri.to_owned(), role));
            }
            _ => return Err(malformed("unknown kind; expected node, operator, admin or role")),
        }
    }

    if found.len() > 1 {
        return Err(IdentityError::SeveralIdentities {
            uris: found.into_iter().map(|(uri, _)| uri).collect(),
        });
    }
    let Some((uri, found)) = found.pop() else {
        return Err(match roles.first() {
            Some((role_uri, _)) => IdentityError::MisplacedRole { uri: role_uri.clone() },
            None => IdentityError::NoIdentity,
        });
    };
    match found {
        Found::Node(id) => match roles.first() {
            Some((role_uri, _)) => Err(IdentityError::MisplacedRole { uri: role_uri.clone() }),
            None => Ok(Identity::Node(id)),
        },
        Found::Admin(name) => match roles.first() {
            Some((role_uri, _)) => Err(IdentityError::MisplacedRole { uri: role_uri.clone() }),
            None => Ok(Identity::Admin { name }),
        },
        Found::Operator(node, name) => match roles.as_slice() {
            [] => Err(IdentityError::OperatorWithoutRole { uri }),
            [(_, role)] => Ok(Identity::Operator {
                node,
                name,
                role: *role,
            }),
            [_, (second, _), ..] => Err(IdentityError::MisplacedRole { uri: second.clone() }),
        },
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Reverses [`percent_encode`]; refuses raw reserved characters, broken
/// escapes and escapes that do not decode to UTF-8.
fn percent_decode(text: &str) -> Result<String, &'static str> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        if byte == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or("truncated %-escape in the name")?;
            let text = std::str::from_utf8(hex).map_err(|_| "bad %-escape in the name")?;
            let value = u8::from_str_radix(text, 16).map_err(|_| "bad %-escape in the name")?;
            out.push(value);
            i += 3;
        } else if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte);
            i += 1;
        } else {
            return Err("the name must be percent-encoded");
        }
    }
    String::from_utf8(out).map_err(|_| "the name is not UTF-8 once decoded")
}

/// The TLS server name used to dial node `id`: `<id>.node.liandong`.
///
/// Every [`NodeId`] is a valid DNS label (digits, then optionally `-` and a
/// lowercase unit name, at most 48 characters), so this never fails.
pub fn server_name_for(id: &NodeId) -> ServerName<'static> {
    let name = format!("{id}{SERVER_NAME_SUFFIX}");
    match DnsName::try_from(name) {
        Ok(dns) => ServerName::DnsName(dns),
        // Unreachable for validated ids; an address never names a node, so
        // the dial would fail with a clear error instead of a panic here.
        Err(_) => ServerName::from(std::net::IpAddr::from([0u8, 0, 0, 0])),
    }
}

/// Why a TLS server name does not name a node.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServerNameError {
    /// Not of the form `<id>.node.liandong`.
    #[error("server name {0:?} is not of the form <node-id>.node.liandong")]
    NotANodeName(String),
    /// The `<id>` part is not a valid node id.
    #[error("server name {name:?} names a bad node id: {source}")]
    BadNodeId {
        /// The server name.
        name: String,
        /// Why the id is refused.
        source: IdError,
    },
}

/// Reads the node id back from a server name made by [`server_name_for`].
pub fn node_from_server_name(name: &ServerName<'_>) -> Result<NodeId, ServerNameError> {
    let ServerName::DnsName(dns) = name else {
        return Err(ServerNameError::NotANodeName(format!("{name:?}")));
    };
    let text = dns.as_ref().to_ascii_lowercase();
    let Some(id) = text.strip_suffix(SERVER_NAME_SUFFIX) else {
        return Err(ServerNameError::NotANodeName(text));
    };
    NodeId::parse(id).map_err(|source| ServerNameError::BadNodeId {
        name: text.clone(),
        source,
    })
}

#[cfg(test)]
mod tests;
