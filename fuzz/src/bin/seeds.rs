//! Writes the binary seeds of the `frame` and `control` targets into
//! `corpus/` (the text targets' seeds are files copied from the repo's
//! tests and docs). Run once after a wire change, from `fuzz/`:
//! `cargo afl build --release --bin seeds && $CARGO_TARGET_DIR/release/seeds`.
//! Not a fuzz target: it never calls AFL.

use std::path::Path;

use liandong_control::frame as control_frame;
use liandong_control::proto::{Act, IdRef, MAX_REQUEST, Query, Request};
use liandong_dispatch::codec::encode_frame;
use liandong_dispatch::document::TestDocuments;
use liandong_dispatch::wire::{
    Body, Carry, Category, Envelope, EnvelopeId, Frame, Hop, Mode, Order, OrderAck, PhotoKind, PhotoRef, Report,
    TargetState, Targets, Timestamp,
};
use liandong_node::transport::deflate::Deflater;
use liandong_topology::{NodeId, Severity};

fn id(s: &str) -> NodeId {
    NodeId::parse(s).expect("a node id")
}

fn carry(body: Body, to: &str) -> Frame {
    Frame::Carry(Carry {
        envelope: Envelope {
            id: EnvelopeId(0x3f2a_9c0e_1b7d),
            origin: id("350102001001"),
            created: Timestamp(1_764_000_000_000),
            expires: Timestamp(1_764_086_400_000),
            mode: Mode::Actual,
            body,
            signature: vec![7; 64],
        },
        to: vec![id(to)],
        trace: vec![Hop {
            node: id("350102001"),
            at: Timestamp(1_764_000_000_500),
        }],
        catch_up: false,
    })
}

fn frames() -> Vec<(&'static str, Frame)> {
    let report = Body::Report(Report {
        severity: Severity::II,
        category: Category::Flood,
        title: "河堤渗水".into(),
        detail: "五一社区河堤出现渗水，水位上涨".into(),
        place: "五一社区".into(),
        reporter: "张伟".into(),
        photos: vec![PhotoRef {
            sha256: [0xab; 32],
            size: 1234,
            kind: PhotoKind::Jpeg,
        }],
    });
    let order = Body::Order(Order {
        incident: Some(EnvelopeId(0x3f2a_9c0e_1b7d)),
        targets: Targets::Node(id("350102-police")),
        severity: Severity::II,
        instruction: "派员到场处置".into(),
        by: "李娜".into(),
        finish_by: None,
    });
    let ack = Body::OrderAck(OrderAck {
        order: EnvelopeId(9),
        issuer: id("350102"),
        state: TargetState::SignedFor { by: "王强".into() },
    });
    let document = Body::Document(TestDocuments::document(
        "[document]\nversion = 2\n\n[[nodes]]\nid = \"350100\"\nname = \"福州市\"\nlevel = \"city\"\nlisten = \"127.0.0.1:7100\"\n",
    ));
    vec![
        ("carry-report", carry(report, "350102")),
        ("carry-order", carry(order, "350102-police")),
        ("carry-order-ack", carry(ack, "350102")),
        ("carry-document", carry(document, "350102001")),
        ("hop-ack", Frame::HopAck { id: EnvelopeId(42) }),
        (
            "heartbeat",
            Frame::Heartbeat {
                sent: Timestamp(1_764_000_000_000),
            },
        ),
        (
            "key-ask",
            Frame::KeyAsk {
                node: id("350102001001"),
            },
        ),
        (
            "key-answer",
            Frame::KeyAnswer {
                node: id("350102"),
                certificates: vec![vec![0x30, 0x82, 0x01, 0x0a, 1, 2, 3]],
            },
        ),
        ("photo-ask", Frame::PhotoAsk { sha256: [0xab; 32] }),
        (
            "photo-piece",
            Frame::PhotoPiece {
                sha256: [0xab; 32],
                offset: 0,
                total: 8,
                bytes: b"\x89PNG\r\n\x1a\n".to_vec(),
            },
        ),
    ]
}

fn requests() -> Vec<(&'static str, Request)> {
    vec![
        ("status", Request::Query(Query::Status)),
        ("incidents", Request::Query(Query::Incidents { closed: true })),
        (
            "figures",
            Request::Query(Query::Figures {
                period: "2026-11".into(),
                center: Some(id("350102")),
            }),
        ),
        (
            "report",
            Request::Act(Act::Report {
                severity: Severity::III,
                category: Category::Fire,
                title: "仓库冒烟".into(),
                detail: "仓库二楼冒烟".into(),
                place: "鼓楼区".into(),
                mode: Mode::Exercise,
            }),
        ),
        (
            "accept",
            Request::Act(Act::Accept {
                incident: IdRef("3f2a9c0e1b7d".into()),
            }),
        ),
    ]
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    println!("{} ({} bytes)", path.display(), bytes.len());
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let frame_dir = root.join("frame");
    let control_dir = root.join("control");
    for dir in [&frame_dir, &control_dir] {
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    }
    let mut lane = Vec::new();
    let mut deflater = Deflater::new();
    for (name, frame) in frames() {
        let bytes = encode_frame(&frame).expect("a seed frame encodes");
        write(&frame_dir, name, &bytes);
        if name == "carry-report" || name == "hop-ack" {
            // As an urgent datagram copy: length, frame, padding.
            let mut datagram = (bytes.len() as u32).to_be_bytes().to_vec();
            datagram.extend_from_slice(&bytes);
            datagram.extend_from_slice(&[0; 16]);
            write(&frame_dir, &format!("datagram-{name}"), &datagram);
        }
        if name.starts_with("carry") {
            let mut plain = (bytes.len() as u32).to_be_bytes().to_vec();
            plain.extend_from_slice(&bytes);
            deflater.squeeze(&plain, &mut lane).expect("compressing a seed lane");
        }
    }
    // A compressed lane's stream: every carried frame, a flush after each.
    write(&frame_dir, "lane-deflated", &lane);
    for (name, request) in requests() {
        let framed = control_frame::encode::<Request, MAX_REQUEST>(&request).expect("a seed request encodes");
        // The target reads the body, as the server does after the length.
        write(&control_dir, name, &framed[4..]);
    }
}
