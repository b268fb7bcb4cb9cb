//! The demo's doors: part of its traffic enters the way it would in a
//! city, over the gateway, not the operator API. A county runs the 12345
//! hotline's door (its system files over Open311), and villages run the
//! grid workers' door (their phone app files over the JSON API, with a
//! photo). Each has its own gateway certificate (for `localhost`, made
//! here) and tokens issued into its data directory, as `liandong gateway
//! token issue` would.
//!
//! The HTTP client is hyper's over tokio-rustls (ring), trusting only the
//! demo's gateway certificate; one connection per request.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request as HttpRequest;
use hyper_util::rt::TokioIo;
use liandong_certs::time::OffsetDateTime;
use liandong_topology::NodeId;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::police::PoliceSystem;
use crate::gateway::tokens::{Scope, TOKENS_FILE, Tokens};
use crate::gateway::{DEFAULT_PHOTO_MAX, GatewayConfig};
use crate::local::LocalFederation;
use crate::runtime::NodeError;

/// Longest a call to a gateway may take.
const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The county whose hotline files over Open311.
pub const HOTLINE_AT: &str = "350102";
/// Villages whose grid workers file over the JSON API with photos.
pub const GRID_AT: [&str; 2] = ["350102001001", "350121001001"];

/// A node's gateway and the token its system holds.
struct Door {
    node: NodeId,
    token: String,
}

/// The demo's gateways, and a client for them.
pub struct Doors {
    tls: TlsConnector,
    hotline: Option<Door>,
    grid: Vec<Door>,
    police: Option<PoliceSystem>,
}

impl Doors {
    /// Gives the hotline's county and the grid villages of `fed` a gateway
    /// (on their own address, a port the system picks) from their next
    /// start, with a token each.
    pub fn open(fed: &mut LocalFederation, dir: &Path) -> Result<Doors, NodeError> {
        let fail = |what: String| NodeError::Gateway(format!("the demo's gateways: {what}"));
        let gw_dir = dir.join("gateway");
        std::fs::create_dir_all(&gw_dir).map_err(|e| fail(format!("{}: {e}", gw_dir.display())))?;
        let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).map_err(|e| fail(e.to_string()))?;
        let (cert, key) = (gw_dir.join("gateway.pem"), gw_dir.join("gateway.key"));
        std::fs::write(&cert, made.cert.pem()).map_err(|e| fail(format!("{}: {e}", cert.display())))?;
        write_private(&key, made.signing_key.serialize_pem().as_bytes())
            .map_err(|e| fail(format!("{}: {e}", key.display())))?;

        let mut roots = rustls::RootCertStore::empty();
        roots.add(made.cert.der().clone()).map_err(|e| fail(e.to_string()))?;
        let client = rustls::ClientConfig::builder_with_provider(liandong_certs::tls::provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| fail(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();

        let mut door = |at: &str, name: &str, scopes: Vec<Scope>| -> Result<Option<Door>, NodeError> {
            let Ok(node) = NodeId::parse(at) else {
                return Ok(None);
            };
            let Some(listen) = fed.topology().get(&node).map(|n| n.listen) else {
                return Ok(None);
            };
            let data = fed.data_dir(&node);
            std::fs::create_dir_all(&data).map_err(|e| fail(format!("{}: {e}", data.display())))?;
            let tokens_file = data.join(TOKENS_FILE);
            let mut tokens = Tokens::load(&tokens_file).map_err(|e| fail(e.to_string()))?;
            let now = liandong_certs::rfc3339(OffsetDateTime::now_utc());
            let (_, secret) = tokens.issue(name, scopes, now).map_err(|e| fail(e.to_string()))?;
            tokens.save(&tokens_file).map_err(|e| fail(e.to_string()))?;
            fed.set_gateway(
                &node,
                GatewayConfig {
                    listen: SocketAddr::new(listen.ip(), 0),
                    cert: cert.clone(),
                    key: key.clone(),
                    tokens: tokens_file,
                    photo_max: DEFAULT_PHOTO_MAX,
                },
            );
            Ok(Some(Door { node, token: secret }))
        };
        let hotline = door(HOTLINE_AT, "12345热线", vec![Scope::Report, Scope::Read])?;
        let mut grid = Vec::new();
        for at in GRID_AT {
            grid.extend(door(at, "e福州网格通", vec![Scope::Report, Scope::Read])?);
        }
        Ok(Doors {
            tls: TlsConnector::from(Arc::new(client)),
            hotline,
            grid,
            police: None,
        })
    }

    /// Starts the police system's webhook receiver and subscribes it at
    /// the police unit (call before the unit starts).
    pub async fn open_police(&mut self, fed: &LocalFederation) -> Result<(), NodeError> {
        let ip = fed.topology().root().listen.ip();
        self.police = PoliceSystem::start(fed, ip)
            .await
            .map_err(|e| NodeError::Gateway(format!("the demo's police system: {e}")))?;
        Ok(())
    }

    /// Events the police system received (distinct, signed), if it runs.
    pub fn police_events(&self) -> Option<usize> {
        self.police.as_ref().map(PoliceSystem::events)
    }

    /// The villages whose grid workers file over the gateway.
    pub fn grid_villages(&self) -> impl Iterator<Item = &NodeId> {
        self.grid.iter().map(|d| &d.node)
    }

    /// The hotline's county, if the demo has it.
    pub fn hotline_county(&self) -> Option<&NodeId> {
        self.hotline.as_ref().map(|d| &d.node)
    }

    /// A grid worker at `village` files `report` (the JSON API's body,
    /// without photos) with `photo` attached: the report's id.
    pub async fn grid_report(
        &self,
        fed: &LocalFederation,
        village: &NodeId,
        mut report: serde_json::Value,
        photo: Vec<u8>,
        key: &str,
    ) -> Result<String, String> {
        let door = self
            .grid
            .iter()
            .find(|d| &d.node == village)
            .ok_or_else(|| format!("{village} has no gateway in the demo"))?;
        let at = address(fed, village)?;
        let (status, body) = self
            .send(at, "/v1/photos", &door.token, "image/png", None, photo)
            .await?;
        let sha = answer(status, &body, 201)?["sha256"]
            .as_str()
            .map(str::to_owned)
            .ok_or("the photo's answer has no sha256")?;
        report["photos"] = serde_json::json!([sha]);
        let (status, body) = self
            .send(
                at,
                "/v1/reports",
                &door.token,
                "application/json",
                Some(key),
                report.to_string().into_bytes(),
            )
            .await?;
        answer(status, &body, 201)?["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| "the report's answer has no id".into())
    }

    /// The hotline files a call over Open311: its request id.
    pub async fn hotline_call(
        &self,
        fed: &LocalFederation,
        service: &str,
        description: &str,
        address_string: &str,
    ) -> Result<String, String> {
        let door = self.hotline.as_ref().ok_or("the demo has no hotline county")?;
        let at = address(fed, &door.node)?;
        let form = serde_urlencoded::to_string([
            ("api_key", door.token.as_str()),
            ("service_code", service),
            ("description", description),
            ("address_string", address_string),
        ])
        .map_err(|e| e.to_string())?;
        let (status, body) = self
            .send(
                at,
                "/open311/v2/requests.json",
                "",
                "application/x-www-form-urlencoded",
                None,
                form.into_bytes(),
            )
            .await?;
        answer(status, &body, 201)?[0]["service_request_id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| "the request's answer has no service_request_id".into())
    }

    async fn send(
        &self,
        at: SocketAddr,
        path: &str,
        token: &str,
        content_type: &str,
        idempotency_key: Option<&str>,
        body: Vec<u8>,
    ) -> Result<(u16, Vec<u8>), String> {
        tokio::time::timeout(
            CALL_TIMEOUT,
            self.send_now(at, path, token, content_type, idempotency_key, body),
        )
        .await
        .map_err(|_| format!("{path} at {at}: no answer within {CALL_TIMEOUT:?}"))?
    }

    async fn send_now(
        &self,
        at: SocketAddr,
        path: &str,
        token: &str,
        content_type: &str,
        idempotency_key: Option<&str>,
        body: Vec<u8>,
    ) -> Result<(u16, Vec<u8>), String> {
        let tcp = TcpStream::connect(at).await.map_err(|e| format!("{at}: {e}"))?;
        let name = ServerName::try_from("localhost").map_err(|e| e.to_string())?;
        let tls = self
            .tls
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS to {at}: {e}"))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| format!("HTTP to {at}: {e}"))?;
        let driving = tokio::spawn(connection);
        let mut request = HttpRequest::post(path)
            .header(hyper::header::HOST, "localhost")
            .header(hyper::header::CONTENT_TYPE, content_type);
        if !token.is_empty() {
            request = request.header(hyper::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        let request = request.body(Full::new(Bytes::from(body))).map_err(|e| e.to_string())?;
        let response = sender.send_request(request).await.map_err(|e| format!("{path}: {e}"))?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("{path}: {e}"))?
            .to_bytes()
            .to_vec();
        driving.abort();
        Ok((status, body))
    }
}

/// Where `node`'s gateway listens now (a restart picks a new port).
fn address(fed: &LocalFederation, node: &NodeId) -> Result<SocketAddr, String> {
    fed.node(node)
        .and_then(|n| n.gateway_addr())
        .ok_or_else(|| format!("{node} is down"))
}

fn answer(status: u16, body: &[u8], want: u16) -> Result<serde_json::Value, String> {
    let json: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("status {status}, the answer does not read: {e}"))?;
    if status != want {
        return Err(format!("status {status}: {}", json["error"]));
    }
    Ok(json)
}

fn write_private(path: &PathBuf, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)
}
