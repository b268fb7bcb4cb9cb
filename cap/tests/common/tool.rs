//! Tools a test drives that a fresh machine may lack (xmllint here).
//!
//! A test that needs one calls [`require`] first. Without the tool and
//! with `CI` unset, it prints one line saying what it skipped and why, and
//! passes; with `CI` set (`.ci/run` sets it and installs every tool), a
//! missing tool fails the test, so CI never passes by skipping. The same
//! pattern as the workspace's tests/common/tool.rs.

use std::io::Write;
use std::path::Path;

/// Whether `tool` is on `PATH`. If not: `CI` set panics; otherwise one
/// line on stderr names the skipped `test` and what the tool is for, and
/// the caller returns.
pub fn require(tool: &str, test: &str, what_for: &str) -> bool {
    if on_path(tool) {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("CI is set but {tool} is not installed: {test} needs it ({what_for}); .ci/run installs it");
    }
    // Straight to the process's stderr: the test harness captures what
    // `eprintln!` prints in a passing test, and this line must show.
    let _ = writeln!(
        std::io::stderr(),
        "skipped {test}: {tool} is not installed ({what_for}); `bash .ci/run` installs it and runs everything"
    );
    false
}

/// Whether an executable named `tool` is in one of `PATH`'s directories.
fn on_path(tool: &str) -> bool {
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| is_executable(&dir.join(tool)))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
