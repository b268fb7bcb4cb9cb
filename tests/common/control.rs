//! A fake node for the operator commands: a real control API server
//! (QUIC, TLS, operator certificates in a federation directory) hosted in
//! the test process, whose driver is a function of the test's: it answers
//! each call and may push notices to subscribers. Every call is kept for
//! assertions.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use liandong_certs::time::OffsetDateTime;
use liandong_certs::{CaDir, FederationCa, Revocations, Role, Validity, Verifier};
use liandong_control::{Notice, Pushed, Request, Response};
use liandong_dispatch::wire::Timestamp;
use liandong_node::control::{Call, ControlConfig, ControlServer};
use liandong_topology::NodeId;
use tokio::sync::{broadcast, mpsc};

use super::arg;

/// The fake node's center; its operator is 张伟, a leader.
pub const ME: &str = "350102";

pub fn id(s: &str) -> NodeId {
    NodeId::parse(s).unwrap()
}

pub fn now_ms() -> u64 {
    liandong_control::clock::now().0
}

/// Pushes `notice` to every subscriber; there must be one.
pub fn push(pushed: &broadcast::Sender<Pushed>, notice: Notice) {
    pushed
        .send(Pushed {
            at: Timestamp(now_ms()),
            notice,
        })
        .expect("the CLI is subscribed");
}

/// A control API server in this process, and an operator's files in a
/// federation directory.
pub struct FakeNode {
    // Dropped in this order: the server closes, then its runtime stops.
    _server: ControlServer,
    _runtime: tokio::runtime::Runtime,
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
    pub cert: PathBuf,
    pub seen: Arc<Mutex<Vec<Call>>>,
}

impl FakeNode {
    /// Starts the server; `answer` is its driver, called once per request
    /// (a subscription's snapshot included) on the server's runtime.
    pub fn start(answer: impl Fn(&Call, &broadcast::Sender<Pushed>) -> Response + Send + 'static) -> FakeNode {
        let dir = tempfile::tempdir().unwrap();
        let valid = Validity::days_from(OffsetDateTime::now_utc(), 30);
        let ca = FederationCa::generate("福州", Validity::days_from(OffsetDateTime::now_utc(), 365)).unwrap();
        ca.save(dir.path()).unwrap();
        let layout = CaDir::new(dir.path());
        let cert = layout.operator_cert(&id(ME), "张伟");
        ca.issue_operator(&id(ME), "张伟", Role::Leader, valid)
            .unwrap()
            .write(&cert, &layout.operator_key(&id(ME), "张伟"))
            .unwrap();
        let node = ca.issue_node(&id(ME), "鼓楼区综治中心", valid).unwrap();

        let runtime = tokio::runtime::Runtime::new().unwrap();
        let _entered = runtime.enter();
        let verifier = Arc::new(Verifier::new(ca.cert_der().clone(), Revocations::default()).unwrap());
        let (calls_tx, mut calls) = mpsc::channel::<Call>(16);
        let (pushed, _) = broadcast::channel(64);
        let config = ControlConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            me: id(ME),
            verifier,
            chain: vec![node.cert_der.clone()],
            key: node.private_key_der(),
        };
        let server = ControlServer::start(config, calls_tx, pushed.clone()).unwrap();
        let addr = server.local_addr();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        runtime.spawn(async move {
            while let Some(call) = calls.recv().await {
                let response = answer(&call, &pushed);
                let (reply_to, call) = split(call);
                let _ = reply_to.send(response);
                record.lock().unwrap().push(call);
            }
        });
        FakeNode {
            _server: server,
            _runtime: runtime,
            addr,
            dir,
            cert,
            seen,
        }
    }

    /// `--node ADDR --cert FILE`: the key and CA are found by the layout.
    pub fn conn(&self) -> Vec<String> {
        vec![
            "--node".into(),
            self.addr.to_string(),
            "--cert".into(),
            arg(&self.cert).into(),
        ]
    }

    /// Runs `liandong ARGS --node .. --cert ..`.
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_with(args, &[])
    }

    /// [`FakeNode::run`] with more environment variables.
    pub fn run_with(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut all: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        all.extend(self.conn());
        ops(&all, env)
    }

    /// Every request answered so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.seen.lock().unwrap().iter().map(|c| c.request.clone()).collect()
    }
}

/// The call without its reply channel, to keep for assertions.
fn split(call: Call) -> (tokio::sync::oneshot::Sender<Response>, Call) {
    let (dummy, _) = tokio::sync::oneshot::channel();
    let Call {
        operator,
        request,
        reply,
    } = call;
    (
        reply,
        Call {
            operator,
            request,
            reply: dummy,
        },
    )
}

/// Runs the binary with none of the LIANDONG_* connection variables from
/// the environment, plus `env`.
pub fn ops<S: AsRef<std::ffi::OsStr>>(args: &[S], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_liandong"));
    for var in ["LIANDONG_NODE", "LIANDONG_CERT", "LIANDONG_KEY", "LIANDONG_CA"] {
        cmd.env_remove(var);
    }
    cmd.args(args).envs(env.iter().copied()).output().expect("run liandong")
}
