//! File writing with the permissions decided at creation time.
//!
//! Every file this crate writes goes through a temporary file in the same
//! directory, created with its final mode (`0600` for keys), then moved into
//! place. A reader therefore never sees a half-written file, and a key file is
//! never readable by others, not even for an instant: the mode is set by
//! `open(2)`, not by a `chmod` after the bytes are on disk.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Mode of private key files.
pub(crate) const KEY_MODE: u32 = 0o600;
/// Mode of certificates and other public files.
pub(crate) const PUBLIC_MODE: u32 = 0o644;

/// Whether an existing file at the destination may be replaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Replace {
    /// Fail with `AlreadyExists` if the destination exists.
    Never,
    /// Atomically replace the destination.
    Allowed,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn temp_path(path: &Path) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}-{n}", std::process::id()))
}

/// Writes `bytes` to `path` with `mode`, atomically. With `sync`, the data is
/// flushed to disk before the file appears (worth it for the CA key and the
/// revocation list, not for each of 20,000 node files).
pub(crate) fn write_file(path: &Path, bytes: &[u8], mode: u32, replace: Replace, sync: bool) -> io::Result<()> {
    let temp = temp_path(path);
    let result = write_temp_then_place(&temp, path, bytes, mode, replace, sync);
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

fn write_temp_then_place(
    temp: &Path,
    path: &Path,
    bytes: &[u8],
    mode: u32,
    replace: Replace,
    sync: bool,
) -> io::Result<()> {
    let mut file: File = OpenOptions::new().write(true).create_new(true).mode(mode).open(temp)?;
    file.write_all(bytes)?;
    if sync {
        file.sync_all()?;
    }
    drop(file);
    match replace {
        Replace::Allowed => fs::rename(temp, path),
        Replace::Never => {
            // A hard link fails atomically if the destination exists.
            match fs::hard_link(temp, path) {
                Ok(()) => fs::remove_file(temp),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(e),
                Err(_) => {
                    // Filesystems without hard links: check, then rename.
                    if path.exists() {
                        return Err(io::Error::from(io::ErrorKind::AlreadyExists));
                    }
                    fs::rename(temp, path)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn modes_and_no_replace() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("x.key");
        write_file(&key, b"secret", KEY_MODE, Replace::Never, true).unwrap();
        assert_eq!(fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
        let again = write_file(&key, b"other", KEY_MODE, Replace::Never, false).unwrap_err();
        assert_eq!(again.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&key).unwrap(), b"secret");
        write_file(&key, b"other", KEY_MODE, Replace::Allowed, false).unwrap();
        assert_eq!(fs::read(&key).unwrap(), b"other");
        // No temporary files are left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
