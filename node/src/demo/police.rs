//! The demo's police system: a webhook receiver on loopback, subscribed
//! at a county's police unit to every event there (incidents, orders,
//! stages, supervision), as a police dispatch system would be. It checks
//! each delivery's signature and counts distinct events by id, so the
//! demo's summary shows what reached it.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use liandong_certs::time::OffsetDateTime;
use liandong_topology::NodeId;
use tokio::net::TcpListener;

use crate::gateway::webhooks::events::EventKind;
use crate::gateway::webhooks::sign::{EVENT_ID_HEADER, verify};
use crate::gateway::webhooks::subscriptions::{NewSubscription, Subscriptions, WEBHOOKS_FILE};
use crate::local::LocalFederation;

/// The police unit whose events the demo's police system receives.
pub const POLICE_AT: &str = "350102-police";

/// The receiver's count of distinct, correctly signed events.
#[derive(Clone, Default)]
pub struct PoliceSystem {
    seen: Arc<Mutex<HashSet<String>>>,
    refused: Arc<Mutex<usize>>,
}

struct Receiver {
    secret: String,
    system: PoliceSystem,
}

impl PoliceSystem {
    /// Starts the receiver on `ip` and subscribes it at [`POLICE_AT`]
    /// (before that node starts, so the subscription is there from its
    /// first turn). `None` if the demo's topology has no such unit.
    pub async fn start(fed: &LocalFederation, ip: std::net::IpAddr) -> Result<Option<PoliceSystem>, String> {
        let Ok(unit) = NodeId::parse(POLICE_AT) else {
            return Ok(None);
        };
        if fed.topology().get(&unit).is_none() {
            return Ok(None);
        }
        let listener = TcpListener::bind(SocketAddr::new(ip, 0))
            .await
            .map_err(|e| format!("the police system's receiver: {e}"))?;
        let at = listener.local_addr().map_err(|e| e.to_string())?;
        let data = fed.data_dir(&unit);
        std::fs::create_dir_all(&data).map_err(|e| format!("{}: {e}", data.display()))?;
        let file = data.join(WEBHOOKS_FILE);
        let mut subscriptions = Subscriptions::load(&file).map_err(|e| e.to_string())?;
        let now = liandong_certs::rfc3339(OffsetDateTime::now_utc());
        let secret = subscriptions
            .add(
                NewSubscription {
                    name: "公安指挥系统".into(),
                    url: format!("http://{at}/liandong/events"),
                    events: vec![
                        EventKind::Incident,
                        EventKind::Order,
                        EventKind::Stage,
                        EventKind::Supervision,
                    ],
                    ca: None,
                    expire_after: None,
                },
                now,
            )
            .map_err(|e| e.to_string())?
            .secret
            .clone();
        subscriptions.save(&file).map_err(|e| e.to_string())?;
        let system = PoliceSystem::default();
        let receiver = Arc::new(Receiver {
            secret,
            system: system.clone(),
        });
        let app = Router::new()
            .route("/liandong/events", post(receive))
            .with_state(receiver);
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Some(system))
    }

    /// Distinct events received with a valid signature.
    pub fn events(&self) -> usize {
        self.seen.lock().map_or(0, |s| s.len())
    }
}

async fn receive(State(r): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
    let timestamp = header("Liandong-Timestamp").parse::<u64>().unwrap_or(0);
    if !verify(&r.secret, timestamp, &body, header("Liandong-Signature")) {
        if let Ok(mut n) = r.system.refused.lock() {
            *n += 1;
        }
        return StatusCode::UNAUTHORIZED;
    }
    if let Ok(mut seen) = r.system.seen.lock() {
        seen.insert(header(EVENT_ID_HEADER).to_owned());
    }
    StatusCode::NO_CONTENT
}
