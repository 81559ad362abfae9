//! Admin tools for photo blobs: `blob-gc` removes blobs that no document references any
//! more once they are older than the retention period (never one a document references)
//! and uploads abandoned part-way, untouched for longer than their own period (never one
//! written to since, nor one being written), and `photo-reuse` lists photo hashes used in visits of different stores or on different
//! days (an old photo passed off as new).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use fieldsync_core::{DocId, Replica};

use crate::blobs::{BlobLimits, Blobs};
use crate::error::{AppError, AppResult};
use crate::storage::SyncStorage;

const DAY_MS: i64 = 86_400_000;

/// Every hash a stored document references (photos and thumbnails).
fn referenced(storage: &dyn SyncStorage) -> AppResult<BTreeSet<String>> {
    let mut hashes = BTreeSet::new();
    for (id, _kind) in storage.documents()? {
        let Ok(doc) = DocId::parse("doc", &id) else {
            continue;
        };
        let changes = storage.document_changes(&id)?;
        let replica = Replica::load(&doc, changes.iter().map(Vec::as_slice))?;
        hashes.extend(replica.photo_hashes());
    }
    Ok(hashes)
}

/// The days a partial upload nobody writes to is kept (`blob-gc --abandoned-days`): a
/// phone offline for a long weekend, or kept off a metered link, resumes within them.
pub const DEFAULT_ABANDONED_DAYS: u32 = 7;

/// How long `blob-gc` keeps what it may remove.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Periods {
    /// Days an unreferenced blob is kept after it was stored.
    pub retention_days: u32,
    /// Days a partial upload is kept after its last written byte.
    pub abandoned_days: u32,
}

/// What `blob-gc` did (or would do, with `dry_run`).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Collected {
    pub kept_referenced: usize,
    pub kept_recent: usize,
    pub removed: Vec<String>,
    pub bytes_freed: u64,
    /// Partial uploads removed: `sha256:` hash and bytes held.
    pub abandoned: Vec<(String, u64)>,
    /// Partial uploads written to within the period, or being written.
    pub kept_uploading: usize,
}

/// Removes the blobs of `data_dir` that no document references and that were stored
/// more than `retention_days` before `now`, and the partial uploads last written more
/// than `abandoned_days` before `now`. A blob without a record (stored by a crash between
/// the file and the row) counts as stored now: it waits a full period. The database
/// records nothing of a partial upload (the day's quota counts bytes received, which
/// stay received): removing its bytes is all there is to do.
pub fn collect(
    storage: &dyn SyncStorage,
    data_dir: &Path,
    periods: Periods,
    now: i64,
    dry_run: bool,
) -> AppResult<Collected> {
    let Periods {
        retention_days,
        abandoned_days,
    } = periods;
    let blobs = Blobs::configured(data_dir, BlobLimits::default()).map_err(AppError::internal)?;
    let stored_at: HashMap<String, i64> = storage
        .blobs()?
        .into_iter()
        .map(|b| (b.hash, b.stored_at))
        .collect();
    let keep = referenced(storage)?;
    let cutoff = now - i64::from(retention_days) * DAY_MS;
    let mut done = Collected::default();
    for (hex, len) in blobs.store.list()? {
        let hash = format!("sha256:{hex}");
        if keep.contains(&hash) {
            done.kept_referenced += 1;
            continue;
        }
        if stored_at.get(&hash).copied().unwrap_or(now) > cutoff {
            done.kept_recent += 1;
            continue;
        }
        if !dry_run {
            blobs.store.remove(&hex)?;
            storage.forget_blob(&hash)?;
        }
        done.bytes_freed += len;
        done.removed.push(hash);
    }
    let partials = blobs
        .store
        .collect_partials(now - i64::from(abandoned_days) * DAY_MS, dry_run)?;
    done.kept_uploading = partials.kept;
    done.abandoned = partials
        .removed
        .into_iter()
        .map(|(hex, len)| (format!("sha256:{hex}"), len))
        .collect();
    Ok(done)
}

pub use crate::storage::photo_uses::PhotoUse;

/// The columns of the reused photos' section of `admin report`.
pub const REUSE_SECTION_COLUMNS: [&str; 4] = ["reused_photo", "visit", "store", "day"];

/// Writes every use of each reused photo as CSV rows (hash, visit, store, day), after
/// `header`.
pub fn write_reuse<'a>(
    reused: impl IntoIterator<Item = (&'a String, &'a Vec<PhotoUse>)>,
    header: &[&str],
    out: impl std::io::Write,
) -> AppResult<()> {
    let io = |e: csv::Error| AppError::Internal(format!("cannot write the photo uses: {e}"));
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(header).map_err(io)?;
    for (hash, uses) in reused {
        for u in uses {
            writer
                .write_record([hash.as_str(), &u.visit, &u.store, &u.day_text()])
                .map_err(io)?;
        }
    }
    writer
        .flush()
        .map_err(|e| AppError::Internal(format!("cannot write the photo uses: {e}")))
}

/// Photo hashes used in visits of more than one store or on more than one day, with every
/// use of each, as the server keeps them (see `storage/photo_uses.rs`).
pub fn reused(storage: &dyn SyncStorage) -> AppResult<BTreeMap<String, Vec<PhotoUse>>> {
    storage.reused_photos()
}
