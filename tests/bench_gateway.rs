//! The gateway bench, tiny: `liandong bench gateway` with 50 reports per
//! run, 4 at a time, on its own loopback address. It asserts that every
//! report of every run was counted (accepted, none failed or unsent), that
//! the runs alternated control and HTTP, and that the figures and the
//! HTTP/control ratio were printed. It asserts no speed: the machine is
//! shared. The full bench is `liandong bench gateway --reports 5000`.

mod common;

use std::time::Instant;

#[test]
fn the_gateway_bench_counts_every_report_through_both_doors() {
    let started = Instant::now();
    let out = common::liandong(&[
        "bench",
        "gateway",
        "--reports",
        "50",
        "--concurrency",
        "4",
        "--warmup",
        "10",
        "--seconds",
        "60",
        "--ip",
        "127.0.48.2",
        "--quiet-log",
    ]);
    let text = common::stdout(&out);
    println!("{text}\n(bench took {:.1} s)", started.elapsed().as_secs_f64());
    assert!(out.status.success(), "{text}\n{}", common::stderr(&out));

    let runs: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|w| w.first().is_some_and(|n| n.parse::<usize>().is_ok()))
        .collect();
    assert_eq!(runs.len(), 4, "two rounds of two runs:\n{text}");
    for (i, w) in runs.iter().enumerate() {
        // run, door, accepted/asked, failed, unsent, time, reports/s, p50, p99
        assert_eq!(w.len(), 9, "{text}");
        assert_eq!(w[0], (i + 1).to_string(), "{text}");
        assert_eq!(w[1], ["control", "HTTP"][i % 2], "the runs alternate:\n{text}");
        assert_eq!(w[2], "50/50", "every report counted:\n{text}");
        assert_eq!((w[3], w[4]), ("0", "0"), "none failed or unsent:\n{text}");
        for figure in &w[5..] {
            let v: f64 = figure
                .parse()
                .unwrap_or_else(|_| panic!("{figure:?} is not a figure:\n{text}"));
            assert!(v > 0.0, "{figure} in run {}:\n{text}", i + 1);
        }
    }
    let ratio = text
        .lines()
        .find_map(|l| l.strip_prefix("HTTP/control: "))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|r| r.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no HTTP/control ratio:\n{text}"));
    assert!(ratio > 0.0, "{text}");
    assert!(text.contains("machine: "), "{text}");
    assert!(text.contains("owned by 350102, reporters as filed"), "{text}");
}
