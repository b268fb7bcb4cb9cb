//! Helpers shared by the end-to-end tests: run the real binary, read its
//! output; [`control`] is a fake node for the operator commands; [`room`]
//! the coordination room the room commands' tests share; [`tool`] skips a
//! test whose tool (tmux) the machine lacks, unless `CI` is set;
//! [`gateway`] the gateway's certificate and tokens; [`webdriver`] a
//! headless Chromium for the gateway's page; [`photo`] a small real PNG.

#![allow(dead_code)] // each test file uses only some of these

pub mod control;
pub mod gateway;
pub mod room;
pub mod tool;
pub mod webdriver;

use std::path::Path;
use std::process::{Command, Output};

use unicode_width::UnicodeWidthStr;

/// Runs the `liandong` binary built for these tests.
pub fn liandong(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_liandong"))
        .args(args)
        .output()
        .expect("run liandong")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A temp path as a command-line argument.
pub fn arg(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// Display column at which `needle` starts in `line` (a CJK character
/// takes two columns).
pub fn column_of(line: &str, needle: &str) -> usize {
    let at = line
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in {line:?}"));
    line[..at].width()
}
