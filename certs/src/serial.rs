//! Certificate serial numbers: how they are drawn and how humans see them.

use std::fmt;
use std::str::FromStr;

use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Length of the serials this crate draws. RFC 5280 allows up to 20 octets.
pub const SERIAL_LEN: usize = 16;

/// Longest serial accepted from a file or a presented certificate (RFC 5280 §4.1.2.2).
const MAX_SERIAL_LEN: usize = 20;

/// A certificate serial number, kept in canonical form: the big-endian bytes of a
/// positive integer without leading zero octets (as DER encodes it).
///
/// Displayed and parsed as lowercase colon-separated hex (`5f:3a:...`), the form
/// `liandong certs inspect` prints and the revocation file stores.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Serial(Box<[u8]>);

/// Why a string or byte string is not a usable [`Serial`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SerialError {
    /// Nothing but separators or zeros.
    #[error("serial {0:?} is empty or zero")]
    Empty(String),
    /// Not pairs of hex digits separated by ':'.
    #[error("serial {0:?} is not colon-separated hex such as 5f:3a:09")]
    BadHex(String),
    /// More than 20 octets.
    #[error("serial {0:?} is longer than {MAX_SERIAL_LEN} bytes")]
    TooLong(String),
    /// The certificate to read the serial from cannot be parsed.
    #[error("certificate cannot be parsed: {0}")]
    BadCertificate(String),
}

/// The system random source failed; nothing can be issued without it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the system random number generator failed")]
pub struct RngError;

impl Serial {
    /// Draws a fresh serial: [`SERIAL_LEN`] bytes from the operating system's
    /// CSPRNG (ring's `SystemRandom`, the source rcgen and rustls already use).
    ///
    /// The top bit is cleared (a DER INTEGER serial must be positive) and the
    /// next bit is set, so the first octet is never zero, DER never shortens the
    /// number, and every serial prints as exactly 16 octets. 126 random bits
    /// remain, far beyond any collision concern for a federation.
    pub fn random() -> Result<Serial, RngError> {
        let mut bytes = [0u8; SERIAL_LEN];
        SystemRandom::new().fill(&mut bytes).map_err(|_| RngError)?;
        bytes[0] = (bytes[0] & 0x7f) | 0x40;
        Ok(Serial(bytes.into()))
    }

    /// A serial from the content octets of a DER INTEGER (as found in a
    /// certificate). Leading zero octets are dropped.
    pub fn from_der_integer(bytes: &[u8]) -> Result<Serial, SerialError> {
        let start = bytes.iter().position(|b| *b != 0);
        let Some(start) = start else {
            return Err(SerialError::Empty(hex(bytes)));
        };
        let trimmed = &bytes[start..];
        if trimmed.len() > MAX_SERIAL_LEN {
            return Err(SerialError::TooLong(hex(bytes)));
        }
        Ok(Serial(trimmed.into()))
    }

    /// The serial of a DER certificate.
    pub fn of_certificate(cert_der: &[u8]) -> Result<Serial, SerialError> {
        let (_, cert) =
            x509_parser::parse_x509_certificate(cert_der).map_err(|e| SerialError::BadCertificate(e.to_string()))?;
        Serial::from_der_integer(cert.raw_serial())
    }

    /// The canonical big-endian bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        out.push_str(&format!("{b:02x}"));
    }
    out
}

impl fmt::Display for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex(&self.0))
    }
}

impl fmt::Debug for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Serial({self})")
    }
}

impl FromStr for Serial {
    type Err = SerialError;

    /// Accepts `5f:3a:09`, upper or lower case; colons may be left out
    /// (`5f3a09`), but then the digit count must be even.
    fn from_str(s: &str) -> Result<Serial, SerialError> {
        let text = s.trim();
        let digits: Vec<u8> = if text.contains(':') {
            let mut out = Vec::new();
            for part in text.split(':') {
                if part.len() != 2 {
                    return Err(SerialError::BadHex(s.to_owned()));
                }
                out.extend_from_slice(part.as_bytes());
            }
            out
        } else {
            text.as_bytes().to_vec()
        };
        if digits.is_empty() || !digits.len().is_multiple_of(2) {
            return Err(SerialError::BadHex(s.to_owned()));
        }
        let mut bytes = Vec::with_capacity(digits.len() / 2);
        for pair in digits.chunks(2) {
            let hi = hex_value(pair[0]).ok_or_else(|| SerialError::BadHex(s.to_owned()))?;
            let lo = hex_value(pair[1]).ok_or_else(|| SerialError::BadHex(s.to_owned()))?;
            bytes.push(hi << 4 | lo);
        }
        Serial::from_der_integer(&bytes).map_err(|e| match e {
            SerialError::Empty(_) => SerialError::Empty(s.to_owned()),
            SerialError::TooLong(_) => SerialError::TooLong(s.to_owned()),
            other => other,
        })
    }
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

impl Serialize for Serial {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Serial {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_serials_are_positive_full_length_and_distinct() {
        let a = Serial::random().unwrap();
        let b = Serial::random().unwrap();
        assert_ne!(a, b);
        for s in [&a, &b] {
            assert_eq!(s.as_bytes().len(), SERIAL_LEN);
            assert_eq!(s.as_bytes()[0] & 0xc0, 0x40, "{s}");
        }
    }

    #[test]
    fn display_and_parse_round_trip() {
        let s = Serial::from_der_integer(&[0x00, 0x5f, 0x3a, 0x09]).unwrap();
        assert_eq!(s.to_string(), "5f:3a:09");
        assert_eq!("5f:3a:09".parse::<Serial>().unwrap(), s);
        assert_eq!("5F:3A:09".parse::<Serial>().unwrap(), s);
        assert_eq!("5f3a09".parse::<Serial>().unwrap(), s);
        assert_eq!("00:5f:3a:09".parse::<Serial>().unwrap(), s);
        let r = Serial::random().unwrap();
        assert_eq!(r.to_string().parse::<Serial>().unwrap(), r);
    }

    #[test]
    fn refuses_malformed_serials() {
        for bad in ["", "5f:3", "5f::3a", "zz:00", "5f3", "5f:3a:"] {
            assert!(matches!(bad.parse::<Serial>(), Err(SerialError::BadHex(_))), "{bad}");
        }
        assert!(matches!("00:00".parse::<Serial>(), Err(SerialError::Empty(_))));
        let long = vec!["ab"; 21].join(":");
        assert!(matches!(long.parse::<Serial>(), Err(SerialError::TooLong(_))));
    }
}
