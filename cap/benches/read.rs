//! Reading CAP alerts: the specification's examples and the worst inputs
//! the bounds allow, each against a bare quick-xml pass over the same
//! bytes (no tree, no checks) measured in the same run.
//!
//! Run with `cargo bench -p liandong-cap`. Figures are medians of 21 runs.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use liandong_cap::{MAX_BYTES, MAX_DEPTH, parse, to_xml};
use quick_xml::Reader;
use quick_xml::events::Event;

/// Median wall time of 21 calls of `f`.
fn median(mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..21)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[10]
}

/// Every event of `bytes`, read and dropped: what any XML reading costs.
fn bare(bytes: &[u8]) {
    let mut reader = Reader::from_reader(bytes);
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Eof) | Err(_) => break,
            Ok(e) => {
                black_box(e);
            }
        }
        buf.clear();
    }
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut inputs: Vec<(String, Vec<u8>)> = (1..=4)
        .map(|n| {
            let name = format!("appendix-a{n}.xml");
            let bytes = std::fs::read(data.join(&name)).expect("the example");
            (name, bytes)
        })
        .collect();
    // The largest valid alert: a polygon of as many points as fit.
    let a2 = String::from_utf8(inputs[1].1.clone()).expect("UTF-8");
    let mut points = String::from("38.47,-120.14");
    while points.len() < MAX_BYTES - a2.len() - 64 {
        points.push_str(" 38.34,-119.95");
    }
    points.push_str(" 38.47,-120.14");
    let big = a2.replace(
        "38.47,-120.14 38.34,-119.95 38.52,-119.74 38.62,-119.89 38.47,-120.14",
        &points,
    );
    inputs.push(("a polygon filling the bound".into(), big.into_bytes()));
    // Hostile: nested to the bound's depth and beyond, within the size bound.
    let deep = format!(
        "<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">{}",
        "<a>".repeat(MAX_BYTES / 4)
    );
    inputs.push((format!("nesting past depth {MAX_DEPTH} (refused)"), deep.into_bytes()));
    let entities = format!(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE a [{}]>",
        "<!ENTITY x \"y\">".repeat(MAX_BYTES / 20)
    );
    inputs.push(("a DOCTYPE of entities (refused)".into(), entities.into_bytes()));

    println!("CAP reading, medians of 21 runs (this machine: 2 cores, shared)");
    println!(
        "{:<34} {:>8} {:>12} {:>12} {:>7}",
        "input", "bytes", "bare µs", "parse µs", "ratio"
    );
    for (name, bytes) in &inputs {
        let base = median(|| bare(black_box(bytes)));
        let read = median(|| {
            let _ = black_box(parse(black_box(bytes)));
        });
        println!(
            "{name:<34} {:>8} {:>12.1} {:>12.1} {:>6.1}x",
            bytes.len(),
            us(base),
            us(read),
            us(read) / us(base)
        );
    }
    let alert = parse(&inputs[3].1).expect("the AMBER alert");
    let write = median(|| {
        black_box(to_xml(black_box(&alert)));
    });
    let reread = median(|| {
        let _ = black_box(parse(black_box(inputs[3].1.as_slice())));
    });
    println!(
        "writing appendix-a4 back: {:.1} µs = {:.2}x reading it",
        us(write),
        us(write) / us(reread)
    );
}
