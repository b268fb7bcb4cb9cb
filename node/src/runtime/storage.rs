//! The store as the driver uses it, and what happens when it fails.
//!
//! A failed commit (disk full, database gone) is treated as a crash of the
//! in-memory state, not of the process: the effects of that batch are
//! discarded (peers were not acked, so they resend; operators are told
//! their action was not stored), the core is rebuilt from what the store
//! holds, and new work is refused with the storage error until a probe
//! commit succeeds. Nothing already acked is lost, because it was
//! committed before it was acked.
//!
//! [`Storage`] holds the store, whether it currently takes work, and what
//! rebuilding the core takes; the driver decides when to call it (after a
//! failed commit; at each probe time while failing).

use std::sync::Arc;
use std::time::Duration;

use liandong_control::clock;
use liandong_control::proto::Response;
use liandong_dispatch::{Core, CoreConfig, Record, Timestamp};
use liandong_topology::{NodeId, Topology};
use tracing::{debug, error, info, warn};

use super::keys::Credentials;
use crate::store::Durable;
use crate::transport::Transport;

/// Wait after a failed commit before the first probe.
const FIRST_PROBE: Duration = Duration::from_secs(1);
/// Wait between probes while the store keeps failing.
const PROBE_EVERY: Duration = Duration::from_secs(2);

/// The node's store, its health, and how to rebuild the core from it.
pub(super) struct Storage {
    durable: Durable,
    /// Signer and keyring of a rebuilt core.
    creds: Credentials,
    topology: Arc<Topology>,
    me: NodeId,
    core_config: CoreConfig,
    /// Set while the store fails: new work is refused until a probe
    /// commit at `probe_at` succeeds.
    problem: Option<String>,
    probe_at: Option<tokio::time::Instant>,
    /// The `node` label of the failure counter.
    labels: String,
}

impl Storage {
    pub fn new(
        durable: Durable,
        creds: Credentials,
        topology: Arc<Topology>,
        me: NodeId,
        core_config: CoreConfig,
    ) -> Storage {
        Storage {
            labels: me.to_string(),
            durable,
            creds,
            topology,
            me,
            core_config,
            problem: None,
            probe_at: None,
        }
    }

    /// The store itself, for what is kept outside the core's records.
    pub fn durable(&self) -> &Durable {
        &self.durable
    }

    /// The federation CA and the revocation list in force.
    pub fn verifier(&self) -> Arc<liandong_certs::Verifier> {
        self.creds.verifier.clone()
    }

    /// A renewed certificate: a rebuilt core signs with `key` and holds
    /// `public` beside this node's older keys.
    pub fn renew(
        &mut self,
        chain: Vec<liandong_certs::pki_types::CertificateDer<'static>>,
        key: liandong_certs::pki_types::PrivateKeyDer<'static>,
        public: Vec<u8>,
    ) {
        self.creds.chain = chain;
        self.creds.key = key;
        self.creds.keep_key(self.me.clone(), public);
    }

    /// Why the store refuses work, while it does.
    pub fn problem(&self) -> Option<&str> {
        self.problem.as_deref()
    }

    /// When to probe a failing store.
    pub fn probe_at(&self) -> Option<tokio::time::Instant> {
        self.probe_at
    }

    /// A commit failed with `reason`: refuse new work and probe soon.
    /// True if the store was healthy until now (the first failure).
    pub fn failed(&mut self, reason: &str) -> bool {
        error!(%reason, "commit failed: refusing new work until the store recovers");
        metrics::counter!("liandong_storage_failures_total", "node" => self.labels.clone()).increment(1);
        let first = self.problem.is_none();
        self.problem = Some(reason.to_owned());
        self.probe_at = Some(tokio::time::Instant::now() + FIRST_PROBE);
        first
    }

    /// Probes a failing store with a real write: only a commit that
    /// succeeds says the store takes work again (an empty turn would not).
    /// True if it succeeded; the store counts as failing until
    /// [`Storage::recovered`].
    pub async fn probe(&mut self, now: Timestamp) -> bool {
        self.probe_at = Some(tokio::time::Instant::now() + PROBE_EVERY);
        let reason = self.problem.clone().unwrap_or_default();
        let probe = Record::Audit(liandong_dispatch::store::AuditEntry {
            at: now,
            what: format!("store writable again after: {reason}"),
        });
        if let Err(e) = self.durable.commit(&[probe], now).await {
            debug!(error = %e, "store still failing");
            self.problem = Some(e.to_string());
            return false;
        }
        true
    }

    /// The store takes work again.
    pub fn recovered(&mut self) {
        self.problem = None;
        info!("store recovered: taking new work again");
    }

    /// Cores rebuilt from now on run on `topology` (a federation document
    /// was applied).
    pub fn set_topology(&mut self, topology: Arc<Topology>) {
        self.topology = topology;
    }

    /// Whether `key` is one of `node`'s keys already held.
    pub fn holds_key(&self, node: &NodeId, key: &[u8]) -> bool {
        self.creds.holds_key(node, key)
    }

    /// Keeps a key the core learned for every core rebuilt from now on.
    pub fn keep_key(&mut self, node: NodeId, key: Vec<u8>) {
        self.creds.keep_key(node, key);
    }

    /// A core rebuilt from what the store holds, dropping what the failed
    /// commit would have added; told which links are up (the links are
    /// still there). `None` if the store cannot be read yet or the core
    /// cannot be built.
    pub async fn rebuild(&self, transport: &Transport) -> Option<Core> {
        let store = match self.durable.load().await {
            Ok(s) => s,
            Err(e) => {
                warn!(error = %e, "cannot read the store yet");
                return None;
            }
        };
        let now = clock::now();
        match self.creds.core(&self.topology, &self.me, &self.core_config, store, now) {
            Ok(mut core) => {
                let peers: Vec<NodeId> = self
                    .topology
                    .ancestors(&self.me)
                    .chain(self.topology.subtree(&self.me, None))
                    .map(|n| n.id.clone())
                    .filter(|p| *p != self.me && transport.is_connected(p))
                    .collect();
                for p in peers {
                    core.handle_link(&p, true, now);
                }
                Some(core)
            }
            Err(e) => {
                error!(error = %e, "cannot rebuild the core");
                None
            }
        }
    }
}

/// What an operator is told when the store refuses work.
pub(super) fn refusal(reason: &str) -> String {
    format!("not stored: the node's store is failing ({reason}); it takes no new work until the store recovers")
}

/// The reply to a call whose batch was not committed: a `Done` becomes the
/// refusal (nothing of it was stored); refusals and answers stay as they
/// are.
pub(super) fn not_stored(response: Response, refusal: &str) -> Response {
    match response {
        Response::Done { .. } => Response::Refused {
            reason: refusal.to_owned(),
        },
        other => other,
    }
}
