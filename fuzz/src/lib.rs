//! The fuzz targets' checks: one function per target, each taking any
//! bytes, calling the project's real parsing entry points on them as the
//! node calls them on outside input, and asserting what must hold (no
//! panic anywhere; what decodes encodes and decodes back to the same
//! value). `src/bin/<target>.rs` runs one under AFL++ (`afl::fuzz!`);
//! the unit test below runs every committed corpus file through the same
//! function (`cargo test --lib`), so a regression input stays checked.
//!
//! A target never writes a file, opens a socket or reads the clock: what
//! it calls is pure, so an input replays the same everywhere.

use std::path::Path;

use liandong_control::frame as control_frame;
use liandong_control::proto::{MAX_REQUEST, Request};
use liandong_dispatch::codec::{self, MAX_FRAME};
use liandong_dispatch::wire::{Body, Frame, PhotoKind};
use liandong_node::gateway::{api, open311};
use liandong_node::runtime::{Settings, render_config};
use liandong_node::transport::{datagram_frame, deflate::Inflater};
use liandong_topology::Topology;

/// A target's check: any bytes in, a panic for a broken property.
pub type Check = fn(&[u8]);

/// Every target, by the name `run.sh` and the corpus directories use.
pub const TARGETS: &[(&str, Check)] = &[
    ("frame", frame),
    ("topology", topology),
    ("control", control),
    ("revocations", revocations),
    ("federation", federation),
    ("node_config", node_config),
    ("gateway", gateway),
    ("cap", cap),
];

/// Most frames a compressed lane's input is cut into per run: each takes
/// at least five bytes of inflated output, so this is never reached by
/// honest input, only bounds a pathological one.
const MAX_LANE_FRAMES: usize = 10_000;

/// Bytes from a peer, every way the node reads them: as one frame
/// (`dispatch::codec`, what the core decodes), as an urgent datagram copy,
/// and as a compressed lane's stream cut into frames. A frame that decodes
/// encodes again and decodes to itself; an envelope's signed bytes and a
/// document's text are computed as a node computes them.
pub fn frame(data: &[u8]) {
    decode_frame(data);
    if let Ok(inner) = datagram_frame(data) {
        assert!(!inner.is_empty() && inner.len() <= MAX_FRAME && inner.len() + 4 <= data.len());
        decode_frame(inner);
    }
    let mut lane = Inflater::new();
    lane.feed(data);
    for _ in 0..MAX_LANE_FRAMES {
        match lane.next_frame() {
            Ok(Some(bytes)) => {
                assert!(!bytes.is_empty() && bytes.len() <= MAX_FRAME);
                decode_frame(&bytes);
            }
            Ok(None) | Err(_) => break,
        }
    }
}

fn decode_frame(bytes: &[u8]) {
    let Ok(frame) = codec::decode_frame(bytes) else {
        return;
    };
    let again = codec::encode_frame(&frame).expect("a frame that decoded encodes again");
    assert!(again.len() <= MAX_FRAME);
    assert_eq!(
        codec::decode_frame(&again).as_ref(),
        Ok(&frame),
        "decode, encode, decode"
    );
    if let Frame::Carry(carry) = &frame {
        let signed = codec::signed_bytes(&carry.envelope);
        assert!(!signed.is_empty());
        let _ = codec::encoded_len(&carry.envelope);
        if let Body::Document(document) = &carry.envelope.body {
            let _ = document.text();
        }
    }
}

/// A topology file's text (`Topology::parse`, as `Topology::load` reads
/// it). A valid one written back with `to_toml` reads as the same
/// topology (the same text again).
pub fn topology(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Topology::parse(text, None) {
        Ok(topology) => {
            let written = topology.to_toml();
            let again = Topology::parse(&written, None)
                .unwrap_or_else(|e| panic!("to_toml's text does not read back: {e}\n{written}"));
            assert_eq!(again.to_toml(), written, "topology written, read, written");
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

/// A control request's body as the node's control server reads it off a
/// stream (`liandong_control::frame::decode`, at most `MAX_REQUEST`).
/// One that decodes encodes again and decodes to itself.
pub fn control(data: &[u8]) {
    let Ok(request) = control_frame::decode::<Request, MAX_REQUEST>(data) else {
        return;
    };
    let framed = control_frame::encode::<Request, MAX_REQUEST>(&request).expect("a request that decoded encodes again");
    let len = u32::from_be_bytes(framed[..4].try_into().expect("a length prefix")) as usize;
    assert_eq!(len, framed.len() - 4);
    let again = control_frame::decode::<Request, MAX_REQUEST>(&framed[4..]).expect("an encoded request decodes");
    assert_eq!(again, request, "decode, encode, decode");
}

/// The revocation list file (`RevocationList::parse`) and a document's
/// `[[revoked]]` entries (`from_document`). A list that reads is written
/// back with `to_toml` and reads as the same list.
pub fn revocations(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("revoked.toml");
    if let Ok(list) = liandong_certs::RevocationList::parse(text, path) {
        let written = list.to_toml();
        let again = liandong_certs::RevocationList::parse(&written, path)
            .unwrap_or_else(|e| panic!("to_toml's text does not read back: {e}\n{written}"));
        assert_eq!(again, list, "list written and read back");
    }
    let _ = liandong_certs::RevocationList::from_document(text, path);
}

/// A federation document and its signature file, split at the first NUL
/// byte (document text, then `<document>.sig`'s text): read as
/// `federation::read_signed` reads the two files, and the document's
/// contents as `federation::check` reads them once the signature is
/// checked (the signature itself is not: no key would match).
pub fn federation(data: &[u8]) {
    let (doc, sig) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let Ok(text) = std::str::from_utf8(doc) else {
        return;
    };
    let path = Path::new("/etc/liandong/federation.toml");
    let _ = liandong_node::federation::read_contents(text, 1);
    let Ok(sig_text) = std::str::from_utf8(sig) else {
        return;
    };
    if let Ok(document) = liandong_node::federation::parse_signed(text, sig_text, path) {
        assert_eq!(document.text().as_deref(), Ok(text), "the document carries its text");
        let _ = liandong_node::federation::read_contents(text, document.version);
    }
}

/// The machine's config file, `node.toml` (`Settings::parse`). Settings
/// that read are written with `render_config` (`liandong node init`'s
/// template) and read back as the same settings.
pub fn node_config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("/etc/liandong/node.toml");
    let Ok(settings) = Settings::parse(text, path) else {
        return;
    };
    let written = render_config(&settings);
    let again = Settings::parse(&written, path)
        .unwrap_or_else(|e| panic!("the template's text does not read back: {e}\n{written}"));
    assert_eq!(again, settings, "settings written and read back");
}

/// What the gateway reads from a request: a JSON report and an order
/// step's body, an Open311 form and query, an `Idempotency-Key`, a
/// photo's format by its content and a photo's name.
pub fn gateway(data: &[u8]) {
    let _ = api::read_report(data);
    if let Ok(step) = api::read_step(data) {
        for name in ["sign", "progress", "done", "refuse"] {
            assert!(api::order_step(name, "hotline", step.note.clone()).is_some());
        }
    }
    if let Ok(form) = open311::read_form(data)
        && let Ok((service, act)) = open311::report_of(form)
    {
        let liandong_control::proto::Act::Report {
            title,
            detail,
            category,
            ..
        } = act
        else {
            panic!("an Open311 request files a report");
        };
        assert_eq!(category, service.category);
        assert!(!title.is_empty() && title.chars().count() <= 60, "title {title:?}");
        assert!(!detail.is_empty());
    }
    if let Ok(query) = std::str::from_utf8(data) {
        if let Ok(filters) = open311::read_filters(query) {
            let _ = filters.dates();
        }
        let _ = liandong_node::photos::files::parse_hex(query);
    }
    if let Ok(value) = axum::http::HeaderValue::from_bytes(data) {
        let mut headers = axum::http::HeaderMap::new();
        headers.insert("idempotency-key", value);
        if let Ok(Some(key)) = api::idempotency_key(&headers) {
            assert!((1..=api::MAX_IDEMPOTENCY_KEY).contains(&key.len()));
        }
    }
    if let Some(kind) = PhotoKind::sniff(data) {
        assert!(!kind.mime().is_empty());
    }
}

/// A CAP 1.2 alert's XML (`liandong_cap::parse`, what `POST /v1/cap` and
/// `liandong cap import` read). An alert that reads is written with
/// `to_xml` and reads back as the same alert.
pub fn cap(data: &[u8]) {
    let Ok(alert) = liandong_cap::parse(data) else {
        return;
    };
    let written = liandong_cap::to_xml(&alert);
    let again = liandong_cap::parse(written.as_bytes())
        .unwrap_or_else(|e| panic!("to_xml's alert does not read back: {e}\n{written}"));
    assert_eq!(again, alert, "alert written and read back");
}

#[cfg(test)]
mod tests {
    //! Every committed corpus file through its target's check, without
    //! AFL (`cargo test --lib` here; the binaries link AFL's runtime, so
    //! a plain build of them fails): the seeds and every crash kept as a
    //! regression input stay checked. The owning crates' own tests hold
    //! each crash as a named regression test too.

    use std::path::Path;

    #[test]
    fn every_corpus_file_passes_its_target() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
        let mut ran = 0;
        for &(name, check) in super::TARGETS {
            let dir = root.join(name);
            let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            let mut files = 0;
            for entry in entries {
                let path = entry.expect("a directory entry").path();
                let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                eprintln!("{name}: {}", path.display());
                check(&bytes);
                files += 1;
            }
            assert!(files > 0, "target {name} has no seed in {}", dir.display());
            ran += files;
        }
        eprintln!("{ran} corpus files checked");
    }
}
