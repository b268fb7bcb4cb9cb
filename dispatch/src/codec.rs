//! The one place bytes become frames and frames become bytes.
//!
//! A frame on the wire is `[FORMAT_VERSION][bincode 2 of Frame]`, at most
//! [`MAX_FRAME`] bytes. Decoding checks the size before anything is
//! allocated, refuses another version, bounds every length inside with the
//! same limit, and refuses trailing bytes: bad input is a typed error,
//! never a panic. The signature covers [`signed_bytes`], a separate
//! canonical encoding, so routing data can change hop by hop while the
//! message cannot.

use crate::wire::{Envelope, Frame};

/// Bumped on any incompatible change to the wire types.
pub const FORMAT_VERSION: u8 = 1;

/// Largest frame a node sends or accepts. Reports carry text, not media,
/// so 256 KiB is generous; catch-up is many frames, not one big one.
pub const MAX_FRAME: usize = 256 * 1024;

/// Domain separation for signatures: a Liandong envelope signature can
/// never be replayed as a signature over anything else.
const SIGNING_CONTEXT: &[u8] = b"liandong/1 envelope\0";

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<MAX_FRAME>()
}

/// Why bytes are not a frame, or a frame cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("empty frame")]
    Empty,
    #[error("frame of {len} bytes is over the {max}-byte limit")]
    TooLarge { len: usize, max: usize },
    #[error("frame format version {got}, this node speaks {want}")]
    Version { got: u8, want: u8 },
    #[error("malformed frame: {0}")]
    Malformed(String),
    #[error("{0} unexpected bytes after the frame")]
    Trailing(usize),
}

/// Encodes a frame for sending. Fails if it would exceed [`MAX_FRAME`].
pub fn encode_frame(frame: &Frame) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::with_capacity(256);
    out.push(FORMAT_VERSION);
    let body = bincode::serde::encode_to_vec(frame, config()).map_err(|e| CodecError::Malformed(e.to_string()))?;
    out.extend_from_slice(&body);
    if out.len() > MAX_FRAME {
        return Err(CodecError::TooLarge {
            len: out.len(),
            max: MAX_FRAME,
        });
    }
    Ok(out)
}

/// Decodes one frame. Never panics, whatever the bytes.
pub fn decode_frame(bytes: &[u8]) -> Result<Frame, CodecError> {
    let (&version, body) = bytes.split_first().ok_or(CodecError::Empty)?;
    if bytes.len() > MAX_FRAME {
        return Err(CodecError::TooLarge {
            len: bytes.len(),
            max: MAX_FRAME,
        });
    }
    if version != FORMAT_VERSION {
        return Err(CodecError::Version {
            got: version,
            want: FORMAT_VERSION,
        });
    }
    let (frame, used) = bincode::serde::decode_from_slice::<Frame, _>(body, config())
        .map_err(|e| CodecError::Malformed(e.to_string()))?;
    if used != body.len() {
        return Err(CodecError::Trailing(body.len() - used));
    }
    Ok(frame)
}

/// How many bytes `envelope` takes inside a frame, for packing batches
/// (room history) under [`MAX_FRAME`].
pub fn encoded_len(envelope: &Envelope) -> usize {
    bincode::serde::encode_to_vec(envelope, bincode::config::standard()).map_or(MAX_FRAME, |b| b.len())
}

/// The bytes an origin signs: everything in the envelope but the signature.
pub fn signed_bytes(envelope: &Envelope) -> Vec<u8> {
    #[derive(serde::Serialize)]
    struct Signed<'a> {
        id: &'a crate::wire::EnvelopeId,
        origin: &'a liandong_topology::NodeId,
        created: &'a crate::wire::Timestamp,
        expires: &'a crate::wire::Timestamp,
        mode: &'a crate::wire::Mode,
        body: &'a crate::wire::Body,
    }
    let signed = Signed {
        id: &envelope.id,
        origin: &envelope.origin,
        created: &envelope.created,
        expires: &envelope.expires,
        mode: &envelope.mode,
        body: &envelope.body,
    };
    let mut out = SIGNING_CONTEXT.to_vec();
    // Encoding into a Vec without a limit cannot fail for these types.
    if let Ok(bytes) = bincode::serde::encode_to_vec(&signed, bincode::config::standard()) {
        out.extend_from_slice(&bytes);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::*;
    use liandong_topology::{NodeId, Severity};

    fn carry(detail: String) -> Frame {
        Frame::Carry(Carry {
            envelope: Envelope {
                id: EnvelopeId(7),
                origin: NodeId::parse("350102001001").unwrap(),
                created: Timestamp(1),
                expires: Timestamp(2),
                mode: Mode::Exercise,
                body: Body::Report(Report {
                    severity: Severity::II,
                    category: Category::Flood,
                    title: "河堤渗水".into(),
                    detail,
                    place: "五一社区".into(),
                    reporter: "张伟".into(),
                    photos: Vec::new(),
                }),
                signature: vec![1; 64],
            },
            to: vec![NodeId::parse("350100").unwrap()],
            trace: vec![],
            catch_up: false,
        })
    }

    #[test]
    fn round_trip() {
        let frame = carry("水位上涨".into());
        let bytes = encode_frame(&frame).unwrap();
        assert_eq!(bytes[0], FORMAT_VERSION);
        assert_eq!(decode_frame(&bytes).unwrap(), frame);
    }

    #[test]
    fn bad_bytes_are_typed_errors() {
        assert_eq!(decode_frame(&[]), Err(CodecError::Empty));
        assert_eq!(
            decode_frame(&[9, 0]),
            Err(CodecError::Version {
                got: 9,
                want: FORMAT_VERSION
            })
        );
        assert!(matches!(
            decode_frame(&[FORMAT_VERSION, 0xff, 0xff]),
            Err(CodecError::Malformed(_))
        ));
        let mut bytes = encode_frame(&Frame::HopAck { id: EnvelopeId(3) }).unwrap();
        bytes.push(0);
        assert_eq!(decode_frame(&bytes), Err(CodecError::Trailing(1)));
        let huge = vec![FORMAT_VERSION; MAX_FRAME + 1];
        assert!(matches!(decode_frame(&huge), Err(CodecError::TooLarge { .. })));
        assert!(matches!(
            encode_frame(&carry("x".repeat(MAX_FRAME))),
            Err(CodecError::TooLarge { .. })
        ));
    }

    #[test]
    fn a_length_prefix_cannot_force_a_huge_allocation() {
        // A Carry whose first string claims 2^60 bytes.
        let mut bytes = vec![FORMAT_VERSION, 0];
        bytes.extend_from_slice(&[0xff, 0, 0, 0, 0, 0, 0, 0, 0x10]);
        assert!(decode_frame(&bytes).is_err());
    }

    #[test]
    fn signature_covers_the_message_not_the_routing() {
        let Frame::Carry(mut c) = carry("a".into()) else {
            unreachable!()
        };
        let before = signed_bytes(&c.envelope);
        c.to.clear();
        c.trace.push(Hop {
            node: NodeId::parse("350102").unwrap(),
            at: Timestamp(5),
        });
        c.envelope.signature = vec![2; 64];
        assert_eq!(signed_bytes(&c.envelope), before);
        c.envelope.mode = Mode::Actual;
        assert_ne!(signed_bytes(&c.envelope), before);
    }
}
