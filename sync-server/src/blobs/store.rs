//! Where blob bytes are kept, behind [`BlobStore`] so that an S3-compatible store can
//! stand beside the default [`FolderStore`] (a folder under the data folder).
//!
//! An upload is appended to a partial object; only when its length is reached are its
//! bytes hashed and, if they match, made visible under the hash. A partial object is
//! never readable, and bytes that do not match are removed. Methods are blocking; the
//! routes call them on tokio's blocking pool.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{AppError, AppResult};

/// Where one blob stands in the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stored {
    /// Verified, `len` bytes, readable.
    Complete(u64),
    /// An upload holds `len` bytes so far.
    Partial(u64),
    Missing,
}

/// How a finished upload turned out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finished {
    /// The bytes matched the hash and are readable now.
    Verified,
    /// They hashed to `actual`: nothing was kept.
    Mismatch { actual: String },
}

/// The bytes of blobs, by the 64 hex digits of their SHA-256 (callers check the form).
pub trait BlobStore: Send + Sync + std::fmt::Debug + 'static {
    fn stat(&self, hex: &str) -> AppResult<Stored>;
    /// Appends `bytes` to the partial upload at `offset`, which must be its committed
    /// length; returns the new length. Durable when it returns.
    fn append(&self, hex: &str, offset: u64, bytes: &[u8]) -> AppResult<u64>;
    /// Hashes the whole partial upload; makes it readable when it matches `hex`, and
    /// removes it otherwise.
    fn finish(&self, hex: &str) -> AppResult<Finished>;
    /// Up to `max` bytes of a complete blob from `start`.
    fn read(&self, hex: &str, start: u64, max: usize) -> AppResult<Vec<u8>>;
    /// Removes a blob (complete or partial); removing nothing is fine.
    fn remove(&self, hex: &str) -> AppResult<()>;
    /// The complete blobs: hex and length.
    fn list(&self) -> AppResult<Vec<(String, u64)>>;
}

/// Blobs as files: `DIR/<hex>` when complete, `DIR/partial/<hex>` while uploading.
#[derive(Debug)]
pub struct FolderStore {
    dir: PathBuf,
}

impl FolderStore {
    /// The store in `dir` (created when missing).
    pub fn open(dir: &Path) -> std::io::Result<FolderStore> {
        fs::create_dir_all(dir.join("partial"))?;
        Ok(FolderStore {
            dir: dir.to_path_buf(),
        })
    }

    fn complete(&self, hex: &str) -> PathBuf {
        self.dir.join(hex)
    }

    fn partial(&self, hex: &str) -> PathBuf {
        self.dir.join("partial").join(hex)
    }
}

fn io(e: std::io::Error) -> AppError {
    AppError::internal(format!("blob store: {e}"))
}

fn len_of(path: &Path) -> AppResult<Option<u64>> {
    match fs::metadata(path) {
        Ok(m) => Ok(Some(m.len())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(e)),
    }
}

impl BlobStore for FolderStore {
    fn stat(&self, hex: &str) -> AppResult<Stored> {
        if let Some(len) = len_of(&self.complete(hex))? {
            return Ok(Stored::Complete(len));
        }
        Ok(match len_of(&self.partial(hex))? {
            Some(len) => Stored::Partial(len),
            None => Stored::Missing,
        })
    }

    fn append(&self, hex: &str, offset: u64, bytes: &[u8]) -> AppResult<u64> {
        let path = self.partial(hex);
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        if len != offset {
            return Err(AppError::Conflict(format!(
                "the upload of `sha256:{hex}` holds `{len}` bytes, not `{offset}`"
            )));
        }
        file.seek(SeekFrom::Start(offset)).map_err(io)?;
        file.write_all(bytes).map_err(io)?;
        file.sync_data().map_err(io)?;
        Ok(offset + bytes.len() as u64)
    }

    fn finish(&self, hex: &str) -> AppResult<Finished> {
        let path = self.partial(hex);
        let mut file = File::open(&path).map_err(io)?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = file.read(&mut buf).map_err(io)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        let actual = hex::encode(hasher.finalize());
        if actual != hex {
            fs::remove_file(&path).map_err(io)?;
            return Ok(Finished::Mismatch { actual });
        }
        fs::rename(&path, self.complete(hex)).map_err(io)?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io)?;
        Ok(Finished::Verified)
    }

    fn read(&self, hex: &str, start: u64, max: usize) -> AppResult<Vec<u8>> {
        let mut file = File::open(self.complete(hex)).map_err(io)?;
        file.seek(SeekFrom::Start(start)).map_err(io)?;
        let mut out = Vec::with_capacity(max);
        file.take(max as u64).read_to_end(&mut out).map_err(io)?;
        Ok(out)
    }

    fn remove(&self, hex: &str) -> AppResult<()> {
        for path in [self.complete(hex), self.partial(hex)] {
            match fs::remove_file(path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
                _ => {}
            }
        }
        Ok(())
    }

    fn list(&self) -> AppResult<Vec<(String, u64)>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(io)?.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            let meta = entry.metadata().map_err(io)?;
            if meta.is_file() && name.len() == 64 {
                out.push((name, meta.len()));
            }
        }
        out.sort();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex_of(bytes: &[u8]) -> String {
        hex::encode(Sha256::digest(bytes))
    }

    #[test]
    fn an_upload_in_two_pieces_becomes_readable_only_once_verified() -> AppResult<()> {
        let dir = tempfile::tempdir().map_err(io)?;
        let store = FolderStore::open(dir.path()).map_err(io)?;
        let body = b"the shelf, photographed".to_vec();
        let hex = hex_of(&body);
        assert_eq!(store.append(&hex, 0, &body[..10])?, 10);
        assert_eq!(store.stat(&hex)?, Stored::Partial(10));
        assert!(
            store.read(&hex, 0, 100).is_err(),
            "a partial blob is not readable"
        );
        assert!(
            store.append(&hex, 3, &body[10..]).is_err(),
            "a wrong offset is refused"
        );
        assert_eq!(store.append(&hex, 10, &body[10..])?, body.len() as u64);
        assert_eq!(store.finish(&hex)?, Finished::Verified);
        assert_eq!(store.stat(&hex)?, Stored::Complete(body.len() as u64));
        assert_eq!(store.read(&hex, 4, 5)?, &body[4..9]);
        Ok(())
    }

    #[test]
    fn bytes_that_do_not_match_their_hash_are_removed_whole() -> AppResult<()> {
        let dir = tempfile::tempdir().map_err(io)?;
        let store = FolderStore::open(dir.path()).map_err(io)?;
        let hex = hex_of(b"what the phone took");
        store.append(&hex, 0, b"something else")?;
        assert!(matches!(store.finish(&hex)?, Finished::Mismatch { .. }));
        assert_eq!(store.stat(&hex)?, Stored::Missing);
        assert!(store.list()?.is_empty());
        Ok(())
    }
}
