//! Loading and querying the Jiangsu preset (22,812 nodes).
//!
//! Run with `cargo bench -p liandong-topology`. Figures are medians of a
//! few runs, quoted against baselines measured in the same run: loading is
//! compared with a bare TOML parse of the same text, queries with a bare
//! id lookup.

use std::hint::black_box;
use std::time::{Duration, Instant};

use liandong_topology::{Addressing, Preset, Severity, Shape, Topology, generate};

/// Median wall time of `runs` calls of `f`.
fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let topology = generate(&Shape::Preset(Preset::Jiangsu), Addressing::default()).expect("jiangsu preset");
    let text = topology.to_toml();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("jiangsu.toml");
    std::fs::write(&path, &text).expect("write jiangsu.toml");
    println!(
        "jiangsu.toml: {} nodes, {:.1} MiB",
        topology.len(),
        text.len() as f64 / (1 << 20) as f64
    );

    let runs = 7;
    let parse = median(runs, || {
        black_box(toml::from_str::<toml::Table>(black_box(&text)).expect("toml"));
    });
    let load = median(runs, || {
        black_box(Topology::load(&path).expect("valid"));
    });
    println!("baseline: bare TOML parse          {:8.1} ms", ms(parse));
    println!(
        "load + validate + index (from disk) {:8.1} ms  = {:.2}x the bare parse",
        ms(load),
        ms(load) / ms(parse)
    );

    // Queries over every node.
    let ids: Vec<_> = topology.nodes().map(|n| n.id.clone()).collect();
    let per_op = |d: Duration, ops: usize| d.as_nanos() as f64 / ops as f64;
    let lookup = median(runs, || {
        for id in &ids {
            black_box(topology.get(black_box(id)));
        }
    });
    let owner = median(runs, || {
        for id in &ids {
            for s in Severity::ALL {
                black_box(topology.owner(black_box(id), s));
            }
        }
    });
    let ancestors = median(runs, || {
        for id in &ids {
            black_box(topology.ancestors(black_box(id)).count());
        }
    });
    let root = topology.root().id.clone();
    let lca = median(runs, || {
        for pair in ids.windows(2) {
            black_box(topology.lca(&pair[0], &pair[1]));
        }
    });
    let base = per_op(lookup, ids.len());
    println!("baseline: id lookup                 {base:8.1} ns/op");
    for (name, d, ops) in [
        ("owner(origin, severity)", owner, ids.len() * 5),
        ("ancestors (walk to root)", ancestors, ids.len()),
        ("lowest common ancestor", lca, ids.len() - 1),
    ] {
        let ns = per_op(d, ops);
        println!("{name:<35} {ns:8.1} ns/op  = {:.1}x a lookup", ns / base);
    }
    let villages = median(runs, || {
        black_box(topology.subtree(&root, Some(liandong_topology::Level::Village)).count());
    });
    println!(
        "every village under the province    {:8.2} ms for 21,420 villages",
        ms(villages)
    );
}
