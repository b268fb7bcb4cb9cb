//! Node-to-node links over real QUIC on loopback with real TLS and
//! generated certificates: links come up and carry frames on every lane,
//! reconnect, replace, and refuse each kind of peer or frame with its reason.
//!
//! Each test uses its own loopback IP (`127.23.0.<n>`, see the kit), so the
//! demo topology's ports never collide between tests running in parallel.

#[path = "common/transport_kit.rs"]
mod kit;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use kit::{Fed, Raw, Running, close_text, id, valid, write_frame};
use liandong_certs::time::OffsetDateTime;
use liandong_certs::{Entry, Reason, RevocationList, Role, Validity};
use liandong_dispatch::codec::{MAX_FRAME, decode_frame};
use liandong_dispatch::wire::Lane;
use liandong_node::transport::{LANE_QUEUE, LANES, SendError, TransportError};

const TOWNSHIP: &str = "350102001";
const VILLAGE: &str = "350102001001";
/// A township that is not the village's ancestor (its parent's sibling).
const OTHER_TOWNSHIP: &str = "350102002";

/// Starts the township and the village, dials, and waits for Up on both sides.
async fn linked(fed: &Fed) -> (Running, Running) {
    let mut township = fed.start(TOWNSHIP);
    let mut village = fed.start(VILLAGE);
    let started = Instant::now();
    village.transport.connect(&id(TOWNSHIP));
    assert_eq!(village.events.up().await, id(TOWNSHIP));
    let dialer_up = started.elapsed();
    assert_eq!(township.events.up().await, id(VILLAGE));
    eprintln!("loopback link up in {dialer_up:?} (dialer side)");
    (township, village)
}

fn lane_frame(from: &str, lane: Lane) -> Vec<u8> {
    format!("{from} on {lane:?}").into_bytes()
}

#[tokio::test(flavor = "multi_thread")]
async fn parent_and_child_link_up_and_carry_frames_both_ways_on_every_lane() {
    let fed = Fed::new(1);
    let (mut township, mut village) = linked(&fed).await;
    // Idempotent: a second connect neither dials again nor disturbs the link.
    village.transport.connect(&id(TOWNSHIP));
    assert!(village.transport.is_connected(&id(TOWNSHIP)));
    assert!(township.transport.is_connected(&id(VILLAGE)));
    assert!(!township.transport.is_connected(&id(OTHER_TOWNSHIP)));

    for lane in LANES {
        village
            .transport
            .send(&id(TOWNSHIP), lane, lane_frame(VILLAGE, lane))
            .unwrap();
        township
            .transport
            .send(&id(VILLAGE), lane, lane_frame(TOWNSHIP, lane))
            .unwrap();
    }
    // Lanes are independent streams: compare as sets.
    let expect = |from: &str| -> BTreeSet<Vec<u8>> { LANES.iter().map(|&l| lane_frame(from, l)).collect() };
    let mut at_township = BTreeSet::new();
    let mut at_village = BTreeSet::new();
    for _ in LANES {
        let (peer, bytes) = township.events.frame().await;
        assert_eq!(peer, id(VILLAGE));
        at_township.insert(bytes);
        let (peer, bytes) = village.events.frame().await;
        assert_eq!(peer, id(TOWNSHIP));
        at_village.insert(bytes);
    }
    assert_eq!(at_township, expect(VILLAGE));
    assert_eq!(at_village, expect(TOWNSHIP));

    // What send refuses, without blocking.
    assert_eq!(
        village.transport.send(&id(OTHER_TOWNSHIP), Lane::Normal, vec![1]),
        Err(SendError::NotConnected(id(OTHER_TOWNSHIP)))
    );
    assert_eq!(
        village.transport.send(&id(TOWNSHIP), Lane::Normal, Vec::new()),
        Err(SendError::Empty)
    );
    let err = village
        .transport
        .send(&id(TOWNSHIP), Lane::Bulk, vec![0; MAX_FRAME + 1])
        .unwrap_err();
    assert_eq!(err.to_string(), "frame of 262145 bytes is over the 262144-byte limit");

    village.transport.shutdown().await;
    let (peer, reason) = township.events.down().await;
    assert_eq!(peer, id(VILLAGE));
    assert!(reason.contains("shutting down"), "{reason}");
    assert!(!township.transport.is_connected(&id(VILLAGE)));
    township.transport.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lane_delivers_its_frames_intact_and_in_order() {
    let fed = Fed::new(2);
    let (mut township, village) = linked(&fed).await;
    // Urgent frames numbered 0..N of varied sizes (one at the exact limit),
    // interleaved with big Bulk frames competing for the same connection.
    const N: u32 = 400;
    let urgent = |i: u32| -> Vec<u8> {
        let len = match i {
            7 => MAX_FRAME,
            _ => 5 + (i as usize * 997) % 20_000,
        };
        let mut bytes = vec![(i % 251) as u8; len];
        bytes[0] = b'U';
        bytes[1..5].copy_from_slice(&i.to_be_bytes());
        bytes
    };
    let bulk = |i: u32| -> Vec<u8> {
        let mut bytes = vec![0xb5; 64 * 1024];
        bytes[0] = b'B';
        bytes[1..5].copy_from_slice(&i.to_be_bytes());
        bytes
    };
    let mut bulk_sent = 0;
    for i in 0..N {
        village.transport.send(&id(TOWNSHIP), Lane::Urgent, urgent(i)).unwrap();
        if i.is_multiple_of(8) {
            village.transport.send(&id(TOWNSHIP), Lane::Bulk, bulk(i)).unwrap();
            bulk_sent += 1;
        }
    }
    let (mut next_urgent, mut bulk_seen) = (0u32, 0);
    while next_urgent < N || bulk_seen < bulk_sent {
        let (peer, bytes) = township.events.frame().await;
        assert_eq!(peer, id(VILLAGE));
        let seq = u32::from_be_bytes(bytes[1..5].try_into().unwrap());
        match bytes[0] {
            b'U' => {
                assert_eq!(seq, next_urgent, "urgent frames arrive in the order sent");
                assert!(bytes == urgent(seq), "urgent frame {seq} arrives intact");
                next_urgent += 1;
            }
            b'B' => {
                assert!(bytes == bulk(seq), "bulk frame {seq} arrives intact");
                bulk_seen += 1;
            }
            other => panic!("unexpected frame kind {other}"),
        }
    }
    village.transport.shutdown().await;
    township.transport.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn child_redials_after_the_parent_restarts() {
    let fed = Fed::new(3);
    let (township, mut village) = linked(&fed).await;
    township.transport.shutdown().await;
    drop(township);
    let (peer, reason) = village.events.down().await;
    assert_eq!(peer, id(TOWNSHIP));
    assert!(reason.contains("shutting down"), "{reason}");
    assert!(!village.transport.is_connected(&id(TOWNSHIP)));

    // Same address, same certificate files in real life: a new process.
    let mut township = Running::start(fed.config(TOWNSHIP));
    assert_eq!(village.events.up().await, id(TOWNSHIP));
    assert_eq!(township.events.up().await, id(VILLAGE));
    township
        .transport
        .send(&id(VILLAGE), Lane::Control, b"after restart".to_vec())
        .unwrap();
    assert_eq!(village.events.frame().await, (id(TOWNSHIP), b"after restart".to_vec()));
    village.transport.shutdown().await;
    township.transport.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_connection_from_the_same_peer_replaces_the_old_one() {
    let fed = Fed::new(4);
    let mut township = fed.start(TOWNSHIP);
    let village_cert = fed.cert(VILLAGE);
    // The village's old process: a connection the township still thinks live.
    let old = fed.raw(&village_cert).dial_accepted(fed.addr(TOWNSHIP), TOWNSHIP).await;
    assert_eq!(township.events.up().await, id(VILLAGE));

    // The village restarts and dials again.
    let mut village = Running::start(fed.config_with(VILLAGE, &village_cert, fed.addr(VILLAGE)));
    village.transport.connect(&id(TOWNSHIP));
    assert_eq!(village.events.up().await, id(TOWNSHIP));
    let (peer, reason) = township.events.down().await;
    assert_eq!((peer, reason.as_str()), (id(VILLAGE), "replaced by a new connection"));
    assert_eq!(township.events.up().await, id(VILLAGE));
    let err = tokio::time::timeout(kit::WAIT, old.closed()).await.unwrap();
    assert_eq!(close_text(&err), "replaced by a new connection");

    // The old connection's end is not reported: the next event is the new link's frame.
    village
        .transport
        .send(&id(TOWNSHIP), Lane::Normal, b"hello".to_vec())
        .unwrap();
    assert_eq!(township.events.frame().await, (id(VILLAGE), b"hello".to_vec()));
    assert!(township.transport.is_connected(&id(VILLAGE)));
    village.transport.shutdown().await;
    township.transport.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_foreign_ca_certificate_is_refused_both_ways() {
    let fed = Fed::new(5);
    let foreign = Fed::named("厦门", 5);
    let mut township = fed.start(TOWNSHIP);

    // A client with a foreign certificate (for a real node id) dials.
    let raw = Raw::new(fed.ip, fed.verifier.clone(), &foreign.cert(VILLAGE));
    let client_saw = close_text(&raw.dial_refused(fed.addr(TOWNSHIP), TOWNSHIP).await);
    let (peer, remote, reason) = township.events.refused().await;
    assert_eq!(peer, None);
    assert_eq!(remote.ip(), fed.ip);
    assert!(reason.contains("not issued by this federation's CA"), "{reason}");
    assert!(
        client_saw.contains("not issued by this federation's CA"),
        "{client_saw}"
    );
    township.transport.shutdown().await;
    drop(township);

    // A server with a foreign certificate at the township's address: the dialer refuses it.
    let fake = foreign.cert(TOWNSHIP);
    let mut fake = Running::start(foreign.config_with(TOWNSHIP, &fake, fed.addr(TOWNSHIP)));
    let mut village = fed.start(VILLAGE);
    village.transport.connect(&id(TOWNSHIP));
    let (peer, remote, reason) = village.events.refused().await;
    assert_eq!(peer, Some(id(TOWNSHIP)));
    assert_eq!(remote, fed.addr(TOWNSHIP));
    assert!(reason.contains("not issued by this federation's CA"), "{reason}");
    assert!(!village.transport.is_connected(&id(TOWNSHIP)));
    // The fake server never saw an accepted peer.
    fake.events.assert_quiet(Duration::from_millis(100)).await;
    village.transport.shutdown().await;
    fake.transport.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_certificate_revoked_at_run_time_is_refused_and_recheck_closes_its_link() {
    let fed = Fed::new(6);
    let village_cert = fed.cert(VILLAGE);
    let mut township = fed.start(TOWNSHIP);
    let mut village = Running::start(fed.config_with(VILLAGE, &village_cert, fed.addr(VILLAGE)));
    village.transport.connect(&id(TOWNSHIP));
    assert_eq!(village.events.up().await, id(TOWNSHIP));
    assert_eq!(township.events.up().await, id(VILLAGE));

    let mut list = RevocationList::new();
    list.revoke(Entry::new(
        village_cert.serial.clone(),
        Reason::KeyCompromise,
        OffsetDateTime::now_utc(),
    ))
    .unwrap();
    fed.revocations.replace(list);

    // A new connection with the revoked certificate: refused, no restart.
    let raw = fed.raw(&village_cert);
    let client_saw = close_text(&raw.dial_refused(fed.addr(TOWNSHIP), TOWNSHIP).await);
    let (peer, _, reason) = township.events.refused().await;
    assert_eq!(peer, None);
    assert!(reason.contains("revoked"), "{reason}");
    assert!(reason.contains(&village_cert.serial.to_string()), "{reason}");
    assert!(client_saw.contains("revoked"), "{client_saw}");
    assert!(
        township.transport.is_connected(&id(VILLAGE)),
        "live links wait for recheck"
    );

    // recheck closes the live one: Refused, then Down, with the verifier's reason.
    assert_eq!(township.transport.recheck(), 1);
    let (peer, remote, reason) = township.events.refused().await;
    assert_eq!(peer, Some(id(VILLAGE)));
    assert_eq!(remote, fed.addr(VILLAGE));
    assert!(reason.contains("revoked"), "{reason}");
    let (peer, down) = township.events.down().await;
    assert_eq!((peer, &down), (id(VILLAGE), &reason));
    assert!(!township.transport.is_connected(&id(VILLAGE)));
    assert_eq!(township.transport.recheck(), 0);

    // The village hears why, then its redial is refused too.
    let (peer, reason) = village.events.down().await;
    assert_eq!(peer, id(TOWNSHIP));
    assert!(reason.contains("revoked"), "{reason}");
    let (peer, _, reason) = village.events.refused().await;
    assert_eq!(peer, Some(id(TOWNSHIP)));
    assert!(
        reason.contains("refused this node") && reason.contains("revoked"),
        "{reason}"
    );
    let (peer, _, reason) = township.events.refused().await;
    assert_eq!(peer, None);
    assert!(reason.contains("revoked"), "{reason}");
    village.transport.shutdown().await;
    township.transport.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_presenting_another_nodes_certificate_is_refused_by_the_dialer() {
    let fed = Fed::new(7);
    // A valid node (the other township) answers at the township's address.
    let impostor = fed.cert(OTHER_TOWNSHIP);
    let mut impostor = Running::start(fed.config_with(OTHER_TOWNSHIP, &impostor, fed.addr(TOWNSHIP)));
    let mut village = fed.start(VILLAGE);
    village.transport.connect(&id(TOWNSHIP));
    let (peer, remote, reason) = village.events.refused().await;
    assert_eq!(peer, Some(id(TOWNSHIP)));
    assert_eq!(remote, fed.addr(TOWNSHIP));
    assert!(
        reason.contains(&format!("dialed node {TOWNSHIP}")) && reason.contains(OTHER_TOWNSHIP),
        "{reason}"
    );
    assert!(!village.transport.is_connected(&id(TOWNSHIP)));
    impostor.events.assert_quiet(Duration::from_millis(100)).await;
    village.transport.shutdown().await;
    impostor.transport.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_village_may_not_link_with_a_township_that_is_not_its_ancestor() {
    let fed = Fed::new(8);
    let mut other = fed.start(OTHER_TOWNSHIP);
    let raw = fed.raw(&fed.cert(VILLAGE));
    let client_saw = close_text(&raw.dial_refused(fed.addr(OTHER_TOWNSHIP), OTHER_TOWNSHIP).await);
    let (peer, _, reason) = other.events.refused().await;
    assert_eq!(peer, Some(id(VILLAGE)));
    assert!(reason.contains("neither an ancestor nor a descendant"), "{reason}");
    assert_eq!(client_saw, reason, "the dialer is told why");

    // The transport itself will not dial such a node.
    let mut village = fed.start(VILLAGE);
    village.transport.connect(&id(OTHER_TOWNSHIP));
    let (peer, remote, reason) = village.events.refused().await;
    assert_eq!(peer, Some(id(OTHER_TOWNSHIP)));
    assert_eq!(remote, fed.addr(OTHER_TOWNSHIP));
    assert!(reason.contains("neither an ancestor nor a descendant"), "{reason}");
    other.events.assert_quiet(Duration::from_millis(100)).await;
    village.transport.shutdown().await;
    other.transport.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_missing_from_the_topology_is_refused() {
    let fed = Fed::new(9);
    let mut township = fed.start(TOWNSHIP);
    let raw = fed.raw(&fed.cert("350199"));
    let client_saw = close_text(&raw.dial_refused(fed.addr(TOWNSHIP), TOWNSHIP).await);
    let (peer, _, reason) = township.events.refused().await;
    assert_eq!(peer, Some(id("350199")));
    assert_eq!(reason, "unknown node 350199 (not in the topology)");
    assert_eq!(client_saw, reason);
    township.transport.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_operator_certificate_on_the_node_port_is_refused() {
    let fed = Fed::new(10);
    let mut township = fed.start(TOWNSHIP);
    let operator = fed
        .ca
        .issue_operator(&id(TOWNSHIP), "张伟", Role::Leader, valid())
        .unwrap();
    let client_saw = close_text(&fed.raw(&operator).dial_refused(fed.addr(TOWNSHIP), TOWNSHIP).await);
    let (peer, _, reason) = township.events.refused().await;
    assert_eq!(peer, None);
    assert!(
        reason.contains("operator certificates belong on the control port"),
        "{reason}"
    );
    assert!(reason.contains("张伟"), "{reason}");
    assert_eq!(client_saw, reason);
    township.transport.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_framing_closes_the_connection_with_its_reason() {
    let fed = Fed::new(11);
    let mut township = fed.start(TOWNSHIP);
    let raw = fed.raw(&fed.cert(VILLAGE));
    let cases: [(u8, u32, &str); 4] = [
        (
            2,
            MAX_FRAME as u32 + 1,
            "frame of 262145 bytes is over the 262144-byte limit",
        ),
        (1, 0, "empty frame"),
        (9, 5, "unknown lane tag 9"),
        // A compressed normal lane (0x10 | 2) whose bytes are not DEFLATE
        // (a block type that does not exist).
        (0x12, u32::MAX, "a corrupt compressed normal lane"),
    ];
    for (tag, len, expect) in cases {
        let conn = raw.dial_accepted(fed.addr(TOWNSHIP), TOWNSHIP).await;
        assert_eq!(township.events.up().await, id(VILLAGE));
        let mut stream = conn.open_uni().await.unwrap();
        // One write: the server may close as soon as it has read the tag.
        let mut bytes = vec![tag];
        bytes.extend_from_slice(&len.to_be_bytes());
        stream.write_all(&bytes).await.unwrap();
        let (peer, _, reason) = township.events.refused().await;
        assert_eq!(peer, Some(id(VILLAGE)));
        assert!(reason.contains(expect), "{reason}");
        let (peer, down) = township.events.down().await;
        assert_eq!((peer, &down), (id(VILLAGE), &reason));
        let err = tokio::time::timeout(kit::WAIT, conn.closed()).await.unwrap();
        assert_eq!(close_text(&err), reason);
    }
    township.transport.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_frames_are_passed_up_for_the_core_to_refuse() {
    let fed = Fed::new(12);
    let mut township = fed.start(TOWNSHIP);
    let conn = fed
        .raw(&fed.cert(VILLAGE))
        .dial_accepted(fed.addr(TOWNSHIP), TOWNSHIP)
        .await;
    assert_eq!(township.events.up().await, id(VILLAGE));
    let mut stream = conn.open_uni().await.unwrap();
    stream.write_all(&[3]).await.unwrap();
    let garbage = [0xde, 0xad, 0xbe, 0xef, 0x00];
    write_frame(&mut stream, &garbage).await;
    let (peer, bytes) = township.events.frame().await;
    assert_eq!((peer, bytes.as_slice()), (id(VILLAGE), &garbage[..]));
    assert!(decode_frame(&bytes).is_err(), "the core refuses it");
    assert!(township.transport.is_connected(&id(VILLAGE)), "the link stays up");
    township.transport.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn start_refuses_bad_configurations_with_clear_errors() {
    let fed = Fed::new(13);
    let township = fed.start(TOWNSHIP);

    let err = Running::try_start(fed.config(TOWNSHIP)).err().expect("address in use");
    assert!(matches!(err, TransportError::Bind { .. }), "{err}");
    assert!(err.to_string().contains(&fed.addr(TOWNSHIP).to_string()), "{err}");

    let mut config = fed.config(VILLAGE);
    config.me = id("350199");
    let err = Running::try_start(config).err().expect("not in the topology");
    assert_eq!(err.to_string(), "node 350199 is not in the topology");

    let cert = fed.cert(OTHER_TOWNSHIP);
    let err = Running::try_start(fed.config_with(VILLAGE, &cert, fed.addr(VILLAGE)))
        .err()
        .expect("wrong certificate");
    assert!(
        err.to_string()
            .contains("this node is 350102001001 but its certificate identifies node 350102002"),
        "{err}"
    );
    township.transport.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_certificate_is_refused() {
    let fed = Fed::new(14);
    let mut township = fed.start(TOWNSHIP);
    let now = OffsetDateTime::now_utc();
    let expired = Validity {
        not_before: now - liandong_certs::time::Duration::days(30),
        not_after: now - liandong_certs::time::Duration::days(1),
    };
    let cert = fed.ca.issue_node(&id(VILLAGE), "过期", expired).unwrap();
    let client_saw = close_text(&fed.raw(&cert).dial_refused(fed.addr(TOWNSHIP), TOWNSHIP).await);
    let (peer, _, reason) = township.events.refused().await;
    assert_eq!(peer, None);
    assert!(reason.contains("expired"), "{reason}");
    assert!(client_saw.contains("expired"), "{client_saw}");
    township.transport.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn skip_level_links_with_an_ancestor_are_allowed() {
    let fed = Fed::new(15);
    let county = "350102";
    let mut county_node = fed.start(county);
    let mut village = fed.start(VILLAGE);
    village.transport.connect(&id(county));
    assert_eq!(village.events.up().await, id(county));
    assert_eq!(county_node.events.up().await, id(VILLAGE));
    county_node
        .transport
        .send(&id(VILLAGE), Lane::Urgent, b"order".to_vec())
        .unwrap();
    assert_eq!(village.events.frame().await, (id(county), b"order".to_vec()));
    village.transport.shutdown().await;
    county_node.transport.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_lane_refuses_more_without_blocking_the_others() {
    let fed = Fed::new(16);
    let mut township = fed.start(TOWNSHIP);
    // A village that never reads: flow control stops the township's writer,
    // then its Bulk queue fills up.
    let _stuck = fed
        .raw(&fed.cert(VILLAGE))
        .dial_accepted(fed.addr(TOWNSHIP), TOWNSHIP)
        .await;
    assert_eq!(township.events.up().await, id(VILLAGE));
    let started = Instant::now();
    let mut sent = 0usize;
    let err = loop {
        // Distinct frames: the same bytes queued again are one frame.
        let mut frame = vec![7; 1024];
        frame[..8].copy_from_slice(&(sent as u64).to_be_bytes());
        match township.transport.send(&id(VILLAGE), Lane::Bulk, frame) {
            Ok(()) => sent += 1,
            Err(e) => break e,
        }
        assert!(
            started.elapsed() < kit::WAIT,
            "the Bulk lane never filled ({sent} frames)"
        );
        if sent.is_multiple_of(256) {
            // Let the writer run into flow control.
            tokio::task::yield_now().await;
        }
    };
    assert_eq!(
        err,
        SendError::QueueFull {
            peer: id(VILLAGE),
            lane: Lane::Bulk,
            max: LANE_QUEUE
        }
    );
    assert!(sent >= LANE_QUEUE, "{sent}");
    // Other lanes have their own queues.
    township
        .transport
        .send(&id(VILLAGE), Lane::Control, b"heartbeat".to_vec())
        .unwrap();
    township.transport.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_declared_link_sends_urgent_frames_again_as_datagram_copies() {
    let mut fed = Fed::new(40);
    let text = format!(
        "{}\n[link.village]\nrate_kbps = 64\nurgent_copies = 1\n",
        fed.topology.to_toml()
    );
    fed.topology = std::sync::Arc::new(liandong_topology::Topology::parse(&text, None).unwrap());
    let (mut township, village) = linked(&fed).await;
    let frame = lane_frame(VILLAGE, Lane::Urgent);
    village
        .transport
        .send(&id(TOWNSHIP), Lane::Urgent, frame.clone())
        .unwrap();
    // The stream copy and one datagram copy, each intact.
    for n in 0..2 {
        let (peer, bytes) = tokio::time::timeout(Duration::from_secs(10), township.events.frame())
            .await
            .unwrap_or_else(|_| panic!("only {n} copies arrived"));
        assert_eq!(peer, id(VILLAGE));
        assert_eq!(bytes, frame);
    }
    // A normal frame is not copied.
    village
        .transport
        .send(&id(TOWNSHIP), Lane::Normal, lane_frame(VILLAGE, Lane::Normal))
        .unwrap();
    assert_eq!(township.events.frame().await.1, lane_frame(VILLAGE, Lane::Normal));
    township.events.assert_quiet(Duration::from_millis(300)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_declared_link_paces_and_compresses_routine_data_and_urgent_frames_overtake_it() {
    let mut fed = Fed::new(41);
    let text = format!(
        "{}\n[link.village]\nrate_kbps = 64\nurgent_copies = 0\n",
        fed.topology.to_toml()
    );
    fed.topology = std::sync::Arc::new(liandong_topology::Topology::parse(&text, None).unwrap());
    let (mut township, village) = linked(&fed).await;
    // 40 KB of routine frames that do not compress (five seconds at
    // 8,000 B/s), and bulk frames that do, then one urgent frame.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let normal: Vec<Vec<u8>> = (0..40u32)
        .map(|i| {
            let mut bytes: Vec<u8> = (0..1000)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect();
            bytes[0] = b'N';
            bytes[1..5].copy_from_slice(&i.to_be_bytes());
            bytes
        })
        .collect();
    let bulk: Vec<Vec<u8>> = (0..100u32)
        .map(|i| {
            let mut bytes = format!("B____日常巡查 第{i}报：道路积水，已联系网格员核实").into_bytes();
            bytes[1..5].copy_from_slice(&i.to_be_bytes());
            bytes
        })
        .collect();
    for (n, b) in normal.iter().zip(&bulk) {
        village.transport.send(&id(TOWNSHIP), Lane::Normal, n.clone()).unwrap();
        village.transport.send(&id(TOWNSHIP), Lane::Bulk, b.clone()).unwrap();
    }
    for b in &bulk[normal.len()..] {
        village.transport.send(&id(TOWNSHIP), Lane::Bulk, b.clone()).unwrap();
    }
    let urgent = lane_frame(VILLAGE, Lane::Urgent);
    village
        .transport
        .send(&id(TOWNSHIP), Lane::Urgent, urgent.clone())
        .unwrap();
    let (mut normal_seen, mut bulk_seen, mut urgent_after) = (0usize, 0usize, None);
    while normal_seen < normal.len() || bulk_seen < bulk.len() || urgent_after.is_none() {
        let (peer, bytes) = township.events.frame().await;
        assert_eq!(peer, id(VILLAGE));
        if bytes == urgent {
            urgent_after = Some(normal_seen);
            continue;
        }
        match bytes[0] {
            b'N' => {
                assert!(
                    bytes == normal[normal_seen],
                    "routine frame {normal_seen} intact and in order"
                );
                normal_seen += 1;
            }
            b'B' => {
                assert!(bytes == bulk[bulk_seen], "bulk frame {bulk_seen} intact and in order");
                bulk_seen += 1;
            }
            other => panic!("unexpected frame kind {other}"),
        }
    }
    let after = urgent_after.unwrap_or(usize::MAX);
    assert!(
        after < normal.len() / 2,
        "the urgent frame came after {after} of {} paced routine frames",
        normal.len()
    );
    village.transport.shutdown().await;
    township.transport.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_frame_queued_again_before_it_left_goes_once() {
    let fed = Fed::new(42);
    let mut township = fed.start(TOWNSHIP);
    // A village that never reads: the township's writer stops at flow
    // control, so what is queued after that stays queued.
    let _stuck = fed
        .raw(&fed.cert(VILLAGE))
        .dial_accepted(fed.addr(TOWNSHIP), TOWNSHIP)
        .await;
    assert_eq!(township.events.up().await, id(VILLAGE));
    // Fill the lane (distinct frames), then queue one of the waiting
    // frames again: it is taken as sent, and the lane stays full.
    let frame = |n: u64| {
        let mut f = vec![3u8; 1024];
        f[..8].copy_from_slice(&n.to_be_bytes());
        f
    };
    let mut n = 0u64;
    loop {
        match township.transport.send(&id(VILLAGE), Lane::Bulk, frame(n)) {
            Ok(()) => n += 1,
            Err(SendError::QueueFull { .. }) => break,
            Err(e) => panic!("{e}"),
        }
        if n.is_multiple_of(256) {
            tokio::task::yield_now().await;
        }
    }
    assert_eq!(township.transport.send(&id(VILLAGE), Lane::Bulk, frame(n - 1)), Ok(()));
    assert!(matches!(
        township.transport.send(&id(VILLAGE), Lane::Bulk, frame(n)),
        Err(SendError::QueueFull { .. })
    ));
    township.transport.shutdown().await;
}
