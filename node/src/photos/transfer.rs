//! Photos following their report, hop by hop: a node that stored a report
//! carrying photos it lacks asks the neighbour that sent the report
//! (`Frame::PhotoAsk`), and that neighbour answers with the photo's pieces
//! (`Frame::PhotoPiece`, [`PIECE`] bytes each) on the bulk lane, behind
//! every urgent, routine and control frame. The asker puts the pieces
//! together in order, checks the whole against the hash, and keeps it
//! (`files`); then it answers whoever asked it meanwhile (the next hop up,
//! which stored the report before the photo arrived here).
//!
//! Pulling, not pushing, makes it resumable: a want that makes no
//! progress for [`STALL`] (the link was cut, the neighbour restarted) is
//! asked again from the start, and after a restart the driver wants every
//! photo of every report it holds again ([`Photos::want`] skips what is
//! here). A photo is kept only whole and only if it hashes to its name.
//!
//! One task owns the transfers; the driver hands it what it learns and
//! never waits for it. File work runs on the blocking pool.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use liandong_dispatch::codec::encode_frame;
use liandong_dispatch::wire::{Frame, Lane, PhotoRef};
use liandong_topology::NodeId;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use super::files::{HARD_MAX, PhotoFiles, hex};
use crate::transport::Transport;

/// Bytes of a photo per frame.
pub const PIECE: usize = 64 * 1024;
/// A want with no piece for this long is asked again from the start.
pub const STALL: Duration = Duration::from_secs(30);
/// How often stalled wants are looked for.
const TICK: Duration = Duration::from_secs(5);

/// What the driver tells the transfers.
#[derive(Debug)]
enum News {
    /// A report stored here carries `photo`; `from` sent it.
    Want { from: NodeId, photo: PhotoRef },
    /// `peer` asks for photo `sha256`.
    Asked { peer: NodeId, sha256: [u8; 32] },
    /// A piece from `peer`.
    Piece {
        peer: NodeId,
        sha256: [u8; 32],
        offset: u64,
        total: u64,
        bytes: Vec<u8>,
    },
    /// A photo was put together and kept (from the blocking pool).
    Kept { sha256: [u8; 32], ok: Result<(), String> },
}

/// The driver's handle on the photo transfers.
#[derive(Clone)]
pub struct Photos {
    news: mpsc::UnboundedSender<News>,
    files: PhotoFiles,
}

impl Photos {
    /// Starts the task that moves `files`' photos over `transport`.
    pub fn start(files: PhotoFiles, transport: Transport) -> Photos {
        let (news, inbox) = mpsc::unbounded_channel();
        let task = Transfers {
            files: files.clone(),
            transport,
            wants: HashMap::new(),
            waiting: HashMap::new(),
            news: news.clone(),
        };
        tokio::spawn(task.run(inbox));
        Photos { news, files }
    }

    pub fn files(&self) -> &PhotoFiles {
        &self.files
    }

    /// A report stored here carries `photo`, and `from` sent the report:
    /// fetch the photo from there unless it is here.
    pub fn want(&self, from: &NodeId, photo: PhotoRef) {
        if !self.files.holds(&photo.sha256) {
            let _ = self.news.send(News::Want {
                from: from.clone(),
                photo,
            });
        }
    }

    /// `peer` asked for a photo.
    pub fn asked(&self, peer: NodeId, sha256: [u8; 32]) {
        let _ = self.news.send(News::Asked { peer, sha256 });
    }

    /// A piece of a photo arrived from `peer`.
    pub fn piece(&self, peer: NodeId, sha256: [u8; 32], offset: u64, total: u64, bytes: Vec<u8>) {
        let _ = self.news.send(News::Piece {
            peer,
            sha256,
            offset,
            total,
            bytes,
        });
    }
}

/// A photo being fetched.
struct Want {
    from: NodeId,
    photo: PhotoRef,
    got: Vec<u8>,
    last: Instant,
    /// Whole, being checked and written.
    keeping: bool,
    started: Instant,
}

struct Transfers {
    files: PhotoFiles,
    transport: Transport,
    wants: HashMap<[u8; 32], Want>,
    /// Neighbours that asked for a photo this node was still fetching.
    waiting: HashMap<[u8; 32], Vec<NodeId>>,
    news: mpsc::UnboundedSender<News>,
}

impl Transfers {
    async fn run(mut self, mut inbox: mpsc::UnboundedReceiver<News>) {
        let mut tick = tokio::time::interval(TICK);
        loop {
            tokio::select! {
                news = inbox.recv() => match news {
                    Some(news) => self.on(news),
                    None => return,
                },
                _ = tick.tick() => self.ask_stalled(),
            }
        }
    }

    fn on(&mut self, news: News) {
        match news {
            News::Want { from, photo } => {
                if self.wants.contains_key(&photo.sha256) || self.files.holds(&photo.sha256) {
                    return;
                }
                if photo.size == 0 || photo.size > HARD_MAX {
                    warn!(photo = %hex(&photo.sha256), size = photo.size, "a report names a photo too large to fetch");
                    return;
                }
                let now = Instant::now();
                self.ask(&from, &photo.sha256);
                self.wants.insert(
                    photo.sha256,
                    Want {
                        from,
                        photo,
                        got: Vec::new(),
                        last: now,
                        keeping: false,
                        started: now,
                    },
                );
            }
            News::Asked { peer, sha256 } => {
                if self.files.holds(&sha256) {
                    self.send_photo(peer, sha256);
                } else if self.wants.contains_key(&sha256) {
                    let list = self.waiting.entry(sha256).or_default();
                    if !list.contains(&peer) {
                        list.push(peer);
                    }
                } else {
                    debug!(%peer, photo = %hex(&sha256), "asked for a photo not held here");
                }
            }
            News::Piece {
                peer,
                sha256,
                offset,
                total,
                bytes,
            } => self.on_piece(peer, sha256, offset, total, bytes),
            News::Kept { sha256, ok } => {
                let Some(want) = self.wants.remove(&sha256) else {
                    return;
                };
                match ok {
                    Ok(()) => {
                        info!(
                            photo = %hex(&sha256),
                            bytes = want.photo.size,
                            from = %want.from,
                            took_ms = want.started.elapsed().as_millis() as u64,
                            "photo received"
                        );
                        for peer in self.waiting.remove(&sha256).unwrap_or_default() {
                            self.send_photo(peer, sha256);
                        }
                    }
                    Err(e) => {
                        // Asked again from the start once it stalls.
                        warn!(photo = %hex(&sha256), from = %want.from, error = %e, "photo not kept");
                        self.wants.insert(
                            sha256,
                            Want {
                                got: Vec::new(),
                                keeping: false,
                                last: Instant::now() - STALL,
                                ..want
                            },
                        );
                    }
                }
            }
        }
    }

    fn on_piece(&mut self, peer: NodeId, sha256: [u8; 32], offset: u64, total: u64, bytes: Vec<u8>) {
        let Some(want) = self.wants.get_mut(&sha256) else {
            // Not asked for (or kept already): nothing to add to.
            return;
        };
        if want.keeping || peer != want.from || total != want.photo.size || offset != want.got.len() as u64 {
            // A repeat, or pieces of an earlier ask: the current one goes on.
            return;
        }
        if offset + bytes.len() as u64 > total {
            return;
        }
        want.got.extend_from_slice(&bytes);
        want.last = Instant::now();
        if want.got.len() as u64 == total {
            want.keeping = true;
            let bytes = std::mem::take(&mut want.got);
            let (files, news) = (self.files.clone(), self.news.clone());
            tokio::task::spawn_blocking(move || {
                let ok = files
                    .put_checked(&sha256, &bytes)
                    .map(|_| ())
                    .map_err(|e| e.to_string());
                let _ = news.send(News::Kept { sha256, ok });
            });
        }
    }

    fn ask_stalled(&mut self) {
        let now = Instant::now();
        let stalled: Vec<([u8; 32], NodeId)> = self
            .wants
            .iter()
            .filter(|(_, w)| !w.keeping && now.duration_since(w.last) >= STALL)
            .map(|(sha, w)| (*sha, w.from.clone()))
            .collect();
        for (sha256, from) in stalled {
            if let Some(want) = self.wants.get_mut(&sha256) {
                want.got.clear();
                want.last = now;
            }
            debug!(photo = %hex(&sha256), %from, "photo stalled: asked again");
            self.ask(&from, &sha256);
        }
    }

    fn ask(&self, from: &NodeId, sha256: &[u8; 32]) {
        self.send(from, &Frame::PhotoAsk { sha256: *sha256 });
    }

    /// Sends photo `sha256` to `peer`, piece by piece, on the bulk lane.
    fn send_photo(&self, peer: NodeId, sha256: [u8; 32]) {
        let (files, transport) = (self.files.clone(), self.transport.clone());
        tokio::task::spawn_blocking(move || {
            let Some(bytes) = files.read(&sha256) else {
                return;
            };
            let total = bytes.len() as u64;
            for (i, chunk) in bytes.chunks(PIECE).enumerate() {
                let frame = Frame::PhotoPiece {
                    sha256,
                    offset: (i * PIECE) as u64,
                    total,
                    bytes: chunk.to_vec(),
                };
                if !send(&transport, &peer, &frame) {
                    // The asker asks again when it stalls.
                    return;
                }
            }
            debug!(%peer, photo = %hex(&sha256), bytes = total, "photo sent");
        });
    }

    fn send(&self, peer: &NodeId, frame: &Frame) {
        send(&self.transport, peer, frame);
    }
}

fn send(transport: &Transport, peer: &NodeId, frame: &Frame) -> bool {
    match encode_frame(frame) {
        Ok(bytes) => match transport.send(peer, Lane::Bulk, bytes) {
            Ok(()) => true,
            Err(e) => {
                debug!(%peer, error = %e, "photo frame not sent");
                false
            }
        },
        Err(e) => {
            warn!(%peer, error = %e, "photo frame not encoded");
            false
        }
    }
}
