//! A small real photo for the tests that file one: a PNG made here, byte
//! by byte (signature, IHDR, one IDAT of stored DEFLATE blocks, IEND, each
//! chunk with its CRC-32), so any PNG decoder reads it and no image crate
//! is needed.

/// A `width`×`height` RGB PNG: a sky over a field, a red marker in the middle.
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let mut pixels = Vec::with_capacity((height * (1 + 3 * width)) as usize);
    for y in 0..height {
        pixels.push(0); // filter: none
        for x in 0..width {
            let (dx, dy) = (x.abs_diff(width / 2), y.abs_diff(height / 2));
            let rgb = if dx * dx + dy * dy <= (height / 6).pow(2) {
                [200, 40, 40]
            } else if y < height * 3 / 5 {
                let t = (255 * y / height) as u8;
                [120u8.saturating_add(t / 3), 170u8.saturating_add(t / 4), 230]
            } else {
                [70, 130u8.saturating_add((x % 16) as u8), 60]
            };
            pixels.extend_from_slice(&rgb);
        }
    }
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8 bits, RGB, deflate, no filter choice, no interlace
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &zlib_stored(&pixels));
    chunk(&mut out, b"IEND", &[]);
    out
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// A zlib stream of stored (uncompressed) DEFLATE blocks.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = data.chunks(0xffff).collect();
    for (i, block) in blocks.iter().enumerate() {
        out.push(u8::from(i + 1 == blocks.len()));
        let len = block.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in data {
        a = (a + u32::from(byte)) % 65521;
        b = (b + a) % 65521;
    }
    out.extend_from_slice(&((b << 16) | a).to_be_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
