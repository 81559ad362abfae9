//! The phone's photo folder: one file per content hash (`<64 hex>`), written as a temp
//! file that is flushed to disk and then renamed, so a name always holds complete bytes.
//! A file is read and hashed in chunks: a photo is never held whole in memory here.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{hash_name, hex_of};
use crate::error::{Error, Result};

/// How much of a photo is read or written at a time.
pub const CHUNK: usize = 64 * 1024;

/// The folder of content-addressed photo files beside the store's SQLite file.
#[derive(Clone, Debug)]
pub struct PhotoFolder {
    dir: PathBuf,
}

impl PhotoFolder {
    /// The folder for the store at `db_path`: `<file name>-photos` beside it.
    pub fn beside(db_path: &Path) -> PhotoFolder {
        let mut name = db_path.file_name().unwrap_or_default().to_os_string();
        name.push("-photos");
        PhotoFolder {
            dir: db_path.with_file_name(name),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the bytes of `hash` are (or would be).
    pub fn path_of(&self, hash: &str) -> Result<PathBuf> {
        let hex = hex_of(hash).ok_or_else(|| {
            Error::invalid(
                "photo",
                format!("`{hash}` is not a `sha256:<64 hex digits>` content hash"),
            )
        })?;
        Ok(self.dir.join(hex))
    }

    pub fn has(&self, hash: &str) -> bool {
        self.path_of(hash).is_ok_and(|p| p.is_file())
    }

    /// Stores `bytes`; returns their hash and length. Stored once however often it is given.
    pub fn put_bytes(&self, bytes: &[u8]) -> Result<(String, u64)> {
        self.put_from(&mut std::io::Cursor::new(bytes), None, u64::MAX)
    }

    /// Stores a copy of the file at `path`, read in chunks; at most `max` bytes.
    pub fn put_file(&self, path: &Path, max: u64) -> Result<(String, u64)> {
        let mut file = File::open(path).map_err(|e| {
            Error::invalid("photo", format!("cannot read `{}`: {e}", path.display()))
        })?;
        self.put_from(&mut file, None, max)
    }

    /// Stores what `reader` gives; with `expected`, refuses (keeping nothing) bytes whose
    /// hash is another: what a download is checked with.
    pub fn put_from(
        &self,
        reader: &mut dyn Read,
        expected: Option<&str>,
        max: u64,
    ) -> Result<(String, u64)> {
        let tmp_dir = self.dir.join("tmp");
        fs::create_dir_all(&tmp_dir)?;
        let tmp = tmp_dir.join(format!("{}.part", uuid::Uuid::now_v7()));
        let written = write_hashed(reader, &tmp, max);
        let (hash, len) = match written {
            Ok(done) => done,
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                return Err(e);
            }
        };
        if let Some(expected) = expected
            && expected != hash
        {
            let _ = fs::remove_file(&tmp);
            return Err(Error::invalid(
                "photo",
                format!("the bytes received hash to `{hash}`, not `{expected}`"),
            ));
        }
        let target = self.path_of(&hash)?;
        if target.is_file() {
            fs::remove_file(&tmp)?;
        } else {
            fs::rename(&tmp, &target)?;
            // The rename is durable once the folder's entry is.
            File::open(&self.dir)?.sync_all()?;
        }
        Ok((hash, len))
    }

    /// A new temp file's path in the folder (for a download under way).
    pub fn temp_path(&self, name: &str) -> Result<PathBuf> {
        let tmp_dir = self.dir.join("tmp");
        fs::create_dir_all(&tmp_dir)?;
        Ok(tmp_dir.join(format!("{name}.part")))
    }

    /// Moves the complete temp file `tmp` in as `expected` when its bytes hash to it;
    /// otherwise removes it and refuses. Returns its length.
    pub fn adopt(&self, tmp: &Path, expected: &str) -> Result<u64> {
        let (hash, len) = hash_file(tmp)?;
        if hash != expected {
            fs::remove_file(tmp)?;
            return Err(Error::invalid(
                "photo",
                format!("the bytes received hash to `{hash}`, not `{expected}`"),
            ));
        }
        File::open(tmp)?.sync_all()?;
        fs::rename(tmp, self.path_of(expected)?)?;
        File::open(&self.dir)?.sync_all()?;
        Ok(len)
    }

    /// Removes the file of `hash`, if there is one.
    pub fn remove(&self, hash: &str) -> Result<()> {
        match fs::remove_file(self.path_of(hash)?) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// Removes temp files left by a crash and every photo file for which `keep` is false
    /// (the photos no row of the store knows: a crash between the file and the document).
    /// Returns how many files went.
    pub fn remove_orphans(&self, keep: impl Fn(&str) -> bool) -> Result<usize> {
        let mut removed = 0;
        if let Ok(tmp) = fs::read_dir(self.dir.join("tmp")) {
            for entry in tmp.flatten() {
                fs::remove_file(entry.path())?;
                removed += 1;
            }
        }
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return Ok(0);
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            let hash = format!("{}{name}", super::HASH_PREFIX);
            if hex_of(&hash).is_some() && !keep(&hash) {
                fs::remove_file(entry.path())?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// Copies `reader` into a new file at `tmp` in chunks, hashing as it goes, and flushes it
/// to disk; refuses more than `max` bytes.
fn write_hashed(reader: &mut dyn Read, tmp: &Path, max: u64) -> Result<(String, u64)> {
    let mut out = File::create(tmp)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut len: u64 = 0;
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        len += n as u64;
        if len > max {
            return Err(Error::invalid(
                "photo",
                format!("is larger than the limit of `{max}` bytes"),
            ));
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n])?;
    }
    out.sync_all()?;
    Ok((hash_name(&hasher.finalize()), len))
}

/// The hash of a file, read in chunks.
pub fn hash_file(path: &Path) -> Result<(String, u64)> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut len = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        len += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((hash_name(&hasher.finalize()), len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_bytes_added_twice_are_stored_once_under_their_hash() {
        let dir = tempfile::tempdir().expect("test step");
        let folder = PhotoFolder::beside(&dir.path().join("store.db"));
        let (a, len) = folder.put_bytes(b"shelf").expect("test step");
        let (b, _) = folder.put_bytes(b"shelf").expect("test step");
        assert_eq!(a, b);
        assert_eq!(len, 5);
        let files: Vec<_> = fs::read_dir(folder.dir())
            .expect("test step")
            .flatten()
            .filter(|e| e.path().is_file())
            .collect();
        assert_eq!(files.len(), 1);
        assert_eq!(
            fs::read(folder.path_of(&a).expect("test step")).expect("test step"),
            b"shelf"
        );
        assert_eq!(
            hash_file(&folder.path_of(&a).expect("test step"))
                .expect("test step")
                .0,
            a
        );
    }

    #[test]
    fn bytes_that_do_not_match_the_expected_hash_are_refused_and_nothing_is_kept() {
        let dir = tempfile::tempdir().expect("test step");
        let folder = PhotoFolder::beside(&dir.path().join("store.db"));
        let (real, _) = folder.put_bytes(b"real").expect("test step");
        folder.remove(&real).expect("test step");
        let err = folder
            .put_from(&mut &b"fake"[..], Some(&real), u64::MAX)
            .expect_err("refused");
        assert!(err.to_string().contains("hash to"), "{err}");
        assert!(!folder.has(&real));
        assert_eq!(
            fs::read_dir(folder.dir().join("tmp"))
                .expect("test step")
                .count(),
            0
        );
    }

    #[test]
    fn orphan_files_and_crashed_temp_files_are_removed_and_known_ones_kept() {
        let dir = tempfile::tempdir().expect("test step");
        let folder = PhotoFolder::beside(&dir.path().join("store.db"));
        let (kept, _) = folder.put_bytes(b"kept").expect("test step");
        let (orphan, _) = folder.put_bytes(b"orphan").expect("test step");
        fs::write(folder.dir().join("tmp").join("x.part"), b"half").expect("test step");
        let removed = folder.remove_orphans(|h| h == kept).expect("test step");
        assert_eq!(removed, 2);
        assert!(folder.has(&kept));
        assert!(!folder.has(&orphan));
    }
}
