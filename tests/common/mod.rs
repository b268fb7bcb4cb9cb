//! Helpers shared by the end-to-end tests: run the real binary, read its
//! output.

#![allow(dead_code)] // each test file uses only some of these

use std::path::Path;
use std::process::{Command, Output};

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
