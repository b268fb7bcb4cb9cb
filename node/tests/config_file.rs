//! The node's config file, broken one rule at a time: each file under
//! `tests/broken_config/` breaks exactly one rule, and the error must name
//! the file, the line (and column) where it is broken, and what is wrong.

use std::path::{Path, PathBuf};

use liandong_node::runtime::{FileError, Settings};

fn broken(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/broken_config")
        .join(format!("{name}.toml"))
}

/// Loads `name`, expects exactly one problem, on `line` (and `col` when
/// given), whose message contains `needle`; the whole error's text starts
/// with `FILE:LINE:COL:`.
fn check(name: &str, line: u32, col: Option<u32>, needle: &str) {
    let path = broken(name);
    let err = match Settings::load(&path) {
        Ok(s) => panic!("{name} loaded: {s:?}"),
        Err(e) => e,
    };
    let problems = err.problems();
    assert_eq!(problems.len(), 1, "{name}: {err}");
    let p = &problems[0];
    assert_eq!(p.at.line, line, "{name}: {p}");
    if let Some(col) = col {
        assert_eq!(p.at.col, col, "{name}: {p}");
    }
    let text = err.to_string();
    let prefix = format!("{}:{}:{}: ", path.display(), p.at.line, p.at.col);
    assert!(
        text.starts_with(&prefix),
        "{name}: {text:?} does not start with {prefix:?}"
    );
    assert!(text.contains(needle), "{name}: {text:?} does not say {needle:?}");
}

#[test]
fn a_toml_syntax_error() {
    check("syntax", 3, None, "invalid basic string");
}

#[test]
fn a_typo_in_a_key() {
    check("unknown-key", 4, Some(1), "unknown field `listn`");
}

#[test]
fn a_missing_required_field() {
    check("missing-id", 1, Some(1), "`id` is missing");
}

#[test]
fn an_id_that_is_not_a_division_code() {
    check("bad-id", 3, Some(6), "`id` is not a node id");
}

#[test]
fn an_address_without_a_port() {
    check("bad-listen", 4, Some(10), "`listen` is not an address: \"127.0.0.1\"");
}

#[test]
fn a_host_name_for_the_parent() {
    check("bad-parent", 5, Some(10), "`parent` is not an address");
}

#[test]
fn a_port_out_of_range() {
    check("bad-metrics", 9, Some(11), "`metrics` is not an address");
}

#[test]
fn a_number_where_a_string_belongs() {
    check("not-a-string", 4, Some(10), "string");
}

#[test]
fn a_log_format_that_does_not_exist() {
    check(
        "bad-log-format",
        10,
        Some(14),
        "\"yaml\" is neither \"text\" nor \"json\"",
    );
}

#[test]
fn a_log_level_that_does_not_exist() {
    check(
        "bad-log-filter",
        11,
        Some(14),
        "`log_filter` \"liandong_node=loud\" is not a log filter",
    );
}

#[test]
fn a_store_that_is_not_postgresql() {
    check("bad-store", 7, Some(9), "`store` is not a PostgreSQL URL");
}

#[test]
fn an_empty_data_directory() {
    check("empty-data", 6, Some(8), "`data` is empty");
}

#[test]
fn a_gateway_without_its_certificate() {
    check(
        "gateway-without-certificate",
        9,
        Some(11),
        "`gateway` needs `gateway_cert` and `gateway_key`",
    );
}

#[test]
fn a_missing_file_names_it() {
    let path = broken("no-such-file");
    let err = Settings::load(&path).unwrap_err();
    assert!(matches!(err, FileError::Io { .. }), "{err}");
    assert!(err.to_string().contains("no-such-file.toml"), "{err}");
}

#[test]
fn every_broken_file_is_checked() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/broken_config");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let this = include_str!("config_file.rs");
    for name in names {
        let stem = name.trim_end_matches(".toml");
        assert!(this.contains(&format!("\"{stem}\",")), "{name} has no test here");
    }
}
