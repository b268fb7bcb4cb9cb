//! The thin-link bench, short: four real nodes, the village's link at
//! 8,000 B/s each way with 5% loss and 300 ms each way, 300 routine
//! reports and 300 routine orders of backlog each way, and three urgent
//! reports and orders filed while it drains. It asserts an ordering, not
//! a time: every urgent item filed while the backlog drained arrived
//! before the backlog had drained, and nothing was lost. The full bench
//! is `liandong bench thin-link`.

use std::path::PathBuf;
use std::time::Duration;

use liandong_chaos::thin::{ThinConfig, bench};

#[test]
fn urgent_items_overtake_a_draining_backlog_on_a_thin_link() {
    let mut config = ThinConfig::new(PathBuf::from(env!("CARGO_BIN_EXE_liandong")));
    config.ip = std::net::Ipv4Addr::new(127, 0, 46, 1);
    config.losses = vec![0.05];
    config.backlog_reports = 300;
    config.backlog_orders = 300;
    config.urgent = 3;
    config.urgent_every = Duration::from_secs(2);
    config.quiet = 0;
    config.drain_within = Duration::from_secs(300);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let report = runtime.block_on(bench(config)).expect("the bench ran");
    println!("{report}");
    let level = &report.levels[0];
    assert!(
        level.up.took.is_some() && level.down.took.is_some(),
        "a backlog did not drain:\n{report}"
    );
    let during: usize = level.loaded.iter().map(|s| s.0.len()).sum();
    assert!(
        during > 0,
        "no urgent item was filed while the backlog drained:\n{report}"
    );
    assert_eq!(level.loaded.iter().map(|s| s.missing()).sum::<usize>(), 0, "{report}");
    assert_eq!(
        level.overtook, during,
        "urgent items filed while the backlog drained arrived after it:\n{report}"
    );
}
