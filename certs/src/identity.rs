//! Who a certificate speaks for, read from its `liandong://` URI SANs.
//!
//! A node certificate carries exactly one `liandong://node/<id>`. An operator
//! certificate carries `liandong://operator/<node-id>/<name>` plus
//! `liandong://role/<operator|leader>`. SAN URIs are IA5 (ASCII) strings, so
//! the operator name is percent-encoded as UTF-8 (`张伟` becomes
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
/// Most characters an operator name may have.
pub const MAX_OPERATOR_NAME_CHARS: usize = 64;

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
/// Serialized (serde) as `{ node = "350102" }` or
/// `{ operator = { node = "350102", name = "张伟", role = "leader" } }`.
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
}

impl Identity {
    /// The node this identity belongs to (itself, or the operator's node).
    pub fn node(&self) -> &NodeId {
        match self {
            Identity::Node(id) => id,
            Identity::Operator { node, .. } => node,
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
        }
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Identity::Node(id) => write!(f, "node {id}"),
            Identity::Operator { node, name, role } => write!(f, "{role} {name} at node {node}"),
        }
    }
}

/// `liandong://node/<id>`.
pub fn node_uri(id: &NodeId) -> String {
    format!("{SCHEME_PREFIX}node/{id}")
}

fn role_uri(role: Role) -> String {
    format!("{SCHEME_PREFIX}role/{role}")
}

/// Why an operator name cannot go into a certificate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OperatorNameError {
    /// The name is empty.
    #[error("operator name is empty")]
    Empty,
    /// More than [`MAX_OPERATOR_NAME_CHARS`] characters.
    #[error("operator name {name:?} has {chars} characters; at most {MAX_OPERATOR_NAME_CHARS} are allowed")]
    TooLong {
        /// The name given.
        name: String,
        /// Its length in characters.
        chars: usize,
    },
    /// Contains '/', which would split the SAN path and the file path.
    #[error("operator name {0:?} contains '/'")]
    Slash(String),
    /// Contains a control character (newline, tab, NUL...).
    #[error("operator name {0:?} contains a control character")]
    Control(String),
    /// Starts or ends with whitespace, almost always a typing accident.
    #[error("operator name {0:?} starts or ends with whitespace")]
    Whitespace(String),
}

/// Checks an operator name: 1 to 64 characters, no '/', no control
/// characters, no surrounding whitespace. Any script is fine (张伟, Zhang Wei).
pub fn validate_operator_name(name: &str) -> Result<(), OperatorNameError> {
    if name.is_empty() {
        return Err(OperatorNameError::Empty);
    }
    let chars = name.chars().count();
    if chars > MAX_OPERATOR_NAME_CHARS {
        return Err(OperatorNameError::TooLong {
            name: name.to_owned(),
            chars,
        });
    }
    if name.contains('/') {
        return Err(OperatorNameError::Slash(name.to_owned()));
    }
    if name.chars().any(char::is_control) {
        return Err(OperatorNameError::Control(name.to_owned()));
    }
    if name.trim() != name {
        return Err(OperatorNameError::Whitespace(name.to_owned()));
    }
    Ok(())
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
    /// The operator name inside a URI is not acceptable.
    #[error("identity URI {uri:?} names a bad operator: {source}")]
    BadOperatorName {
        /// The URI as found.
        uri: String,
        /// Why the name is refused.
        source: OperatorNameError,
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
    /// More than one node/operator URI.
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
                "expected liandong://node/, liandong://operator/ or liandong://role/",
            ));
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
                let name = percent_decode(encoded).map_err(malformed)?;
                validate_operator_name(&name).map_err(|source| IdentityError::BadOperatorName {
                    uri: uri.to_owned(),
                    source,
                })?;
                found.push((uri.to_owned(), Found::Operator(node, name)));
            }
            "role" => {
                let role = path
                    .parse::<Role>()
                    .map_err(|_| malformed("the role must be operator or leader"))?;
                roles.push((uri.to_owned(), role));
            }
            _ => return Err(malformed("unknown kind; expected node, operator or role")),
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
            let hex = bytes
                .get(i + 1..i + 3)
                .ok_or("truncated %-escape in the operator name")?;
            let text = std::str::from_utf8(hex).map_err(|_| "bad %-escape in the operator name")?;
            let value = u8::from_str_radix(text, 16).map_err(|_| "bad %-escape in the operator name")?;
            out.push(value);
            i += 3;
        } else if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte);
            i += 1;
        } else {
            return Err("the operator name must be percent-encoded");
        }
    }
    String::from_utf8(out).map_err(|_| "the operator name is not UTF-8 once decoded")
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
mod tests {
    use super::*;

    fn id(s: &str) -> NodeId {
        NodeId::parse(s).unwrap()
    }

    fn round_trip(identity: &Identity) -> Identity {
        let uris = identity.uris();
        identity_from_uris(uris.iter().map(String::as_str)).unwrap()
    }

    #[test]
    fn node_and_member_unit_round_trip() {
        for node in ["350102", "350102001001", "350102-police"] {
            let identity = Identity::Node(id(node));
            assert_eq!(identity.uris(), vec![format!("liandong://node/{node}")]);
            assert_eq!(round_trip(&identity), identity);
        }
    }

    #[test]
    fn operator_with_chinese_name_round_trips_for_each_role() {
        for role in [Role::Operator, Role::Leader] {
            let identity = Identity::Operator {
                node: id("350102"),
                name: "张伟".into(),
                role,
            };
            let uris = identity.uris();
            assert_eq!(uris[0], "liandong://operator/350102/%E5%BC%A0%E4%BC%9F");
            assert_eq!(uris[1], format!("liandong://role/{role}"));
            assert!(uris.iter().all(|u| u.is_ascii()));
            assert_eq!(round_trip(&identity), identity);
        }
        let spaced = Identity::Operator {
            node: id("350102-police"),
            name: "Zhang Wei~李".into(),
            role: Role::Leader,
        };
        assert_eq!(round_trip(&spaced), spaced);
    }

    #[test]
    fn other_schemes_are_ignored() {
        let got = identity_from_uris(["https://example.org/x", "liandong://node/350102"]).unwrap();
        assert_eq!(got, Identity::Node(id("350102")));
        assert_eq!(
            identity_from_uris(["https://example.org/x"]),
            Err(IdentityError::NoIdentity)
        );
        assert_eq!(identity_from_uris([]), Err(IdentityError::NoIdentity));
    }

    #[test]
    fn malformed_inputs_give_the_specific_error() {
        let err = |uris: &[&str]| identity_from_uris(uris.iter().copied()).unwrap_err();

        assert!(matches!(err(&["liandong://node"]), IdentityError::MalformedUri { .. }));
        assert!(matches!(
            err(&["liandong://host/350102"]),
            IdentityError::MalformedUri { .. }
        ));
        assert!(matches!(
            err(&["liandong://node/350102/x"]),
            IdentityError::MalformedUri { .. }
        ));
        assert!(matches!(
            err(&["liandong://node/35010x"]),
            IdentityError::BadNodeId { .. }
        ));
        assert!(matches!(
            err(&["liandong://operator/350102"]),
            IdentityError::MalformedUri { .. }
        ));
        assert!(matches!(
            err(&["liandong://operator/350102/张伟", "liandong://role/leader"]),
            IdentityError::MalformedUri { .. }
        ));
        assert!(matches!(
            err(&["liandong://operator/350102/%E5%BC", "liandong://role/leader"]),
            IdentityError::MalformedUri { .. }
        ));
        assert!(matches!(
            err(&["liandong://operator/350102/%G1", "liandong://role/leader"]),
            IdentityError::MalformedUri { .. }
        ));
        assert!(matches!(
            err(&["liandong://operator/350102/a%2Fb", "liandong://role/leader"]),
            IdentityError::BadOperatorName {
                source: OperatorNameError::Slash(_),
                ..
            }
        ));
        assert!(matches!(
            err(&["liandong://operator/350102/zhang"]),
            IdentityError::OperatorWithoutRole { .. }
        ));
        assert!(matches!(
            err(&["liandong://operator/350102/zhang", "liandong://role/chief"]),
            IdentityError::MalformedUri { .. }
        ));
        assert!(matches!(
            err(&["liandong://node/350102", "liandong://role/leader"]),
            IdentityError::MisplacedRole { .. }
        ));
        assert!(matches!(
            err(&["liandong://role/leader"]),
            IdentityError::MisplacedRole { .. }
        ));
        assert!(matches!(
            err(&[
                "liandong://operator/350102/zhang",
                "liandong://role/leader",
                "liandong://role/operator"
            ]),
            IdentityError::MisplacedRole { .. }
        ));
        let several = err(&["liandong://node/350102", "liandong://node/350103"]);
        assert!(matches!(several, IdentityError::SeveralIdentities { ref uris } if uris.len() == 2));
        assert!(several.to_string().contains("liandong://node/350103"));
        assert!(
            IdentityError::NoIdentity
                .to_string()
                .contains("carries no liandong:// identity")
        );
    }

    #[test]
    fn operator_names_are_validated() {
        assert_eq!(validate_operator_name("张伟"), Ok(()));
        assert_eq!(validate_operator_name(&"伟".repeat(64)), Ok(()));
        assert_eq!(validate_operator_name(""), Err(OperatorNameError::Empty));
        assert!(matches!(
            validate_operator_name(&"伟".repeat(65)),
            Err(OperatorNameError::TooLong { chars: 65, .. })
        ));
        assert!(matches!(
            validate_operator_name("a/b"),
            Err(OperatorNameError::Slash(_))
        ));
        assert!(matches!(
            validate_operator_name("a\nb"),
            Err(OperatorNameError::Control(_))
        ));
        assert!(matches!(
            validate_operator_name("a\u{0}"),
            Err(OperatorNameError::Control(_))
        ));
        assert!(matches!(
            validate_operator_name(" 张伟"),
            Err(OperatorNameError::Whitespace(_))
        ));
    }

    #[test]
    fn identities_serialize() {
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct Peer {
            who: Identity,
        }
        for who in [
            Identity::Node(id("350102-police")),
            Identity::Operator {
                node: id("350102"),
                name: "张伟".into(),
                role: Role::Leader,
            },
        ] {
            let peer = Peer { who };
            let text = toml::to_string(&peer).unwrap();
            assert_eq!(toml::from_str::<Peer>(&text).unwrap(), peer, "{text}");
        }
        let text = "who = { operator = { node = \"350102\", name = \"张伟\", role = \"leader\" } }";
        assert!(matches!(
            toml::from_str::<Peer>(text).unwrap().who,
            Identity::Operator { role: Role::Leader, .. }
        ));
        assert!(
            toml::from_str::<Peer>("who = { node = \"3501\" }").is_err(),
            "ids are validated"
        );
    }

    #[test]
    fn roles_parse_and_print() {
        assert_eq!("leader".parse::<Role>(), Ok(Role::Leader));
        assert_eq!("operator".parse::<Role>(), Ok(Role::Operator));
        assert_eq!(Role::Leader.to_string(), "leader");
        assert!("Leader".parse::<Role>().unwrap_err().to_string().contains("\"Leader\""));
    }

    #[test]
    fn server_names_are_valid_dns_names_and_parse_back() {
        for node in ["350102", "350102001001003", "350102-police", "350102-civil-affairs"] {
            let name = server_name_for(&id(node));
            match &name {
                ServerName::DnsName(dns) => assert_eq!(dns.as_ref(), format!("{node}.node.liandong")),
                other => panic!("not a DNS name: {other:?}"),
            }
            assert_eq!(node_from_server_name(&name), Ok(id(node)));
        }
        let other = ServerName::try_from("example.org").unwrap();
        assert!(matches!(
            node_from_server_name(&other),
            Err(ServerNameError::NotANodeName(_))
        ));
        let bad = ServerName::try_from("35010x.node.liandong").unwrap();
        assert!(matches!(
            node_from_server_name(&bad),
            Err(ServerNameError::BadNodeId { .. })
        ));
    }
}
