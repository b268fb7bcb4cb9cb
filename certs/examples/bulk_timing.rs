//! Times `certs init` for a province-sized federation (Jiangsu: 22,812 nodes).
//!
//! ```text
//! cargo run --release -p liandong-certs --example bulk_timing [-- DIR]
//! taskset -c 0 cargo run --release ...   # one worker (available_parallelism follows the affinity mask)
//! ```
//! Without DIR, a temporary directory under the current directory is used and removed.

use std::time::Instant;

use liandong_certs::{Validity, init_federation};
use liandong_topology::NodeId;
use time::OffsetDateTime;

const JIANGSU_NODES: usize = 22_812;

/// Synthetic division codes shaped like a province: cities, counties,
/// townships, villages, in tree order.
fn synthetic_ids(n: usize) -> Vec<(NodeId, String)> {
    let mut codes = Vec::new();
    for city in 1..=13 {
        codes.push(format!("32{city:02}00"));
        for county in 1..=8 {
            let county_code = format!("32{city:02}{county:02}");
            codes.push(county_code.clone());
            for township in 1..=14 {
                let township_code = format!("{county_code}{township:03}");
                codes.push(township_code.clone());
                codes.extend((1..=17).map(|village| format!("{township_code}{village:03}")));
            }
        }
    }
    codes
        .into_iter()
        .take(n)
        .map(|code| {
            (
                NodeId::parse(&code).expect("synthetic ids are well formed"),
                format!("节点 {code}"),
            )
        })
        .collect()
}

fn main() {
    let nodes = synthetic_ids(JIANGSU_NODES);
    assert_eq!(nodes.len(), JIANGSU_NODES, "not enough synthetic ids");
    let keep = std::env::args().nth(1);
    let temp = tempfile::tempdir_in(".").expect("temporary directory");
    let dir = keep
        .as_deref()
        .map_or_else(|| temp.path().to_owned(), std::path::PathBuf::from);
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    let validity = Validity::days_from(OffsetDateTime::now_utc(), 730);

    let start = Instant::now();
    let summary = init_federation(&dir, "Jiangsu", &nodes, validity, &|_| {}).expect("first run");
    let first = start.elapsed();
    assert_eq!(summary.issued, JIANGSU_NODES);

    let start = Instant::now();
    let again = init_federation(&dir, "Jiangsu", &nodes, validity, &|_| {}).expect("second run");
    let second = start.elapsed();
    assert_eq!(again.kept, JIANGSU_NODES);

    println!(
        "{JIANGSU_NODES} nodes, {workers} worker(s): issued in {:.2} s ({:.0} µs/node), top-up check of all kept in {:.2} s",
        first.as_secs_f64(),
        first.as_secs_f64() * 1e6 / JIANGSU_NODES as f64,
        second.as_secs_f64()
    );
}
