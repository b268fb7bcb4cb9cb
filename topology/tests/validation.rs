//! Every validation rule, each with a broken file under tests/broken/:
//! the error must name the problem and point at the marked line.

use std::path::PathBuf;

use liandong_topology::{ProblemKind, Topology};

/// Loads `tests/broken/<name>`, expects it refused, and checks that some
/// problem's message contains `expect` and, when the file marks a line with
/// `# <- here` and the marker does not say "without a position", that the
/// problem points at `<name>:<line>:`.
fn check(name: &str, expect: &str) -> Vec<ProblemKind> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/broken")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    let err = Topology::load(&path).expect_err(name);
    let message = err.to_string();
    let matching: Vec<&str> = message.lines().filter(|l| l.contains(expect)).collect();
    assert!(
        !matching.is_empty(),
        "{name}: no problem mentions {expect:?}; got:\n{message}"
    );
    let marker = text.lines().position(|l| l.contains("<- here")).map(|i| i + 1);
    let positioned = !text.contains("without a position");
    if let (Some(line), true) = (marker, positioned) {
        let want = format!("{name}:{line}:");
        assert!(
            matching.iter().any(|m| m.contains(&want)),
            "{name}: expected {want} in:\n{message}"
        );
    }
    err.problems().iter().map(|p| p.kind.clone()).collect()
}

#[test]
fn duplicate_id() {
    let kinds = check("duplicate-id.toml", "duplicate node id 350102 (first defined at");
    assert!(matches!(kinds[..], [ProblemKind::DuplicateId { .. }]), "{kinds:?}");
}

#[test]
fn unknown_parent() {
    check(
        "unknown-parent.toml",
        "node 350102 names parent 350199, which is not in the topology",
    );
}

#[test]
fn cycle() {
    check(
        "cycle.toml",
        "parent links form a cycle: 350102001 -> 350102002 -> 350102001",
    );
}

#[test]
fn no_root() {
    let kinds = check("no-root.toml", "parent links form a cycle: 350102 -> 350121");
    assert!(kinds.contains(&ProblemKind::NoRoot), "{kinds:?}");
}

#[test]
fn level_not_below_parent() {
    check(
        "level-not-below.toml",
        "node 350102 is a city but its parent 350100 is a city",
    );
}

#[test]
fn several_roots() {
    check(
        "several-roots.toml",
        "several roots (nodes without a parent): 350100, 350200",
    );
}

#[test]
fn bad_address() {
    check("bad-address.toml", "node 350102 has a bad listen address \"127.0.0.1\"");
}

#[test]
fn duplicate_listen_address() {
    check(
        "duplicate-listen.toml",
        "listen address 127.0.0.1:7100 is used by both 350100",
    );
}

#[test]
fn policy_level_missing() {
    check(
        "policy-missing-level.toml",
        "policy sends severity Routine to level township, but this tree has no township center",
    );
}

#[test]
fn policy_not_monotonic() {
    check(
        "policy-not-monotonic.toml",
        "policy sends severity III only to county but the less severe IV to city",
    );
}

#[test]
fn toml_syntax_error_has_line_and_column() {
    check("syntax.toml", "syntax.toml:");
}

#[test]
fn unknown_level() {
    check("unknown-level.toml", "unknown variant `prefecture`");
}

#[test]
fn malformed_id() {
    check("bad-id.toml", "node id \"35010\" must start with a division code");
}

#[test]
fn unknown_key_is_refused() {
    check("unknown-key.toml", "unknown field `levle`");
}

#[test]
fn member_unit_sits_at_its_centers_level() {
    check(
        "unit-level.toml",
        "member unit 350100-police is at level county but its center 350100 is a city",
    );
}

#[test]
fn member_unit_has_no_children() {
    check(
        "unit-parent.toml",
        "node 350102 has member unit 350100-police as its parent",
    );
}

#[test]
fn bad_duration() {
    check(
        "bad-duration.toml",
        "bad duration \"ten minutes\" for policy.deadlines.II.accept",
    );
}

#[test]
fn failover_too_short() {
    check(
        "failover-too-short.toml",
        "link.failover_after (6s) must be at least twice link.heartbeat (5s)",
    );
}

#[test]
fn empty_topology() {
    check("empty.toml", "the topology has no nodes");
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = "[[node]]\nid = \"350100\"\nname = \"福州市\"\nlevel = \"city\"\nlisten = \"127.0.0.1:1\"\n\n\
                [[node]]\nid = \"350102\"\nname = \"鼓楼区\"\nlevel = \"county\"\nparent = \"350199\"\nlisten = \"127.0.0.1:1\"\n";
    let err = Topology::parse(text, None).unwrap_err();
    assert_eq!(err.problems().len(), 3, "{err}");
    assert!(
        err.to_string()
            .contains("line 11, column 10: node 350102 names parent 350199"),
        "{err}"
    );
}

#[test]
fn columns_count_characters_not_bytes() {
    let text = "[[node]]\nid = \"350100\"\nname = \"福州市\"\nlevel = \"city\"\nlisten = \"127.0.0.1:1\"\n\
                [[node]]\nid = \"350102\"\nname = \"鼓楼区\"\nlevel = \"city\" \nparent = \"350100\"\nlisten = \"127.0.0.1:2\"\n";
    let err = Topology::parse(text, None).unwrap_err();
    assert!(
        err.to_string().starts_with("line 9, column 9: node 350102 is a city"),
        "{err}"
    );
}

#[test]
fn bad_link_class() {
    let kinds = check("bad-link-class.toml", "bad link.village.rate_kbps: 4 is below 8 kbit/s");
    assert!(matches!(kinds[..], [ProblemKind::BadLinkClass { .. }]), "{kinds:?}");
}

#[test]
fn safety_index_threshold_beyond_100() {
    let kinds = check(
        "bad-index.toml",
        "policy.index.alarm_below is 120; the index runs from 0 to 100",
    );
    assert!(matches!(kinds[..], [ProblemKind::BadIndex(_)]), "{kinds:?}");
}

/// `[policy.index]` read, with what it leaves out at its default, and
/// written back by `to_toml` as read.
#[test]
fn safety_index_weights_are_read_and_written_back() {
    let text = "[policy]\nreach = { Routine = \"city\", IV = \"city\", III = \"city\" }\n\n[policy.index]\non_time = 50\nper_incident = { I = 30, II = 12 }\nalarm_below = 70\n\n\
        [[node]]\nid = \"350100\"\nname = \"福州市\"\nlevel = \"city\"\nlisten = \"127.0.0.1:7100\"\n";
    let t = Topology::parse(text, None).unwrap();
    let w = t.policy().index();
    assert_eq!((w.on_time, w.resolved, w.alarm_below), (50, 40, 70));
    assert_eq!(w.per_incident, [0, 1, 4, 12, 30]);
    let again = Topology::parse(&t.to_toml(), None).unwrap();
    assert_eq!(again.policy().index(), w);
}

#[test]
fn summary_period_unknown() {
    let kinds = check(
        "bad-summary.toml",
        "policy.summary.periods names \"week\"; the periods are \"day\" and \"month\"",
    );
    assert!(matches!(kinds[..], [ProblemKind::BadSummary(_)]), "{kinds:?}");
}

/// `[policy.summary]` read and written back; its defaults are day and
/// month after five minutes per level.
#[test]
fn summary_settings_are_read_and_written_back() {
    let tree = "[[node]]\nid = \"350100\"\nname = \"福州市\"\nlevel = \"city\"\nlisten = \"127.0.0.1:7100\"\n";
    let policy = "[policy]\nreach = { Routine = \"city\", IV = \"city\", III = \"city\" }\n";
    let plain = Topology::parse(&format!("{policy}\n{tree}"), None).unwrap();
    let s = plain.policy().summary();
    assert_eq!((s.day, s.month, s.grace.as_secs()), (true, true, 300));
    let text = format!("{policy}\n[policy.summary]\nperiods = [\"month\"]\ngrace = \"15m\"\n\n{tree}");
    let t = Topology::parse(&text, None).unwrap();
    let s = t.policy().summary();
    assert_eq!((s.day, s.month, s.grace.as_secs()), (false, true, 900));
    let again = Topology::parse(&t.to_toml(), None).unwrap();
    assert_eq!(again.policy().summary(), s);
    let err = Topology::parse(&text.replace("15m", "7h"), None).unwrap_err();
    assert!(
        err.to_string().contains("policy.summary.grace is \"7h\"; at most 6h"),
        "{err}"
    );
}
