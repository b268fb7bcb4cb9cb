//! Control API messages on QUIC streams: a `u32` big-endian length, then
//! that many bytes of bincode (serde, standard configuration).
//!
//! Reading checks the announced length against the caller's limit before
//! allocating anything, bounds every length inside the message by the same
//! limit, and refuses trailing bytes. A stream that ends cleanly before a
//! message starts is `Ok(None)`, not an error: that is how a subscription
//! or a stream with nothing to say ends.

use quinn::{ReadError, ReadExactError, RecvStream, SendStream, WriteError};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Why a message could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The announced or encoded length is over the limit.
    #[error("a message of {len} bytes is over the {max}-byte limit")]
    TooLarge { len: usize, max: usize },
    /// The bytes are not the expected message.
    #[error("malformed message: {0}")]
    Malformed(String),
    /// The message decoded but bytes were left over.
    #[error("{0} unexpected bytes after the message")]
    Trailing(usize),
    /// The stream finished part-way through a message.
    #[error("the stream ended inside a message ({got} of {want} bytes)")]
    Truncated { got: usize, want: usize },
    /// Reading from the stream failed (reset, connection lost).
    #[error("{0}")]
    Read(ReadError),
    /// Writing to the stream failed (stopped by the peer, connection lost).
    #[error("{0}")]
    Write(WriteError),
}

fn config<const LIMIT: usize>() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<LIMIT>()
}

/// Encodes `message` with its length prefix. Fails if the body is over
/// `LIMIT` bytes (what the reader on the other side will accept).
pub fn encode<T: Serialize, const LIMIT: usize>(message: &T) -> Result<Vec<u8>, FrameError> {
    let body =
        bincode::serde::encode_to_vec(message, config::<LIMIT>()).map_err(|e| FrameError::Malformed(e.to_string()))?;
    let len = u32::try_from(body.len())
        .ok()
        .filter(|_| body.len() <= LIMIT)
        .ok_or(FrameError::TooLarge {
            len: body.len(),
            max: LIMIT,
        })?;
    let mut out = Vec::with_capacity(4 + body.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

/// Decodes one message body (no length prefix). Never panics, whatever the bytes.
pub fn decode<T: DeserializeOwned, const LIMIT: usize>(body: &[u8]) -> Result<T, FrameError> {
    if body.len() > LIMIT {
        return Err(FrameError::TooLarge {
            len: body.len(),
            max: LIMIT,
        });
    }
    let (message, used) = bincode::serde::decode_from_slice::<T, _>(body, config::<LIMIT>())
        .map_err(|e| FrameError::Malformed(e.to_string()))?;
    if used != body.len() {
        return Err(FrameError::Trailing(body.len() - used));
    }
    Ok(message)
}

/// Writes one message (already framed by [`encode`]).
pub async fn write_bytes(send: &mut SendStream, bytes: &[u8]) -> Result<(), FrameError> {
    send.write_all(bytes).await.map_err(FrameError::Write)
}

/// Encodes and writes one message.
pub async fn write<T: Serialize, const LIMIT: usize>(send: &mut SendStream, message: &T) -> Result<(), FrameError> {
    let bytes = encode::<T, LIMIT>(message)?;
    write_bytes(send, &bytes).await
}

/// Reads the length prefix of the next message: `None` if the stream
/// finished cleanly first, an error if it is over `LIMIT`.
pub async fn read_len<const LIMIT: usize>(recv: &mut RecvStream) -> Result<Option<usize>, FrameError> {
    let mut prefix = [0u8; 4];
    match recv.read_exact(&mut prefix).await {
        Ok(()) => {}
        Err(ReadExactError::FinishedEarly(0)) => return Ok(None),
        Err(ReadExactError::FinishedEarly(got)) => return Err(FrameError::Truncated { got, want: 4 }),
        Err(ReadExactError::ReadError(e)) => return Err(FrameError::Read(e)),
    }
    let len = u32::from_be_bytes(prefix) as usize;
    if len > LIMIT {
        return Err(FrameError::TooLarge { len, max: LIMIT });
    }
    Ok(Some(len))
}

/// Reads one message of at most `LIMIT` bytes: `None` if the stream
/// finished cleanly before it.
pub async fn read<T: DeserializeOwned, const LIMIT: usize>(recv: &mut RecvStream) -> Result<Option<T>, FrameError> {
    let Some(len) = read_len::<LIMIT>(recv).await? else {
        return Ok(None);
    };
    // Bounded by LIMIT above.
    let mut body = vec![0u8; len];
    match recv.read_exact(&mut body).await {
        Ok(()) => {}
        Err(ReadExactError::FinishedEarly(got)) => return Err(FrameError::Truncated { got, want: len }),
        Err(ReadExactError::ReadError(e)) => return Err(FrameError::Read(e)),
    }
    decode::<T, LIMIT>(&body).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{Act, IdRef, MAX_REQUEST, Request};

    #[test]
    fn round_trips_and_refuses_bad_bytes() {
        let request = Request::Act(Act::Accept {
            incident: IdRef("3f2a9c0e1b7d".into()),
        });
        let bytes = encode::<_, MAX_REQUEST>(&request).unwrap();
        let len = u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize;
        assert_eq!(len, bytes.len() - 4);
        assert_eq!(decode::<Request, MAX_REQUEST>(&bytes[4..]).unwrap(), request);

        let mut trailing = bytes[4..].to_vec();
        trailing.push(0);
        assert!(matches!(
            decode::<Request, MAX_REQUEST>(&trailing),
            Err(FrameError::Trailing(1))
        ));
        assert!(matches!(
            decode::<Request, MAX_REQUEST>(&[0xff, 0xff, 0xff]),
            Err(FrameError::Malformed(_))
        ));
    }

    #[test]
    fn encoding_over_the_limit_is_refused() {
        let request = Request::Act(Act::Note {
            incident: IdRef("x".into()),
            text: "字".repeat(100),
        });
        assert!(matches!(
            encode::<_, 64>(&request),
            Err(FrameError::TooLarge { max: 64, .. })
        ));
    }

    #[test]
    fn a_huge_claimed_string_is_refused_without_allocating_it() {
        // Variant 8 (Note), then an IdRef whose string claims u64::MAX bytes
        // (varint marker 253: eight bytes follow).
        let body = [8u8, 253, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        assert!(decode::<Request, MAX_REQUEST>(&body).is_err());
    }
}
