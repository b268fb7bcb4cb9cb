//! Helpers for the tests that run nodes of the demo federation in this
//! process (`LocalFederation`): ids, and the federation on its own
//! loopback IP.

#![allow(dead_code)]

use std::net::Ipv4Addr;
use std::path::Path;

use liandong_node::local::LocalFederation;
use liandong_topology::{Addressing, NodeId, Preset, Shape, generate};

pub fn id(s: &str) -> NodeId {
    NodeId::parse(s).unwrap()
}

/// The demo federation's files under `dir`, its nodes on `ip` from port
/// 7100; none started.
pub fn demo(dir: &Path, ip: Ipv4Addr) -> LocalFederation {
    let topology = generate(
        &Shape::Preset(Preset::Demo),
        Addressing {
            ip: ip.into(),
            base_port: 7100,
        },
    )
    .unwrap();
    LocalFederation::prepare(dir, topology).unwrap()
}
