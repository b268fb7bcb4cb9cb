//! Helpers shared by the simulator's tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use liandong_sim::Scenario;

pub fn scenarios_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios")
}

/// Every shipped scenario file, by name.
pub fn shipped() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(scenarios_dir())
        .expect("scenarios/ exists")
        .map(|e| e.expect("readable").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    v.sort();
    v
}

pub fn load(name: &str) -> Scenario {
    let path = scenarios_dir().join(format!("{name}.toml"));
    Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"))
}
