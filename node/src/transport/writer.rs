//! Writing a lane: one long-lived unidirectional QUIC stream per lane and
//! connection, opened on its first frame (the accepting side's Control
//! stream at once: it is the acceptance signal), with stream priorities
//! Control > Urgent > Normal > Bulk. A stream starts with one byte naming
//! its lane, then carries frames, each a `u32` big-endian length and that
//! many bytes. The writer gathers what is queued into one write.
//!
//! On a link whose class declares its rate, the routine and bulk lanes
//! are paced ([`super::pace`]: pieces of at most one packet, at the
//! declared rate) and compressed ([`super::deflate`]; the tag byte says
//! so); control and urgent frames never wait and are written as they are.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use liandong_dispatch::wire::Lane;
use liandong_topology::LinkClass;
use quinn::SendStream;
use tokio::sync::mpsc;

use super::close_code;
use super::deflate::Deflater;
use super::link::{Link, Queued, lane_index, lock};
use super::pace::{CONTROL_HOLD, PIECE};

/// Most bytes an unpaced lane writes at once.
const BATCH: usize = 64 * 1024;

/// Most frame bytes a paced lane compresses at once: a few packets' worth,
/// so a batch shrinks to about one piece or two.
const SQUEEZE: usize = LinkClass::SQUEEZE;

/// The tag bit of a compressed lane's stream.
pub(super) const DEFLATED: u8 = 0x10;

/// Drains one lane's queue into its stream, opened on the first frame (or
/// at once when `eager`). On a paced lane, in compressed pieces the pacer
/// lets through.
pub(super) async fn write_lane(link: Arc<Link>, lane: Lane, mut queue: mpsc::Receiver<Queued>, eager: bool) {
    let conn = link.conn.clone();
    let pacer = link
        .pacer
        .as_ref()
        .filter(|_| matches!(lane, Lane::Normal | Lane::Bulk));
    let mut deflater = pacer.map(|_| Deflater::new());
    let tag = lane_tag(lane) | if deflater.is_some() { DEFLATED } else { 0 };
    let gather = if pacer.is_some() { SQUEEZE } else { BATCH };
    let work = async {
        let mut stream = if eager {
            Some(open_lane(&conn, lane, tag).await?)
        } else {
            None
        };
        // Frame bytes taken from the queue, and each frame's fingerprint
        // (released once it is written).
        let mut plain: Vec<u8> = Vec::new();
        let mut prints: Vec<u64> = Vec::new();
        let mut wire: Vec<u8> = Vec::new();
        loop {
            match queue.recv().await {
                Some(q) => take(&mut plain, &mut prints, q)?,
                None => break,
            }
            // On a declared link with pieces going, control frames wait
            // (briefly) to share the next piece's packet.
            if lane == Lane::Control
                && let Some(p) = link.pacer.as_ref().filter(|p| p.busy())
            {
                let _ = tokio::time::timeout(CONTROL_HOLD, p.next_piece()).await;
            }
            while plain.len() < gather {
                match queue.try_recv() {
                    Ok(q) => take(&mut plain, &mut prints, q)?,
                    Err(_) => break,
                }
            }
            let stream = match &mut stream {
                Some(stream) => stream,
                None => stream.insert(open_lane(&conn, lane, tag).await?),
            };
            let bytes = match &mut deflater {
                Some(d) => {
                    wire.clear();
                    d.squeeze(&plain, &mut wire)?;
                    &wire
                }
                None => &plain,
            };
            let piece = if pacer.is_some() { PIECE } else { bytes.len().max(1) };
            for chunk in bytes.chunks(piece) {
                if let Some(pacer) = pacer {
                    pacer.acquire(lane, chunk.len()).await;
                    // Control frames held for this piece write first.
                    tokio::task::yield_now().await;
                }
                stream.write_all(chunk).await.map_err(|e| e.to_string())?;
                link.written[lane_index(lane)].fetch_add(chunk.len() as u64, Ordering::Relaxed);
            }
            plain.clear();
            let mut queued = lock(&link.queued);
            for print in prints.drain(..) {
                queued.remove(&print);
            }
        }
        Ok::<(), String>(())
    };
    tokio::select! {
        result = work => {
            if let Err(e) = result
                && conn.close_reason().is_none()
            {
                link.close(close_code::STREAM_FAILED, &format!("the {} lane's stream failed: {e}", lane.name()));
            }
        }
        _ = conn.closed() => {}
    }
}

/// Appends a queued frame, with its length prefix, to the bytes a lane
/// writer has yet to write, and keeps its fingerprint.
fn take(plain: &mut Vec<u8>, prints: &mut Vec<u64>, (print, frame): Queued) -> Result<(), String> {
    let len = u32::try_from(frame.len()).map_err(|_| format!("frame of {} bytes", frame.len()))?;
    plain.extend_from_slice(&len.to_be_bytes());
    plain.extend_from_slice(&frame);
    prints.push(print);
    Ok(())
}

async fn open_lane(conn: &quinn::Connection, lane: Lane, tag: u8) -> Result<SendStream, String> {
    let mut stream = conn.open_uni().await.map_err(|e| e.to_string())?;
    // Only fails on a stream already closed; the write below reports that.
    let _ = stream.set_priority(lane_priority(lane));
    stream.write_all(&[tag]).await.map_err(|e| e.to_string())?;
    Ok(stream)
}

fn lane_tag(lane: Lane) -> u8 {
    match lane {
        Lane::Control => 0,
        Lane::Urgent => 1,
        Lane::Normal => 2,
        Lane::Bulk => 3,
    }
}

/// QUIC send priority: higher goes first.
fn lane_priority(lane: Lane) -> i32 {
    match lane {
        Lane::Control => 3,
        Lane::Urgent => 2,
        Lane::Normal => 1,
        Lane::Bulk => 0,
    }
}
