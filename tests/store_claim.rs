//! One process per node's PostgreSQL database, with real `node run`
//! processes: a county runs on its database; the same county started
//! again on it (a second unit, a shell) is refused, naming the first, and
//! the first carries on. Needs the server named by
//! `LIANDONG_TEST_POSTGRES` (`.ci/run` starts a throwaway one; the test's
//! database is left on it); without it the test says it skipped, unless
//! `CI` is set.

mod common;
mod federation;

use std::net::Ipv4Addr;
use std::process::Command;

use federation::{Federation, file_report, id};
use liandong_topology::Severity;

/// `server` (a url ending in a database name) with `database` instead.
fn with_database(server: &str, database: &str) -> String {
    let (base, query) = server.split_once('?').map_or((server, None), |(b, q)| (b, Some(q)));
    let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
    match query {
        Some(q) => format!("{base}/{database}?{q}"),
        None => format!("{base}/{database}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_node_process_on_the_database_is_refused_naming_the_first() {
    let Ok(server) = std::env::var("LIANDONG_TEST_POSTGRES") else {
        if std::env::var_os("CI").is_some() {
            panic!("CI is set but LIANDONG_TEST_POSTGRES is not: the store's claim must be tested on PostgreSQL");
        }
        eprintln!("skipping: set LIANDONG_TEST_POSTGRES=postgres://user@host:port/postgres to run it");
        return;
    };
    let mut fed = Federation::demo(Ipv4Addr::new(127, 0, 18, 6));
    let county = id("350102");
    let url = with_database(&server, &format!("ld_claim_{}", std::process::id()));
    let mut args = fed.node_args(&county);
    args.extend(["--database".into(), url.clone().into()]);
    fed.start_with(&county, &args);

    let second = Command::new(env!("CARGO_BIN_EXE_liandong"))
        .args(["node", "run"])
        .args(&args)
        .env("RUST_LOG", "info")
        .output()
        .expect("run a second node process");
    let said = common::stderr(&second);
    assert_eq!(second.status.code(), Some(1), "{said}");
    assert!(
        said.contains("is in use by liandong node 350102 (server process"),
        "{said}"
    );
    assert!(said.contains("stop the other first"), "{said}");

    // The first is unaffected: it files and answers.
    let op = fed.client(&county, "值班员").await;
    file_report(&op, Severity::IV, "河道漫堤").await;
    fed.stop_all();
}
