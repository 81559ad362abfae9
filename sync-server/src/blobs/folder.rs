//! Blobs as files, the default [`BlobStore`]: `DIR/<hex>` when complete,
//! `DIR/partial/<hex>` while uploading.
//!
//! `admin blob-gc` runs in a process of its own while the server runs, so a partial file
//! is guarded by an advisory lock (`flock`) besides the server's in-process lock per
//! hash: a request holds it while it writes or finishes the file, and the collection
//! takes it without waiting, skipping a file someone holds. A request that opened a file
//! the collection then removed finds, once it holds the lock, that the path no longer
//! names its file, and opens it again: an empty new file, so the device is told to start
//! again from 0.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::store::{BlobStore, Finished, PartialsCollected, Stored};
use crate::error::{AppError, AppResult};

/// Blobs as files in one folder.
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

    /// The partial file of `hex`, locked, and still the file its path names (`None` when
    /// there is none and `create` is false).
    fn open_locked(&self, hex: &str, create: bool) -> AppResult<Option<File>> {
        let path = self.partial(hex);
        // A second round only when the collection removed the file between our open and
        // our lock; a third would mean it removed a file nobody had written for days twice.
        for _ in 0..3 {
            let file = match OpenOptions::new()
                .create(create)
                .truncate(false)
                .read(true)
                .write(true)
                .open(&path)
            {
                Ok(file) => file,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(io(e)),
            };
            file.lock().map_err(io)?;
            if names(&path, &file)? {
                return Ok(Some(file));
            }
        }
        Err(AppError::internal(format!(
            "the partial upload of `sha256:{hex}` kept being replaced while it was opened"
        )))
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

/// Whether `path` still names the open `file` (not removed, renamed or replaced since).
fn names(path: &Path, file: &File) -> AppResult<bool> {
    let on_disk = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(io(e)),
    };
    let open = file.metadata().map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Ok(on_disk.dev() == open.dev() && on_disk.ino() == open.ino())
    }
    #[cfg(not(unix))]
    {
        Ok(on_disk.len() == open.len() && on_disk.modified().ok() == open.modified().ok())
    }
}

fn millis(time: std::time::SystemTime) -> i64 {
    match time.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(_) => 0,
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
        let mut file = self
            .open_locked(hex, true)?
            .ok_or_else(|| AppError::internal("a partial file created is not there"))?;
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

    fn finish(&self, hex: &str, length: u64) -> AppResult<Finished> {
        let Some(mut file) = self.open_locked(hex, false)? else {
            return Ok(Finished::Changed);
        };
        if file.metadata().map_err(io)?.len() != length {
            return Ok(Finished::Changed);
        }
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
        let path = self.partial(hex);
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

    fn collect_partials(&self, cutoff: i64, dry_run: bool) -> AppResult<PartialsCollected> {
        let mut done = PartialsCollected::default();
        let mut names_seen: Vec<String> = fs::read_dir(self.dir.join("partial"))
            .map_err(io)?
            .flatten()
            .map(|e| e.file_name().to_string_lossy().to_string())
            .filter(|name| name.len() == 64)
            .collect();
        names_seen.sort();
        for hex in names_seen {
            let path = self.partial(&hex);
            let file = match File::open(&path) {
                Ok(file) => file,
                // Finished or removed since the listing.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io(e)),
            };
            match file.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => {
                    done.kept += 1;
                    continue;
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
            }
            if !names(&path, &file)? {
                continue;
            }
            // Read under the lock: every write that finished before it is counted.
            let meta = file.metadata().map_err(io)?;
            if millis(meta.modified().map_err(io)?) >= cutoff {
                done.kept += 1;
                continue;
            }
            if !dry_run {
                fs::remove_file(&path).map_err(io)?;
            }
            done.removed.push((hex, meta.len()));
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;

    fn hex_of(bytes: &[u8]) -> String {
        hex::encode(Sha256::digest(bytes))
    }

    fn store() -> AppResult<(tempfile::TempDir, FolderStore)> {
        let dir = tempfile::tempdir().map_err(io)?;
        let store = FolderStore::open(dir.path()).map_err(io)?;
        Ok((dir, store))
    }

    /// Makes the partial file of `hex` look last written `days` ago.
    fn age(store: &FolderStore, hex: &str, days: u64) -> AppResult<()> {
        let then = SystemTime::now() - Duration::from_secs(days * 86_400);
        File::options()
            .write(true)
            .open(store.partial(hex))
            .and_then(|f| f.set_modified(then))
            .map_err(io)
    }

    fn days_ago(days: i64) -> i64 {
        millis(SystemTime::now()) - days * 86_400_000
    }

    #[test]
    fn an_upload_in_two_pieces_becomes_readable_only_once_verified() -> AppResult<()> {
        let (_dir, store) = store()?;
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
        assert_eq!(
            store.finish(&hex, body.len() as u64)?,
            Finished::Changed,
            "not whole yet: nothing is hashed"
        );
        assert_eq!(store.append(&hex, 10, &body[10..])?, body.len() as u64);
        assert_eq!(store.finish(&hex, body.len() as u64)?, Finished::Verified);
        assert_eq!(store.stat(&hex)?, Stored::Complete(body.len() as u64));
        assert_eq!(store.read(&hex, 4, 5)?, &body[4..9]);
        Ok(())
    }

    #[test]
    fn bytes_that_do_not_match_their_hash_are_removed_whole() -> AppResult<()> {
        let (_dir, store) = store()?;
        let hex = hex_of(b"what the phone took");
        store.append(&hex, 0, b"something else")?;
        assert!(matches!(store.finish(&hex, 14)?, Finished::Mismatch { .. }));
        assert_eq!(store.stat(&hex)?, Stored::Missing);
        assert!(store.list()?.is_empty());
        Ok(())
    }

    #[test]
    fn a_partial_upload_untouched_past_the_cutoff_is_collected_and_a_younger_one_kept()
    -> AppResult<()> {
        let (_dir, store) = store()?;
        let old = hex_of(b"abandoned a week and a day ago");
        let young = hex_of(b"written to yesterday");
        store.append(&old, 0, b"abandoned")?;
        store.append(&young, 0, b"written")?;
        age(&store, &old, 8)?;
        age(&store, &young, 1)?;

        let dry = store.collect_partials(days_ago(7), true)?;
        assert_eq!(dry.removed, vec![(old.clone(), 9)]);
        assert_eq!(
            store.stat(&old)?,
            Stored::Partial(9),
            "a dry run removes nothing"
        );

        let done = store.collect_partials(days_ago(7), false)?;
        assert_eq!(done.removed, vec![(old.clone(), 9)]);
        assert_eq!(done.kept, 1);
        assert_eq!(store.stat(&old)?, Stored::Missing);
        assert_eq!(store.stat(&young)?, Stored::Partial(7));
        assert!(
            matches!(store.append(&old, 9, b" more"), Err(AppError::Conflict(_))),
            "resuming a collected upload is refused"
        );
        Ok(())
    }

    #[test]
    fn a_partial_upload_a_request_is_writing_is_never_collected_however_old() -> AppResult<()> {
        let (_dir, store) = store()?;
        let hex = hex_of(b"a slow link");
        store.append(&hex, 0, b"the first chunk")?;
        age(&store, &hex, 30)?;
        // What `append` and `finish` hold while they write or hash the file.
        let held = store
            .open_locked(&hex, false)?
            .ok_or_else(|| AppError::internal("no partial file"))?;
        let done = store.collect_partials(days_ago(7), false)?;
        assert_eq!((done.removed.len(), done.kept), (0, 1));
        assert_eq!(store.stat(&hex)?, Stored::Partial(15));
        drop(held);
        let done = store.collect_partials(days_ago(7), false)?;
        assert_eq!(done.removed, vec![(hex.clone(), 15)]);
        Ok(())
    }
}
