//! Photo files: `<data>/photos/<sha256 hex>`, one file per photo, named
//! by the hash of its bytes. A photo is written to a temporary name,
//! synced and renamed, so a name always holds the whole photo; the same
//! bytes filed twice are one file. What a file holds is checked when it
//! is written (its format by its first bytes, its hash), never trusted
//! from a name or a header.

use std::io::Write;
use std::path::{Path, PathBuf};

use liandong_dispatch::wire::{PhotoKind, PhotoRef};
use ring::digest::{SHA256, digest};

/// Largest photo any node keeps or takes from a neighbour, whatever a
/// gateway is configured to take.
pub const HARD_MAX: u64 = 32 << 20;

/// Why a photo was not kept.
#[derive(Debug, thiserror::Error)]
pub enum PhotoError {
    #[error("not a JPEG or PNG image (checked by its content)")]
    Unsupported,
    #[error("the photo is {size} bytes; at most {max} are taken")]
    TooLarge { size: u64, max: u64 },
    #[error("the photo is empty")]
    Empty,
    #[error("the bytes do not hash to {0}")]
    Mismatch(String),
    #[error("photo store {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// The node's photo files.
#[derive(Debug, Clone)]
pub struct PhotoFiles {
    dir: PathBuf,
}

impl PhotoFiles {
    /// The photos of the node whose data directory is `data`.
    pub fn new(data: &Path) -> PhotoFiles {
        PhotoFiles {
            dir: data.join("photos"),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where photo `sha256` is (or would be) kept.
    pub fn path(&self, sha256: &[u8; 32]) -> PathBuf {
        self.dir.join(hex(sha256))
    }

    /// Whether photo `sha256` is here, whole.
    pub fn holds(&self, sha256: &[u8; 32]) -> bool {
        self.path(sha256).is_file()
    }

    /// Photo `sha256` as it is kept here: its reference, if held.
    pub fn reference(&self, sha256: &[u8; 32]) -> Option<PhotoRef> {
        let path = self.path(sha256);
        let mut head = [0u8; 8];
        let mut file = std::fs::File::open(&path).ok()?;
        let size = file.metadata().ok()?.len();
        use std::io::Read;
        let n = file.read(&mut head).ok()?;
        Some(PhotoRef {
            sha256: *sha256,
            size,
            kind: PhotoKind::sniff(&head[..n])?,
        })
    }

    /// The bytes of photo `sha256`, if held.
    pub fn read(&self, sha256: &[u8; 32]) -> Option<Vec<u8>> {
        std::fs::read(self.path(sha256)).ok()
    }

    /// Keeps `bytes` as a photo of at most `max` bytes: checked, hashed,
    /// written whole (synced) under its hash. Blocking: call it off the
    /// async threads.
    pub fn put(&self, bytes: &[u8], max: u64) -> Result<PhotoRef, PhotoError> {
        let size = bytes.len() as u64;
        if size == 0 {
            return Err(PhotoError::Empty);
        }
        if size > max.min(HARD_MAX) {
            return Err(PhotoError::TooLarge {
                size,
                max: max.min(HARD_MAX),
            });
        }
        let kind = PhotoKind::sniff(bytes).ok_or(PhotoError::Unsupported)?;
        let mut sha256 = [0u8; 32];
        sha256.copy_from_slice(digest(&SHA256, bytes).as_ref());
        let photo = PhotoRef { sha256, size, kind };
        self.write(&photo, bytes)?;
        Ok(photo)
    }

    /// Keeps `bytes` received for photo `sha256`, if they hash to it.
    pub fn put_checked(&self, sha256: &[u8; 32], bytes: &[u8]) -> Result<PhotoRef, PhotoError> {
        if digest(&SHA256, bytes).as_ref() != sha256 {
            return Err(PhotoError::Mismatch(hex(sha256)));
        }
        self.put(bytes, HARD_MAX)
    }

    fn write(&self, photo: &PhotoRef, bytes: &[u8]) -> Result<(), PhotoError> {
        let io = |path: &Path, source| PhotoError::Io {
            path: path.to_owned(),
            source,
        };
        let path = self.path(&photo.sha256);
        if path.is_file() {
            return Ok(());
        }
        std::fs::create_dir_all(&self.dir).map_err(|e| io(&self.dir, e))?;
        let temp = self.dir.join(format!(".{}.{}", photo.hex(), std::process::id()));
        let mut file = std::fs::File::create(&temp).map_err(|e| io(&temp, e))?;
        let written = file.write_all(bytes).and_then(|()| file.sync_all());
        if let Err(e) = written {
            let _ = std::fs::remove_file(&temp);
            return Err(io(&temp, e));
        }
        std::fs::rename(&temp, &path).map_err(|e| io(&path, e))?;
        // The name is durable once the directory is.
        if let Ok(dir) = std::fs::File::open(&self.dir) {
            let _ = dir.sync_all();
        }
        Ok(())
    }
}

/// `sha256` in lowercase hex.
pub fn hex(sha256: &[u8; 32]) -> String {
    sha256.iter().map(|b| format!("{b:02x}")).collect()
}

/// A photo's name as 64 hex digits, back to its hash.
pub fn parse_hex(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    #[test]
    fn keeps_a_photo_once_under_its_hash() {
        let dir = tempfile::tempdir().unwrap();
        let files = PhotoFiles::new(dir.path());
        let photo = files.put(PNG, 1024).unwrap();
        assert_eq!(photo.kind, PhotoKind::Png);
        assert_eq!(photo.size, PNG.len() as u64);
        assert!(files.holds(&photo.sha256));
        assert_eq!(files.read(&photo.sha256).unwrap(), PNG);
        assert_eq!(files.put(PNG, 1024).unwrap(), photo);
        assert_eq!(files.reference(&photo.sha256), Some(photo));
        assert_eq!(parse_hex(&photo.hex()), Some(photo.sha256));
    }

    #[test]
    fn refuses_what_is_not_a_photo_or_too_large() {
        let dir = tempfile::tempdir().unwrap();
        let files = PhotoFiles::new(dir.path());
        assert!(matches!(files.put(b"GIF89a....", 1024), Err(PhotoError::Unsupported)));
        assert!(matches!(files.put(b"", 1024), Err(PhotoError::Empty)));
        assert!(matches!(files.put(PNG, 4), Err(PhotoError::TooLarge { .. })));
        assert!(matches!(files.put_checked(&[0; 32], PNG), Err(PhotoError::Mismatch(_))));
        assert_eq!(std::fs::read_dir(dir.path()).map(|d| d.count()).unwrap_or(0), 0);
        assert_eq!(parse_hex("zz"), None);
    }
}
