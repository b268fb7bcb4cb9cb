//! A center's machine set up the packaged way: `liandong node init` writes
//! `node.toml`, `liandong node run --config` runs it, SIGHUP reloads it.
//! The real binary, on 127.0.52.0/24 and 127.0.53.0/24; every wait is on
//! a log line or the process's exit, with a deadline.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{arg, liandong, stderr, stdout};

const WAIT: Duration = Duration::from_secs(30);

/// The demo federation's topology (on `ip`, ports 7100 and up) and
/// certificates in `dir`.
fn prepare(dir: &Path, ip: &str) -> (PathBuf, PathBuf) {
    let topo = dir.join("demo.toml");
    let certs = dir.join("certs");
    let o = liandong(&[
        "topology",
        "generate",
        "--preset",
        "demo",
        "--ip",
        ip,
        "--out",
        arg(&topo),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = liandong(&["certs", "init", "--topology", arg(&topo), "--out", arg(&certs)]);
    assert!(o.status.success(), "{}", stderr(&o));
    (topo, certs)
}

/// A running `node run` and its log lines as they come.
struct Running {
    /// Taken by [`Running::stop`].
    child: Option<Child>,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    fn start(args: &[&str]) -> Running {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_liandong"));
        cmd.args(args).stderr(Stdio::piped()).stdout(Stdio::null());
        // The node dies with the test (PR_SET_PDEATHSIG) if the test dies first.
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = cmd.spawn().expect("start liandong node run");
        let err = child.stderr.take().expect("piped stderr");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Running {
            child: Some(child),
            lines,
            seen: Vec::new(),
        }
    }

    /// The next line for which `wanted` holds, within [`WAIT`].
    fn wait_for(&mut self, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if wanted(&line) {
                        return line;
                    }
                }
                Err(_) => panic!("no log line {what} within {WAIT:?}; the log:\n{}", self.seen.join("\n")),
            }
        }
    }

    fn signal(&self, signal: libc::c_int) {
        let child = self.child.as_ref().expect("running");
        let pid = libc::pid_t::try_from(child.id()).expect("pid fits");
        // SAFETY: kill(2) on our own child's pid.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0, "kill({pid}, {signal})");
    }

    /// SIGTERM, then the exit status within [`WAIT`].
    fn stop(mut self) -> std::process::ExitStatus {
        self.signal(libc::SIGTERM);
        let mut child = self.child.take().expect("running");
        let (tx, exited) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        exited
            .recv_timeout(WAIT)
            .expect("the node stops within the deadline")
            .expect("wait for the node")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Replaces the line starting with `key = ` in the config file; returns
/// its 1-based line number.
fn set(file: &Path, key: &str, value: &str) -> usize {
    let text = std::fs::read_to_string(file).unwrap();
    let prefix = format!("{key} = ");
    let mut at = 0;
    let lines: Vec<String> = text
        .lines()
        .enumerate()
        .map(|(i, line)| {
            if line.starts_with(&prefix) {
                at = i + 1;
                format!("{prefix}{value}")
            } else {
                line.to_owned()
            }
        })
        .collect();
    assert!(at > 0, "no {key} in {text}");
    std::fs::write(file, lines.join("\n") + "\n").unwrap();
    at
}

fn json(line: &str) -> serde_json::Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
}

/// `GET /metrics` at `addr`: the status line.
fn get_metrics(addr: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer.lines().next().unwrap_or_default().to_owned()
}

#[test]
fn init_writes_a_config_that_run_takes_and_sighup_reloads_it() {
    let dir = tempfile::tempdir().unwrap();
    let (topo, certs) = prepare(dir.path(), "127.0.52.1");
    let data = dir.path().join("data");
    let file = dir.path().join("etc").join("node.toml");

    // The county 350102: its parent, the city, is not running, so it keeps
    // dialing, which shows where it dials.
    let o = liandong(&[
        "node",
        "init",
        "--id",
        "350102",
        "--data",
        arg(&data),
        "--topology",
        arg(&topo),
        "--certs",
        arg(&certs),
        "--out",
        arg(&file),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains(&format!("liandong node run --config {}", file.display())),
        "{}",
        stdout(&o)
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains("parent = \"127.0.52.1:7100\""),
        "the topology's parent address:\n{text}"
    );

    let mut node = Running::start(&["node", "run", "--config", arg(&file)]);
    let running = node.wait_for("node running", |l| l.contains("node running"));
    assert!(running.contains("links=127.0.52.1:7101"), "{running}");
    assert!(running.contains("control=127.0.52.1:8101"), "{running}");

    // Live changes: JSON logs, debug lines of the node runtime, metrics on
    // a fresh port, and the parent somewhere else (nothing listens there).
    set(&file, "log_format", "\"json\"");
    set(&file, "log_filter", "\"info,liandong_node=debug\"");
    set(&file, "metrics", "\"127.0.52.1:0\"");
    set(&file, "parent", "\"127.0.52.9:7100\"");
    node.signal(libc::SIGHUP);
    let metrics = node.wait_for("serving metrics (JSON)", |l| {
        l.contains("serving metrics at the new address")
    });
    let metrics = json(&metrics)["metrics"].as_str().expect("metrics address").to_owned();
    let reloaded = json(&node.wait_for("config reloaded", |l| l.contains("config reloaded")));
    assert_eq!(
        reloaded["applied"], "log_format/log_filter, metrics, parent",
        "{reloaded}"
    );
    assert_eq!(reloaded["needs_restart"], "none", "{reloaded}");
    assert_eq!(get_metrics(&metrics), "HTTP/1.1 200 OK");
    // The next dial goes to the new address (a debug line, so the filter
    // took effect too).
    node.wait_for("a dial to 127.0.52.9:7100", |l| {
        l.contains("dial failed") && l.contains("127.0.52.9:7100") && l.contains("\"level\":\"DEBUG\"")
    });

    // A broken file: reported with its line, and nothing changes.
    let line = set(&file, "metrics", "\"not an address\"");
    node.signal(libc::SIGHUP);
    let refused = json(&node.wait_for("config not reloaded", |l| l.contains("config not reloaded")));
    let error = refused["error"].as_str().unwrap_or_default();
    assert!(
        error.contains(&format!("node.toml:{line}:11: `metrics` is not an address")),
        "{refused}"
    );
    assert_eq!(
        get_metrics(&metrics),
        "HTTP/1.1 200 OK",
        "the old metrics endpoint still serves"
    );

    // A change that needs a restart is reported, not applied; the metrics
    // fix applies with it.
    set(&file, "metrics", "\"\"");
    set(&file, "listen", "\"127.0.52.1:7201\"");
    node.signal(libc::SIGHUP);
    let warned = json(&node.wait_for("needs a restart", |l| l.contains("needs a restart")));
    assert_eq!(warned["fields"], "listen", "{warned}");
    let reloaded = json(&node.wait_for("config reloaded", |l| l.contains("config reloaded")));
    assert_eq!(reloaded["applied"], "metrics", "{reloaded}");
    assert_eq!(reloaded["needs_restart"], "listen", "{reloaded}");
    assert!(TcpStream::connect(&metrics).is_err(), "the metrics endpoint is closed");

    let status = node.stop();
    assert!(status.success(), "exit status {status}");
}

#[test]
fn a_flag_given_with_config_overrides_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (topo, certs) = prepare(dir.path(), "127.0.53.1");
    let data = dir.path().join("data");
    let o = liandong(&[
        "node",
        "init",
        "--id",
        "350100",
        "--top",
        "--data",
        arg(&data),
        "--topology",
        arg(&topo),
        "--certs",
        arg(&certs),
        "--control",
        "127.0.53.2:8100",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let file = data.join("node.toml");
    assert!(file.is_file(), "the default place: DATA/node.toml");

    let mut node = Running::start(&[
        "node",
        "run",
        "--config",
        arg(&file),
        "--control",
        "127.0.53.3:8100",
        "--log-format",
        "json",
    ]);
    let running = json(&node.wait_for("node running", |l| l.contains("node running")));
    assert_eq!(running["control"], "127.0.53.3:8100", "{running}");
    assert_eq!(running["links"], "127.0.53.1:7100", "the file's: {running}");
    let status = node.stop();
    assert!(status.success(), "exit status {status}");
}

#[test]
fn init_refuses_to_overwrite_and_says_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let (topo, certs) = prepare(dir.path(), "127.0.54.1");
    let file = dir.path().join("node.toml");
    let base = [
        "node",
        "init",
        "--id",
        "350102",
        "--data",
        "/var/lib/liandong",
        "--certs",
        arg(&certs),
        "--topology",
        arg(&topo),
        "--out",
        arg(&file),
    ];
    let o = liandong(&base);
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::write(&file, "# edited by hand\n").unwrap();
    let o = liandong(&base);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("exists: give --force"), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "# edited by hand\n",
        "left alone"
    );
    let mut forced = base.to_vec();
    forced.push("--force");
    let o = liandong(&forced);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::read_to_string(&file).unwrap().contains("id = \"350102\""));
    use std::os::unix::fs::PermissionsExt;
    let nowhere = dir.path().join("nowhere");
    let new = dir.path().join("new.toml");
    let o = liandong(&[
        "node",
        "init",
        "--id",
        "350100",
        "--top",
        "--listen",
        "127.0.0.1:7100",
        "--data",
        "d",
        "--certs",
        arg(&nowhere),
        "--out",
        arg(&new),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mode = std::fs::metadata(&new).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o640, "the store URL may hold a password");
    assert!(
        stdout(&o).contains("note: no certificate for node 350100"),
        "{}",
        stdout(&o)
    );

    // Without a topology, the parent and the listen address must be given.
    let o = liandong(&["node", "init", "--id", "350102", "--data", "d"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--parent") && stderr(&o).contains("--listen"),
        "{}",
        stderr(&o)
    );
    // The top center has no parent.
    let o = liandong(&[
        "node",
        "init",
        "--id",
        "350100",
        "--parent",
        "127.0.0.1:7000",
        "--data",
        "d",
        "--topology",
        arg(&topo),
        "--out",
        arg(&dir.path().join("top.toml")),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("top center"), "{}", stderr(&o));
}

#[test]
fn run_with_a_broken_config_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("node.toml");
    std::fs::write(
        &file,
        "id = \"350102\"\nlisten = \"127.0.0.1:7101\"\ndata = \"d\"\ncerts = \"c\"\nlog_fromat = \"json\"\n",
    )
    .unwrap();
    let o = liandong(&["node", "run", "--config", arg(&file)]);
    assert_eq!(o.status.code(), Some(1));
    let want = format!("error: {}:5:1: unknown field `log_fromat`", file.display());
    assert!(stderr(&o).starts_with(&want), "{}", stderr(&o));

    std::fs::write(
        &file,
        "id = \"350102\"\nlisten = \"127.0.0.1:7101\"\ndata = \"d\"\ncerts = \"c\"\n",
    )
    .unwrap();
    let o = liandong(&["node", "run", "--config", arg(&file)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no topology"), "{}", stderr(&o));
}
