//! Where blob bytes are kept, behind [`BlobStore`] so that an S3-compatible store
//! (`s3.rs`) can stand beside the default folder (`folder.rs`, under the data folder).
//!
//! An upload is appended to a partial object; only when its length is reached are its
//! bytes hashed and, if they match, made visible under the hash. A partial object is
//! never readable, and bytes that do not match are removed. A partial upload nobody
//! wrote to for a long time is abandoned: `admin blob-gc` removes it
//! ([`BlobStore::collect_partials`]). Methods are blocking; the routes call them on
//! tokio's blocking pool.

use crate::error::AppResult;

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
    /// The partial upload changed while it was read (another instance finished it, or
    /// `blob-gc` collected it): nothing was written; ask the store where it stands.
    Changed,
}

/// What [`BlobStore::collect_partials`] removed (or would remove) and kept.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PartialsCollected {
    /// Hex and bytes held of each abandoned upload.
    pub removed: Vec<(String, u64)>,
    /// Uploads written to since the cutoff, or being written now.
    pub kept: usize,
}

/// The bytes of blobs, by the 64 hex digits of their SHA-256 (callers check the form).
pub trait BlobStore: Send + Sync + std::fmt::Debug + 'static {
    fn stat(&self, hex: &str) -> AppResult<Stored>;
    /// Appends `bytes` to the partial upload at `offset`, which must be its committed
    /// length; returns the new length. Durable when it returns.
    fn append(&self, hex: &str, offset: u64, bytes: &[u8]) -> AppResult<u64>;
    /// Hashes the whole partial upload, which must hold `length` bytes; makes it readable
    /// when it matches `hex`, and removes it otherwise. The bytes made readable are the
    /// very bytes hashed, whatever another instance writes meanwhile.
    fn finish(&self, hex: &str, length: u64) -> AppResult<Finished>;
    /// Up to `max` bytes of a complete blob from `start`.
    fn read(&self, hex: &str, start: u64, max: usize) -> AppResult<Vec<u8>>;
    /// Removes a blob (complete or partial); removing nothing is fine.
    fn remove(&self, hex: &str) -> AppResult<()>;
    /// The complete blobs: hex and length.
    fn list(&self) -> AppResult<Vec<(String, u64)>>;
    /// Removes every partial upload last written before `cutoff` (milliseconds since the
    /// epoch); never one written since, nor one a request is writing now. With `dry_run`
    /// only says which it would remove.
    fn collect_partials(&self, cutoff: i64, dry_run: bool) -> AppResult<PartialsCollected>;
}
