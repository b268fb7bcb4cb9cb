//! The JetStream bench run small against a real nats-server: both settings
//! and modes give figures, and every acked message is in the stream. Without
//! a nats-server it says what it skipped and passes, unless `CI` is set
//! (.ci/run installs one), then it fails.

use std::time::Duration;

use liandong_chaos::jetstream::{self, JetStreamConfig, JetStreamOutcome, SyncSetting};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_bench_acks_and_stores_every_message() {
    let cfg = JetStreamConfig {
        messages: 300,
        payload: 600,
        in_flight: 32,
        deadline: Duration::from_secs(60),
        ..JetStreamConfig::default()
    };
    let report = match jetstream::bench(&cfg).await.expect("the JetStream bench runs") {
        JetStreamOutcome::Ran(report) => report,
        JetStreamOutcome::Skipped { why } => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must run the JetStream bench: {why}"
            );
            eprintln!("skipped: {why}");
            return;
        }
    };
    println!("{report}");
    assert_eq!(report.settings.len(), 2);
    for sync in SyncSetting::ALL {
        let s = report.setting(sync).expect("both settings ran");
        for m in [&s.sequential, &s.pipelined] {
            assert_eq!(m.acked, cfg.messages);
            assert_eq!(m.micros.len(), cfg.messages);
            assert!(m.per_second() > 0.0);
            let (p50, p99) = (m.latency_us(50).expect("p50"), m.latency_us(99).expect("p99"));
            assert!(0 < p50 && p50 <= p99, "{sync:?}: p50 {p50} µs, p99 {p99} µs");
        }
        assert_eq!(s.stored, 2 * cfg.messages as u64);
    }
}
