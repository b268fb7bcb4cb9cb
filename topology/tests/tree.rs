//! Queries and generators, checked on the demo and the real-sized presets.

use std::collections::HashSet;

use liandong_topology::{
    Addressing, FanOut, GenerateError, Kind, Level, NodeId, Preset, Reach, Severity, Shape, Topology, generate,
};

fn id(s: &str) -> NodeId {
    NodeId::parse(s).unwrap()
}

fn preset(p: Preset) -> Topology {
    generate(&Shape::Preset(p), Addressing::default()).unwrap()
}

fn ids<'a>(nodes: impl IntoIterator<Item = &'a liandong_topology::NodeInfo>) -> Vec<&'a str> {
    nodes.into_iter().map(|n| n.id.as_str()).collect()
}

#[test]
fn demo_has_the_promised_shape() {
    let t = preset(Preset::Demo);
    assert_eq!(t.len(), 17);
    let counts = t.count_by_level();
    assert_eq!(counts[&Level::City].centers, 1);
    assert_eq!(counts[&Level::County].centers, 2);
    assert_eq!(counts[&Level::County].member_units, 2);
    assert_eq!(counts[&Level::Township].centers, 4);
    assert_eq!(counts[&Level::Village].centers, 8);
    assert_eq!(t.get(&id("350102-police")).unwrap().kind, Kind::MemberUnit);
    assert_eq!(t.root().name, "福州市");
}

#[test]
fn real_sized_presets_have_the_real_counts() {
    let f = preset(Preset::Fuzhou);
    let c = f.count_by_level();
    let centers = |l| c[&l].centers;
    assert_eq!(
        (
            centers(Level::City),
            centers(Level::County),
            centers(Level::Township),
            centers(Level::Village)
        ),
        (1, 13, 173, 2660)
    );
    assert_eq!(f.get(&id("350181")).unwrap().name, "福清市");

    let j = preset(Preset::Jiangsu);
    assert_eq!(j.len(), 22_812);
    let c = j.count_by_level();
    let got: Vec<usize> = [
        Level::Province,
        Level::City,
        Level::County,
        Level::Township,
        Level::Village,
    ]
    .iter()
    .map(|l| c[l].centers)
    .collect();
    assert_eq!(got, [1, 13, 98, 1280, 21_420]);
}

#[test]
fn generated_ids_nest_and_addresses_are_distinct_loopback_ports() {
    for p in Preset::ALL {
        let t = preset(p);
        let mut addrs = HashSet::new();
        for n in t.nodes() {
            assert!(n.listen.ip().is_loopback(), "{}", n.listen);
            assert!(addrs.insert(n.listen), "duplicate {}", n.listen);
            assert!(n.listen.port() < 32_768, "port in the ephemeral range: {}", n.listen);
            if let Some(parent) = &n.parent {
                let (child, parent) = (n.id.division(), parent.division());
                // Below the county, a child's code extends its parent's.
                if matches!(n.level, Level::Township | Level::Village) && n.kind == Kind::Center {
                    assert!(
                        child.starts_with(parent) && child.len() == parent.len() + 3,
                        "{child} under {parent}"
                    );
                }
            }
            assert!(!n.name.is_ascii(), "{} has no Chinese name: {}", n.id, n.name);
        }
        // Siblings have distinct names, so operators can tell them apart.
        for n in t.nodes() {
            let names: Vec<&str> = t.children(&n.id).map(|c| c.name.as_str()).collect();
            let unique: HashSet<&&str> = names.iter().collect();
            assert_eq!(unique.len(), names.len(), "children of {} share names: {names:?}", n.id);
        }
    }
}

#[test]
fn parent_children_ancestors_level() {
    let t = preset(Preset::Demo);
    let v = id("350102001002");
    assert_eq!(t.parent(&v).unwrap().id.as_str(), "350102001");
    assert_eq!(ids(t.ancestors(&v)), ["350102001", "350102", "350100"]);
    assert_eq!(
        ids(t.children(&id("350102"))),
        ["350102-police", "350102001", "350102002"]
    );
    assert_eq!(t.level(&v), Some(Level::Village));
    assert!(t.parent(&id("350100")).is_none());
    assert_eq!(t.ancestors(&id("350100")).count(), 0);
    assert!(t.is_ancestor(&id("350100"), &v));
    assert!(t.is_ancestor(&id("350102"), &v));
    assert!(!t.is_ancestor(&id("350121"), &v));
    assert!(!t.is_ancestor(&v, &v));
    assert_eq!(t.children(&id("999999")).count(), 0);
}

#[test]
fn subtree_with_level_filter() {
    let t = preset(Preset::Demo);
    assert_eq!(
        ids(t.subtree(&id("350102"), Some(Level::Village))),
        ["350102001001", "350102001002", "350102002001", "350102002002"]
    );
    assert_eq!(t.subtree(&id("350102"), None).count(), 8);
    assert_eq!(t.subtree(&id("350100"), Some(Level::Village)).count(), 8);
    assert_eq!(ids(t.subtree(&id("350121001001"), None)), ["350121001001"]);

    let f = preset(Preset::Fuzhou);
    let villages = f.subtree(&id("350102"), Some(Level::Village)).count();
    let expected: usize = f.children(&id("350102")).map(|town| f.children(&town.id).count()).sum();
    assert_eq!(villages, expected);
    assert!(villages > 100);
}

#[test]
fn lowest_common_ancestor_and_path() {
    let t = preset(Preset::Demo);
    let (a, b) = (id("350102001001"), id("350102002002"));
    assert_eq!(t.lca(&a, &b).unwrap().id.as_str(), "350102");
    assert_eq!(t.lca(&a, &id("350121002001")).unwrap().id.as_str(), "350100");
    assert_eq!(t.lca(&a, &a).unwrap().id, a);
    assert_eq!(t.lca(&a, &id("350102")).unwrap().id.as_str(), "350102");
    let path = t.path(&a, &b).unwrap();
    assert_eq!(
        ids(path),
        ["350102001001", "350102001", "350102", "350102002", "350102002002"]
    );
    assert_eq!(
        ids(t.path(&id("350100"), &a).unwrap()),
        ["350100", "350102", "350102001", "350102001001"]
    );
    assert!(t.path(&a, &id("999999")).is_none());
}

#[test]
fn owner_follows_the_severity_policy() {
    let t = preset(Preset::Demo);
    let village = id("350121002001");
    let owner = |s| t.owner(&village, s).unwrap().id.as_str().to_owned();
    assert_eq!(owner(Severity::Routine), "350121002");
    assert_eq!(owner(Severity::IV), "350121");
    assert_eq!(owner(Severity::III), "350100");
    assert_eq!(owner(Severity::II), "350100");
    assert_eq!(owner(Severity::I), "350100");
    // A member unit reports through its center.
    assert_eq!(
        t.owner(&id("350121-police"), Severity::Routine).unwrap().id.as_str(),
        "350121"
    );
    assert_eq!(
        t.owner(&id("350121-police"), Severity::III).unwrap().id.as_str(),
        "350100"
    );

    let j = preset(Preset::Jiangsu);
    let v = j
        .subtree(&id("320500"), Some(Level::Village))
        .next()
        .unwrap()
        .id
        .clone();
    assert_eq!(j.owner(&v, Severity::III).unwrap().id.as_str(), "320500");
    assert_eq!(j.owner(&v, Severity::II).unwrap().id.as_str(), "320000");
}

#[test]
fn written_file_loads_back_equal() {
    for p in [Preset::Demo, Preset::Fuzhou] {
        let t = preset(p);
        let text = t.to_toml();
        let back = Topology::parse(&text, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back.name(), t.name());
        assert_eq!(back.policy(), t.policy());
        assert_eq!(back.link(), t.link());
        assert!(
            back.nodes().eq(t.nodes()),
            "{} nodes differ after a round trip",
            p.name()
        );
    }
}

#[test]
fn committed_examples_match_the_generators() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    for p in [Preset::Demo, Preset::Fuzhou] {
        let file = dir.join(format!("{}.toml", p.name()));
        let loaded = Topology::load(&file).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            loaded.nodes().eq(preset(p).nodes()),
            "{} is stale: regenerate it",
            file.display()
        );
    }
}

#[test]
fn custom_fan_out() {
    let shape = Shape::FanOut(FanOut {
        top: Level::City,
        fanout: vec![3, 4, 5],
        units: vec!["police".into(), "justice".into()],
    });
    let t = generate(
        &shape,
        Addressing {
            base_port: 40_000,
            ..Addressing::default()
        },
    )
    .unwrap();
    let c = t.count_by_level();
    assert_eq!(c[&Level::County].centers, 3);
    assert_eq!(c[&Level::County].member_units, 6);
    assert_eq!(c[&Level::Township].centers, 12);
    assert_eq!(c[&Level::Village].centers, 60);
    assert_eq!(t.root().listen.port(), 40_000);

    // A shallow tree gets a policy that only names levels it has.
    let shallow = generate(
        &Shape::FanOut(FanOut {
            top: Level::City,
            fanout: vec![2],
            units: vec![],
        }),
        Addressing::default(),
    )
    .unwrap();
    let v = shallow.children(&shallow.root().id).next().unwrap().id.clone();
    assert_eq!(shallow.owner(&v, Severity::Routine).unwrap().id, v);

    let too_wide = FanOut {
        top: Level::City,
        fanout: vec![120],
        units: vec![],
    };
    assert!(matches!(
        generate(&Shape::FanOut(too_wide), Addressing::default()),
        Err(GenerateError::FanOutTooWide { max: 98, .. })
    ));
    let too_deep = FanOut {
        top: Level::City,
        fanout: vec![1; 5],
        units: vec![],
    };
    assert!(matches!(
        generate(&Shape::FanOut(too_deep), Addressing::default()),
        Err(GenerateError::TooDeep { .. })
    ));
    let bad_unit = FanOut {
        top: Level::City,
        fanout: vec![1],
        units: vec!["Police".into()],
    };
    assert!(matches!(
        generate(&Shape::FanOut(bad_unit), Addressing::default()),
        Err(GenerateError::BadUnit(_))
    ));
    let ports = Addressing {
        base_port: 60_000,
        ..Addressing::default()
    };
    let err = generate(&Shape::Preset(Preset::Jiangsu), ports).unwrap_err();
    assert!(err.to_string().contains("22812 nodes do not fit"), "{err}");
}

#[test]
fn built_topologies_obey_the_policy_rules_too() {
    let demo = preset(Preset::Demo);
    let mut policy = demo.policy().clone();
    policy.set_reach(Severity::II, Reach::Level(Level::Township));
    let err = Topology::build("x", demo.nodes().cloned().collect(), policy, *demo.link()).unwrap_err();
    assert!(
        err.to_string()
            .contains("policy sends severity II only to township but the less severe III to city"),
        "{err}"
    );
}

#[test]
fn a_declared_thin_link_class_loads_and_is_written_back() {
    let text = format!(
        "{}\n[link.village]\nrate_kbps = 64\nurgent_copies = 3\nwindow = \"3s\"\n",
        preset(Preset::Demo).to_toml()
    );
    let t = Topology::parse(&text, None).unwrap_or_else(|e| panic!("{e}"));
    let village = t.link().class(liandong_topology::Level::Village);
    assert_eq!(village.rate, Some(8000), "64 kbit/s is 8000 bytes/s");
    assert_eq!(village.urgent_copies, 3);
    assert_eq!(village.window, std::time::Duration::from_secs(3));
    assert_eq!(t.link().class(liandong_topology::Level::Township), Default::default());
    let back = Topology::parse(&t.to_toml(), None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back.link(), t.link());
}
