//! The real `liandong demo` in a real terminal (tmux): the console starts
//! on the city, a severity II report filed at a village appears on the
//! board, the operator accepts it and dispatches an order to a village, and
//! the village's acknowledgement shows on screen.
//!
//! Waiting reads the screen (capture-pane) until the expected text is
//! there or a deadline passes; nothing sleeps a fixed time to synchronise.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{arg, liandong, stderr};

const WAIT: Duration = Duration::from_secs(40);
const IP: &str = "127.0.33.1";

struct Tmux {
    session: String,
}

impl Tmux {
    fn start(command: &str) -> Tmux {
        let session = format!("liandong-e2e-{}", std::process::id());
        let ok = Command::new("tmux")
            .args(["new-session", "-d", "-s", &session, "-x", "160", "-y", "45", command])
            .env("LANG", "en_US.UTF-8")
            .status()
            .expect("tmux is installed (.ci/run installs it)");
        assert!(ok.success(), "tmux new-session failed");
        Tmux { session }
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.session])
            .output()
            .expect("capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the screen shows `text`; panics with the screen if not.
    fn wait_for(&self, text: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "the screen never showed {text:?}; it shows:\n{screen}"
            );
            // Poll the terminal; the console redraws on every pushed change.
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn keys(&self, keys: &[&str]) {
        for k in keys {
            let ok = Command::new("tmux")
                .args(["send-keys", "-t", &self.session, k])
                .status()
                .expect("send-keys");
            assert!(ok.success());
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.session])
            .status();
    }
}

fn operator(dir: &Path, node: &str, name: &str) -> (String, String) {
    let certs = dir.join("certs");
    let o = liandong(&[
        "certs",
        "issue-operator",
        "--ca",
        arg(&certs),
        "--node",
        node,
        "--name",
        name,
        "--role",
        "operator",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let base = certs.join("operators").join(node);
    (
        base.join(format!("{name}.pem")).display().to_string(),
        base.join(format!("{name}.key")).display().to_string(),
    )
}

#[test]
fn the_demo_console_shows_a_report_its_acceptance_and_a_village_signing_for_the_order() {
    if !common::tool::require(
        "tmux",
        "demo_tmux::the_demo_console_shows_a_report_its_acceptance_and_a_village_signing_for_the_order",
        "it drives `liandong demo` in a real terminal",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let demo = format!(
        "{} demo --dir {} --ip {IP} --lang en --report-every 3600 --outage-every 0 --seed 7 2> {}",
        env!("CARGO_BIN_EXE_liandong"),
        dir.path().display(),
        dir.path().join("stderr.txt").display()
    );
    let started = Instant::now();
    let tmux = Tmux::start(&demo);
    tmux.wait_for("Escalation");
    // The demo's first report, a severity I flood a grid worker files
    // through a village's gateway a second in, is on the city's board at
    // once (not after the ~45 s the demo's mix of routine reports took).
    tmux.wait_for("河道水位快速上涨");
    eprintln!(
        "the demo's first item on the city's board {:?} after the start",
        started.elapsed()
    );

    // A grid worker at 五一社区 files a severity II flood report.
    let (cert, key) = operator(dir.path(), "350102001001", "tester");
    let o = liandong(&[
        "report",
        "--node",
        &format!("{IP}:8104"),
        "--cert",
        &cert,
        "--key",
        &key,
        "--severity",
        "II",
        "--category",
        "flood",
        "--title",
        "Underpass flooded E2E",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let board = tmux.wait_for("Underpass flooded E2E");
    assert!(board.contains("Reported") || board.contains("reported"), "{board}");

    // Severity II sorts first: open it, accept it.
    tmux.keys(&["g", "Enter"]);
    tmux.wait_for("Timeline");
    tmux.keys(&["a"]);
    tmux.wait_for("accepted by");

    // Dispatch an order for it to 侯官村 and send it.
    tmux.keys(&["d"]);
    tmux.wait_for("侯官村");
    tmux.keys(&["End", "k", "Space", "Tab", "Tab", "Tab", "Tab", "Tab"]);
    tmux.keys(&["-l", "Check the underpass pumps"]);
    tmux.keys(&["C-s"]);
    tmux.keys(&["y"]);

    // The village's duty operator (the demo's traffic) signs for it.
    tmux.wait_for("1/1 signed");

    // Quitting stops every node cleanly.
    tmux.keys(&["Escape", "Escape", "q"]);
    let log = dir.path().join("stderr.txt");
    let deadline = Instant::now() + WAIT;
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("demo: stopped") {
            assert!(!text.contains("error"), "{text}");
            break;
        }
        assert!(Instant::now() < deadline, "the demo did not stop on q:\n{text}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
