//! Compression of the routine and bulk lanes on a declared (thin) link.
//!
//! Envelopes that cross a village link in a backlog look alike: the same
//! node ids, categories and places, text in the same words. A lane's
//! stream is one raw DEFLATE stream (RFC 1951) for the connection's
//! life, flushed to a byte boundary (a sync flush) after each batch of
//! frames, so the receiver can hand every frame on as soon as its last
//! byte arrives while the dictionary carries over from frame to frame.
//! Measured on the thin-link bench's backlog (stored envelopes, batches
//! of about one packet): reports to 37% of their size, orders 50%, order
//! acknowledgements 63%, incident updates 74%; ids and signatures are
//! random and do not shrink. Control and urgent frames are not
//! compressed: they are small, and an urgent frame must not wait for a
//! batch.
//!
//! Reading is bounded like a plain stream: the inflated bytes are cut
//! into length-prefixed frames checked against [`MAX_FRAME`] before
//! anything is allocated for them, and inflating stops at a fixed chunk
//! until the frames in it are taken, so a small compressed input cannot
//! blow up in memory. A stream that is not valid DEFLATE is a protocol
//! violation.
//!
//! Public for the fuzz targets (`fuzz/`), which feed [`Inflater`] what a
//! peer could send; only the transport uses it in the node.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use liandong_dispatch::codec::{CodecError, MAX_FRAME};

/// Inflated bytes produced at a time.
const CHUNK: usize = 16 * 1024;

/// One lane's compressor.
pub struct Deflater(Compress);

impl Default for Deflater {
    fn default() -> Deflater {
        Deflater::new()
    }
}

impl Deflater {
    pub fn new() -> Deflater {
        Deflater(Compress::new(Compression::fast(), false))
    }

    /// Compresses `input` and flushes to a byte boundary, appending to `out`.
    pub fn squeeze(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        let mut read = 0;
        loop {
            if out.capacity() - out.len() < 64 {
                out.reserve(input.len() / 2 + 64);
            }
            let before = self.0.total_in();
            self.0
                .compress_vec(&input[read..], out, FlushCompress::Sync)
                .map_err(|e| format!("compressing a lane: {e}"))?;
            read += (self.0.total_in() - before) as usize;
            // Done once all input is in and the flush left room to spare.
            if read == input.len() && out.len() < out.capacity() {
                return Ok(());
            }
        }
    }
}

/// One lane's decompressor and the frames it is cutting out.
pub struct Inflater {
    d: Decompress,
    /// Inflated bytes not yet taken as frames.
    plain: Vec<u8>,
    /// Compressed bytes not yet inflated.
    input: Vec<u8>,
}

/// Why a compressed lane could not be read.
#[derive(Debug)]
pub enum InflateError {
    /// Not valid DEFLATE.
    Corrupt(String),
    /// A frame length that is zero or over the limit.
    Frame(CodecError),
}

impl Default for Inflater {
    fn default() -> Inflater {
        Inflater::new()
    }
}

impl Inflater {
    pub fn new() -> Inflater {
        Inflater {
            d: Decompress::new(false),
            plain: Vec::new(),
            input: Vec::new(),
        }
    }

    /// Takes compressed bytes as they came off the stream.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.input.extend_from_slice(bytes);
    }

    /// The next whole frame, inflating more as needed; `None` once the
    /// compressed bytes fed so far hold no further whole frame.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, InflateError> {
        loop {
            if let Some(frame) = self.cut()? {
                return Ok(Some(frame));
            }
            if !self.inflate()? {
                return Ok(None);
            }
        }
    }

    /// A whole frame off the front of the inflated bytes, if there is one.
    fn cut(&mut self) -> Result<Option<Vec<u8>>, InflateError> {
        let Some(prefix) = self.plain.first_chunk::<4>() else {
            return Ok(None);
        };
        let len = usize::try_from(u32::from_be_bytes(*prefix)).unwrap_or(usize::MAX);
        if len == 0 {
            return Err(InflateError::Frame(CodecError::Empty));
        }
        if len > MAX_FRAME {
            return Err(InflateError::Frame(CodecError::TooLarge { len, max: MAX_FRAME }));
        }
        if self.plain.len() < 4 + len {
            return Ok(None);
        }
        let frame = self.plain[4..4 + len].to_vec();
        self.plain.drain(..4 + len);
        Ok(Some(frame))
    }

    /// Inflates up to [`CHUNK`] more bytes; false if nothing came out.
    fn inflate(&mut self) -> Result<bool, InflateError> {
        if self.input.is_empty() {
            return Ok(false);
        }
        let start = self.plain.len();
        self.plain.resize(start + CHUNK, 0);
        let (in_before, out_before) = (self.d.total_in(), self.d.total_out());
        let status = self
            .d
            .decompress(&self.input, &mut self.plain[start..], FlushDecompress::Sync)
            .map_err(|e| InflateError::Corrupt(e.to_string()));
        let produced = (self.d.total_out() - out_before) as usize;
        self.plain.truncate(start + produced);
        let status = status?;
        let used = (self.d.total_in() - in_before) as usize;
        self.input.drain(..used);
        if status == Status::StreamEnd && !self.input.is_empty() {
            return Err(InflateError::Corrupt("bytes after the end of the stream".into()));
        }
        Ok(produced > 0 || used > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(frames: &[Vec<u8>]) -> Vec<u8> {
        let mut out = Vec::new();
        for f in frames {
            out.extend_from_slice(&(f.len() as u32).to_be_bytes());
            out.extend_from_slice(f);
        }
        out
    }

    #[test]
    fn frames_come_out_whole_and_in_order_whatever_the_cuts() {
        let frames: Vec<Vec<u8>> = (0..200)
            .map(|i| format!("日常巡查 第{i}报：道路积水 {}", "x".repeat(i % 37)).into_bytes())
            .collect();
        let mut d = Deflater::new();
        let mut wire = Vec::new();
        // Batches of 1, 2, 3... frames, each flushed.
        let mut at = 0;
        let mut batch = 1;
        while at < frames.len() {
            let end = (at + batch).min(frames.len());
            d.squeeze(&framed(&frames[at..end]), &mut wire).unwrap();
            at = end;
            batch += 1;
        }
        let plain = framed(&frames).len();
        assert!(
            wire.len() * 3 < plain,
            "{} bytes for {plain}: alike frames must shrink",
            wire.len()
        );
        // Fed back in odd slices, every frame comes out once, in order.
        let mut inf = Inflater::new();
        let mut got = Vec::new();
        for slice in wire.chunks(97) {
            inf.feed(slice);
            while let Some(f) = inf.next_frame().unwrap() {
                got.push(f);
            }
        }
        assert_eq!(got, frames);
    }

    #[test]
    fn a_flushed_batch_is_readable_before_the_next_one() {
        let mut d = Deflater::new();
        let mut wire = Vec::new();
        d.squeeze(&framed(&[b"first".to_vec()]), &mut wire).unwrap();
        let mut inf = Inflater::new();
        inf.feed(&wire);
        assert_eq!(inf.next_frame().unwrap(), Some(b"first".to_vec()));
        assert_eq!(inf.next_frame().unwrap(), None);
    }

    #[test]
    fn garbage_and_oversized_frames_are_refused() {
        let mut inf = Inflater::new();
        inf.feed(&[0xff; 64]);
        assert!(matches!(inf.next_frame(), Err(InflateError::Corrupt(_))));

        let mut d = Deflater::new();
        let mut wire = Vec::new();
        let huge = ((MAX_FRAME + 1) as u32).to_be_bytes();
        d.squeeze(&huge, &mut wire).unwrap();
        let mut inf = Inflater::new();
        inf.feed(&wire);
        assert!(matches!(
            inf.next_frame(),
            Err(InflateError::Frame(CodecError::TooLarge { .. }))
        ));
    }

    #[test]
    fn a_small_bomb_inflates_a_chunk_at_a_time() {
        // A length over MAX_FRAME, then 4 MiB of zeros that deflate to a
        // few kilobytes: refused as soon as the prefix is out, with no
        // more than a chunk inflated.
        let mut d = Deflater::new();
        let mut wire = Vec::new();
        let mut plain = ((MAX_FRAME as u32) + 5).to_be_bytes().to_vec();
        plain.extend(std::iter::repeat_n(0u8, 4 << 20));
        d.squeeze(&plain, &mut wire).unwrap();
        assert!(wire.len() < 64 * 1024);
        let mut inf = Inflater::new();
        inf.feed(&wire);
        assert!(inf.next_frame().is_err());
        assert!(inf.plain.len() <= CHUNK);
    }
}
