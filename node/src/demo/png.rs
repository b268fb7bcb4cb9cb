//! Small real PNG images for the demo's grid workers (and the tests) to attach: a
//! gradient with a stripe, different per seed, written by hand (zlib
//! from flate2, CRC-32 here) so a viewer opens what the demo files.

use std::io::Write;

/// A `width`×`height` RGB PNG, its colours from `seed`.
pub fn photo(width: u32, height: u32, seed: u64) -> Vec<u8> {
    let (r0, g0, b0) = (
        seed.wrapping_mul(37) as u8,
        seed.wrapping_mul(91) as u8,
        seed.wrapping_mul(53) as u8,
    );
    let mut raw = Vec::with_capacity(((width * 3 + 1) * height) as usize);
    for y in 0..height {
        raw.push(0); // no filter
        for x in 0..width {
            let stripe = (x + y) % 16 < 3;
            let (r, g, b) = if stripe {
                (255, 255, 255)
            } else {
                (
                    r0.wrapping_add((x * 255 / width.max(1)) as u8),
                    g0.wrapping_add((y * 255 / height.max(1)) as u8),
                    b0,
                )
            };
            raw.extend_from_slice(&[r, g, b]);
        }
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = z.write_all(&raw);
    let idat = z.finish().unwrap_or_default();
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(&mut png, b"IDAT", &idat);
    chunk(&mut png, b"IEND", &[]);
    png
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// CRC-32 (IEEE), as PNG chunks carry it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_the_known_value() {
        // The CRC of "IEND" with no data, as every PNG ends.
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
    }

    #[test]
    fn a_photo_is_a_png_by_its_content() {
        let png = photo(64, 48, 3);
        assert_eq!(
            liandong_dispatch::wire::PhotoKind::sniff(&png),
            Some(liandong_dispatch::wire::PhotoKind::Png)
        );
        assert!(png.ends_with(&[0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82]));
        assert_ne!(photo(64, 48, 4), png);
        // Any seed, the largest too.
        assert_ne!(photo(8, 8, u64::MAX), photo(8, 8, u64::MAX - 1));
    }
}
