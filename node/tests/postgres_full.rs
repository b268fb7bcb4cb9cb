//! PostgreSQL's own disk-full error (SQLSTATE 53100), reproduced for real:
//! the node's database lives in a tablespace on a 16 MiB tmpfs. Commits
//! fill it until PostgreSQL refuses to extend a file; the store reports
//! the database full, keeps nothing of the refused batch and everything
//! before it; with room again (the filesystem grown) the same batch goes
//! in. As SQLite's full disk is handled (`store_suite.rs`).
//!
//! Needs the server named by `LIANDONG_TEST_POSTGRES` on this machine and
//! root (to mount the tmpfs and hand it to the server's user); `.ci/run`
//! provides both. Without them the test says what it skipped, unless `CI`
//! is set.

use std::os::unix::fs::MetadataExt;
use std::process::Command;

use liandong_dispatch::store::AuditEntry;
use liandong_dispatch::{Record, Timestamp};
use liandong_node::store::{Durable, StoreLocation, StoreOptions};
use liandong_topology::NodeId;
use sqlx::{Connection, Executor, Row};

const T0: u64 = 1_767_225_600_000;

fn skip(why: &str) -> bool {
    if std::env::var_os("CI").is_some() {
        panic!("CI is set but {why}: PostgreSQL's disk-full error must be tested");
    }
    // Straight to the process's stderr: the harness captures `eprintln!`.
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "skipped postgres_full: {why}; `bash .ci/run` runs it"
    );
    true
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("run");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `url` with its database replaced by `database`.
fn with_database(url: &str, database: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a postgres:// url");
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let query = rest[end..]
        .split_once('?')
        .map(|(_, q)| format!("?{q}"))
        .unwrap_or_default();
    format!("{scheme}://{}/{database}{query}", &rest[..end])
}

/// A batch of `n` audit records of 2 KiB each.
fn batch(k: usize, n: usize) -> Vec<Record> {
    (0..n)
        .map(|i| {
            Record::Audit(AuditEntry {
                at: Timestamp(T0 + (k * n + i) as u64),
                what: format!("{k}/{i} {}", "值班记录".repeat(170)),
            })
        })
        .collect()
}

#[tokio::test]
async fn a_full_tablespace_is_reported_full_and_keeps_nothing_of_the_refused_batch() {
    let Ok(server) = std::env::var("LIANDONG_TEST_POSTGRES") else {
        skip("LIANDONG_TEST_POSTGRES is not set");
        return;
    };
    // /proc/self belongs to the process's effective user.
    if std::fs::metadata("/proc/self").map_or(true, |m| m.uid() != 0) {
        skip("not root (a tmpfs is mounted for the tablespace)");
        return;
    }
    let mut admin = sqlx::PgConnection::connect(&server).await.expect("connect");
    let data_dir: String = admin
        .fetch_one("SELECT current_setting('data_directory')")
        .await
        .expect("the server's data directory")
        .get(0);
    let Ok(meta) = std::fs::metadata(&data_dir) else {
        skip("the server's data directory is not on this machine");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mount = dir.path().join("small");
    std::fs::create_dir(&mount).unwrap();
    run(Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=16m"])
        .arg("tmpfs")
        .arg(&mount));
    let unmount = scopeguard(mount.clone());
    std::os::unix::fs::chown(&mount, Some(meta.uid()), Some(meta.gid())).unwrap();
    let n = std::process::id();
    let (space, database) = (format!("ld_small_{n}"), format!("ld_full_{n}"));
    admin
        .execute(format!("CREATE TABLESPACE {space} LOCATION '{}'", mount.display()).as_str())
        .await
        .expect("create the tablespace");
    admin
        .execute(format!("CREATE DATABASE {database} TABLESPACE {space}").as_str())
        .await
        .expect("create the database in it");

    let location = StoreLocation::Postgres(with_database(&server, &database));
    let me = NodeId::parse("350102001001").unwrap();
    let store = Durable::open(&location, &me, StoreOptions::default())
        .await
        .expect("open");
    let mut committed = 0;
    let (failed, err) = loop {
        let b = batch(committed, 100);
        match store.commit(&b, Timestamp(T0)).await {
            Ok(()) => {
                committed += 1;
                assert!(committed < 2_000, "16 MiB never filled up");
            }
            Err(e) => break (b, e),
        }
    };
    assert!(committed > 0, "the tablespace left room for something");
    assert!(err.is_full(), "{err:?}");
    let message = err.to_string();
    println!("full after {committed} batches of 100 records of 2 KiB: {message}");
    assert!(
        message.starts_with("the database is full (disk or size limit): "),
        "{message}"
    );
    assert!(message.contains(&database), "{message}");
    let check = store.verify_audit().await.expect("the audit chain reads");
    assert_eq!(
        check.entries,
        committed as u64 * 100,
        "every committed batch, none of the refused one"
    );
    let loaded = store.load().await.expect("load");
    assert_eq!(loaded.audit_count, committed as u64 * 100);

    // Room again: the operator grew the filesystem; the same batch goes in.
    run(Command::new("mount").args(["-o", "remount,size=64m"]).arg(&mount));
    store.commit(&failed, Timestamp(T0 + 1)).await.expect("with room again");
    assert_eq!(
        store.verify_audit().await.unwrap().entries,
        (committed as u64 + 1) * 100
    );
    store.close().await;

    admin
        .execute(format!("DROP DATABASE {database}").as_str())
        .await
        .expect("drop the database");
    admin
        .execute(format!("DROP TABLESPACE {space}").as_str())
        .await
        .expect("drop the tablespace");
    drop(unmount);
}

/// Unmounts the tmpfs when dropped, also when the test fails.
struct Unmount(std::path::PathBuf);

fn scopeguard(path: std::path::PathBuf) -> Unmount {
    Unmount(path)
}

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}
