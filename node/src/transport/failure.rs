//! How a connection attempt or a connection failed, in operator words:
//! a refusal by this node, a refusal by the peer, or a loss (unreachable,
//! timed out, shut down). quinn's and rustls's errors are read here and
//! nowhere else.

use quinn::{ConnectionError, VarInt};

use super::close_code;

/// How a connection attempt or a connection failed.
pub(super) enum Failure {
    /// This node refused the peer (TLS verifier, protocol).
    Refused(String),
    /// The peer refused this node (TLS alert, application close with a refusal code).
    RefusedByPeer(String),
    /// Unreachable, timed out, shut down: not a refusal.
    Lost(String),
}

fn is_crypto(code: quinn::TransportErrorCode) -> bool {
    (0x100..0x200).contains(&u64::from(code))
}

/// The verifier's words inside a rustls error rendered by quinn:
/// `invalid peer certificate: Other(OtherError(<message>))` becomes `<message>`.
fn tls_reason(text: &str) -> String {
    const OPEN: &str = "Other(OtherError(";
    if let Some(start) = text.find(OPEN)
        && let Some(inner) = text[start + OPEN.len()..].strip_suffix("))")
    {
        return format!("TLS handshake refused: {inner}");
    }
    format!("TLS handshake refused: {text}")
}

pub(super) fn classify(err: &ConnectionError) -> Failure {
    match err {
        ConnectionError::TransportError(e) if is_crypto(e.code) => Failure::Refused(tls_reason(&e.reason)),
        ConnectionError::TransportError(e) => Failure::Refused(format!("QUIC protocol error: {e}")),
        ConnectionError::ConnectionClosed(close) if is_crypto(close.error_code) => {
            Failure::RefusedByPeer(tls_reason(&String::from_utf8_lossy(&close.reason)))
        }
        ConnectionError::ApplicationClosed(close)
            if [close_code::REFUSED, close_code::PROTOCOL]
                .iter()
                .any(|&code| close.error_code == VarInt::from_u32(code)) =>
        {
            Failure::RefusedByPeer(String::from_utf8_lossy(&close.reason).into_owned())
        }
        other => Failure::Lost(describe(other)),
    }
}

/// A connection's end in operator words.
pub(super) fn describe(err: &ConnectionError) -> String {
    match err {
        ConnectionError::ApplicationClosed(close) => {
            format!("closed by the peer: {}", String::from_utf8_lossy(&close.reason))
        }
        ConnectionError::ConnectionClosed(close) => format!("aborted by the peer: {close}"),
        ConnectionError::TimedOut => "timed out: nothing heard from the peer within the idle timeout".to_owned(),
        ConnectionError::Reset => "reset by the peer (it restarted?)".to_owned(),
        ConnectionError::LocallyClosed => "closed by this node".to_owned(),
        other => other.to_string(),
    }
}
