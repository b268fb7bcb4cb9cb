//! Reading what a peer sends: each stream the peer opens names its lane
//! in its first byte (with [`DEFLATED`] set if the stream is compressed,
//! [`super::deflate`]), then carries frames, each a `u32` big-endian
//! length and that many bytes. Lengths are checked against [`MAX_FRAME`]
//! before anything is allocated; a zero or oversized length, an unknown
//! lane tag or a corrupt compressed stream closes the connection with
//! [`close_code::PROTOCOL`]. Frame contents are not decoded here: the
//! core decodes them and refuses garbage itself. Readers await on the
//! bounded event channel, so a slow driver back-pressures QUIC flow
//! control. Datagrams carry extra copies of urgent frames: a length, the
//! frame, padding.

use std::sync::Arc;

use liandong_dispatch::codec::{CodecError, MAX_FRAME};
use liandong_dispatch::wire::Lane;
use quinn::{ConnectionError, ReadExactError, RecvStream};

use super::close_code;
use super::deflate::{InflateError, Inflater};
use super::event::LinkEvent;
use super::link::{LANES, Link};
use super::shared::Shared;
use super::writer::DEFLATED;

/// Compressed bytes read from a stream at a time.
const READ_CHUNK: usize = 8 * 1024;

impl Shared {
    /// Hands each stream the peer opens to a reader.
    pub(super) async fn accept_streams(self: Arc<Self>, link: Arc<Link>) {
        while let Ok(recv) = link.conn.accept_uni().await {
            let shared = self.clone();
            let link = link.clone();
            self.spawn(async move {
                match read_lane_tag(recv).await {
                    Ok((recv, lane, false)) => shared.read_stream(link, recv, lane).await,
                    Ok((recv, lane, true)) => shared.read_deflated(link, recv, lane).await,
                    Err(StreamStart::Violation(reason)) => {
                        link.refuse(close_code::PROTOCOL, &reason);
                    }
                    Err(StreamStart::Closed(_) | StreamStart::Ended) => {}
                }
            });
        }
    }

    /// Reads length-prefixed frames from one lane stream and passes them up.
    pub(super) async fn read_stream(self: Arc<Self>, link: Arc<Link>, mut recv: RecvStream, lane: Lane) {
        loop {
            let mut prefix = [0u8; 4];
            match recv.read_exact(&mut prefix).await {
                Ok(()) => {}
                Err(ReadExactError::FinishedEarly(0)) => return,
                Err(e) => {
                    tracing::debug!(node = %self.me, peer = %link.peer, lane = lane.name(), "lane stream ended: {e}");
                    return;
                }
            }
            let len = usize::try_from(u32::from_be_bytes(prefix)).unwrap_or(usize::MAX);
            if len == 0 {
                let reason = format!("{} (zero length prefix on the {} lane)", CodecError::Empty, lane.name());
                link.refuse(close_code::PROTOCOL, &reason);
                return;
            }
            if len > MAX_FRAME {
                let reason = CodecError::TooLarge { len, max: MAX_FRAME }.to_string();
                link.refuse(close_code::PROTOCOL, &reason);
                return;
            }
            let mut bytes = vec![0u8; len];
            if let Err(e) = recv.read_exact(&mut bytes).await {
                tracing::debug!(node = %self.me, peer = %link.peer, lane = lane.name(), "lane stream ended mid-frame: {e}");
                return;
            }
            tracing::trace!(peer = %link.peer, lane = lane.name(), len, "frame from a stream");
            self.emit_frame(&link, bytes).await;
        }
    }
}

impl Shared {
    /// Reads a compressed lane stream: inflates what arrives and passes
    /// each whole frame up as soon as its last byte is in.
    pub(super) async fn read_deflated(self: Arc<Self>, link: Arc<Link>, mut recv: RecvStream, lane: Lane) {
        let mut inflater = Inflater::new();
        loop {
            loop {
                match inflater.next_frame() {
                    Ok(Some(bytes)) => {
                        tracing::trace!(peer = %link.peer, lane = lane.name(), len = bytes.len(), "frame from a compressed stream");
                        self.emit_frame(&link, bytes).await;
                    }
                    Ok(None) => break,
                    Err(e) => {
                        let reason = match e {
                            InflateError::Corrupt(e) => format!("a corrupt compressed {} lane: {e}", lane.name()),
                            InflateError::Frame(e) => format!("{e} (on the compressed {} lane)", lane.name()),
                        };
                        link.refuse(close_code::PROTOCOL, &reason);
                        return;
                    }
                }
            }
            match recv.read_chunk(READ_CHUNK, true).await {
                Ok(Some(chunk)) => inflater.feed(&chunk.bytes),
                Ok(None) => return,
                Err(e) => {
                    tracing::debug!(node = %self.me, peer = %link.peer, lane = lane.name(), "lane stream ended: {e}");
                    return;
                }
            }
        }
    }

    /// Reads the urgent lane's datagram copies: a `u32` big-endian length,
    /// that many bytes of frame, then padding. A length that is zero or
    /// runs past the datagram closes the connection, like a bad stream.
    pub(super) async fn read_datagrams(self: Arc<Self>, link: Arc<Link>) {
        while let Ok(datagram) = link.conn.read_datagram().await {
            let frame = match datagram_frame(&datagram) {
                Ok(frame) => frame,
                Err(reason) => {
                    link.refuse(close_code::PROTOCOL, &reason);
                    return;
                }
            };
            tracing::trace!(peer = %link.peer, len = frame.len(), "urgent copy from a datagram");
            self.emit_frame(&link, frame.to_vec()).await;
        }
    }
}

/// The frame in an urgent lane's datagram copy: a `u32` big-endian
/// length, that many bytes of frame, then padding. A length that is zero,
/// over [`MAX_FRAME`] or runs past the datagram is the reason to close
/// the connection. (The fuzz targets in `fuzz/` call this too.)
pub fn datagram_frame(datagram: &[u8]) -> Result<&[u8], String> {
    let Some((prefix, rest)) = datagram.split_first_chunk::<4>() else {
        return Err("a datagram shorter than its length prefix".into());
    };
    let len = usize::try_from(u32::from_be_bytes(*prefix)).unwrap_or(usize::MAX);
    if len == 0 || len > rest.len() || len > MAX_FRAME {
        return Err(format!(
            "a datagram announcing a {len}-byte frame in {} bytes",
            rest.len()
        ));
    }
    Ok(&rest[..len])
}

impl Shared {
    /// Passes a frame from `link` up, unless this node refused its peer.
    async fn emit_frame(&self, link: &Link, bytes: Vec<u8>) {
        if link.refusing() {
            tracing::trace!(peer = %link.peer, "frame from a refused peer dropped");
            return;
        }
        let held = link.budget.take(&self.me, &link.peer).await;
        self.emit(LinkEvent::Frame {
            peer: link.peer.clone(),
            bytes,
            held,
        })
        .await;
    }
}

/// Why a stream's lane could not be read.
pub(super) enum StreamStart {
    /// The connection ended.
    Closed(ConnectionError),
    /// The stream ended or was reset before its tag.
    Ended,
    /// The tag is not a lane.
    Violation(String),
}

/// A stream's lane, and whether it is compressed.
type Tagged = (RecvStream, Lane, bool);

async fn read_lane_tag(mut recv: RecvStream) -> Result<Tagged, StreamStart> {
    let mut tag = [0u8; 1];
    match recv.read_exact(&mut tag).await {
        Ok(()) => {}
        Err(ReadExactError::ReadError(quinn::ReadError::ConnectionLost(e))) => return Err(StreamStart::Closed(e)),
        Err(_) => return Err(StreamStart::Ended),
    }
    let deflated = tag[0] & DEFLATED != 0;
    match LANES.get(usize::from(tag[0] & !DEFLATED)) {
        Some(&lane) => Ok((recv, lane, deflated)),
        None => Err(StreamStart::Violation(format!(
            "stream opened with unknown lane tag {} (expected 0 to {})",
            tag[0],
            LANES.len() - 1
        ))),
    }
}

pub(super) async fn first_stream(conn: &quinn::Connection) -> Result<Tagged, StreamStart> {
    let recv = conn.accept_uni().await.map_err(StreamStart::Closed)?;
    read_lane_tag(recv).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_datagram_gives_its_frame_and_drops_the_padding() {
        let mut datagram = 3u32.to_be_bytes().to_vec();
        datagram.extend_from_slice(b"abc\0\0\0\0");
        assert_eq!(datagram_frame(&datagram), Ok(&b"abc"[..]));
    }

    #[test]
    fn a_datagram_with_a_bad_length_is_refused() {
        assert!(datagram_frame(&[0, 0, 1]).is_err(), "shorter than its prefix");
        assert!(datagram_frame(&[0, 0, 0, 0, 7]).is_err(), "a zero length");
        assert!(datagram_frame(&[0, 0, 0, 2, 7]).is_err(), "past the datagram");
        let mut huge = u32::try_from(MAX_FRAME + 1).unwrap().to_be_bytes().to_vec();
        huge.resize(MAX_FRAME + 8, 0);
        assert!(datagram_frame(&huge).is_err(), "over MAX_FRAME");
    }
}
