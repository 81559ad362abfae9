//! Photos on the phone: [`LocalStore::add_photo`] stores the bytes and the thumbnail in
//! the photo folder, then references both from the document in one transaction with the
//! rows of `photo_files` (migration 008) that say which files are the phone's own and
//! whether the server has them. File first, document second: a crash in between leaves
//! an orphan file ([`LocalStore::remove_orphan_photos`] removes it), never a document that
//! references bytes the phone lacks.
//!
//! The sync client reads the upload queue from here (thumbnails before photos) and marks
//! what the server confirmed; fetched photos are cached within a byte budget that evicts
//! them oldest-used first and never touches the phone's own un-uploaded files.

use std::path::PathBuf;

use automerge::ScalarValue;
use rusqlite::{OptionalExtension, params};

use super::LocalStore;
use crate::doc::{DOC_ROOT, entry_value};
use crate::error::{Error, Result};
use crate::ids::{DocId, DocKind};
use crate::kinds::visit::PhotoRef;
use crate::photos::folder::PhotoFolder;
use crate::photos::{
    AddedPhoto, MAX_PHOTO_BYTES, PhotoMeta, PhotoSource, PhotoTarget, hex_of, thumbnail,
};

/// A photo or thumbnail of the phone's own that the server does not have yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingPhoto {
    pub hash: String,
    /// A document that references it (the server checks access against it): the last
    /// one it was added to, until the upload pass picks one the server holds.
    pub doc_id: String,
    /// Every document of this phone that references it, in the order of their ids.
    pub docs: Vec<String>,
    pub thumbnail: bool,
    pub bytes: u64,
    pub path: PathBuf,
}

/// How far the phone's own photos are on their way to the server. Every photo is on its
/// way until it is uploaded or blocked (`store/photo_blocked.rs`): the uploads are done
/// when `photos_uploaded + photos_blocked == photos_total` (and so for thumbnails).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PhotoProgress {
    /// Full photos the server has, of all those taken on this phone.
    pub photos_uploaded: u64,
    /// Full photos that cannot be sent (the server refused them, their file is gone).
    pub photos_blocked: u64,
    pub photos_total: u64,
    pub thumbnails_uploaded: u64,
    pub thumbnails_blocked: u64,
    pub thumbnails_total: u64,
    /// Bytes of full photos still to send (blocked ones not counted).
    pub bytes_waiting: u64,
}

impl LocalStore {
    /// The folder the photo files are in (beside the SQLite file).
    pub fn photo_folder(&self) -> PhotoFolder {
        PhotoFolder::beside(self.path())
    }

    /// Stores a photo and its thumbnail on the phone and references them from `target`
    /// (a visit, a task's after photos, a complaint, a display check), so that the next
    /// syncs carry the document first, the thumbnail next, the photo last. The same bytes
    /// added twice are stored once. Refuses what is not a JPEG or PNG image.
    pub fn add_photo(
        &self,
        target: &PhotoTarget,
        source: PhotoSource<'_>,
        meta: &PhotoMeta,
    ) -> Result<AddedPhoto> {
        if meta.caption.chars().count() > 200 {
            return Err(Error::invalid(
                "caption",
                "must be at most `200` characters",
            ));
        }
        let folder = self.photo_folder();
        // Decoding first refuses a file that is no image before anything is stored.
        let thumb_bytes = match source {
            PhotoSource::Bytes(bytes) => thumbnail::of_bytes(bytes)?,
            PhotoSource::File(path) => thumbnail::of_file(path)?,
        };
        let (hash, bytes) = match source {
            PhotoSource::Bytes(bytes) => {
                if bytes.len() as u64 > MAX_PHOTO_BYTES {
                    return Err(Error::invalid(
                        "photo",
                        format!("is larger than the limit of `{MAX_PHOTO_BYTES}` bytes"),
                    ));
                }
                folder.put_bytes(bytes)?
            }
            PhotoSource::File(path) => folder.put_file(path, MAX_PHOTO_BYTES)?,
        };
        let (thumb, thumb_len) = folder.put_bytes(&thumb_bytes)?;
        let doc_id = target.doc_id().to_string();
        let now = self.now()?.0;
        self.in_one_transaction(|store| {
            {
                let inner = store.lock()?;
                let mut insert = inner.conn.prepare_cached(
                    "INSERT INTO photo_files (hash, role, bytes, doc_id, own, added_at, used_at)
                     VALUES (?1, ?2, ?3, ?4, 1, ?5, ?5)
                     ON CONFLICT (hash) DO UPDATE SET own = 1, doc_id = excluded.doc_id",
                )?;
                insert.execute(params![hash, "photo", bytes as i64, doc_id, now])?;
                insert.execute(params![thumb, "thumb", thumb_len as i64, doc_id, now])?;
                // Every document that references it: each one's receipt waits for it.
                let mut refer = inner.conn.prepare_cached(
                    "INSERT OR IGNORE INTO photo_docs (hash, doc_id) VALUES (?1, ?2)",
                )?;
                refer.execute(params![hash, doc_id])?;
                refer.execute(params![thumb, doc_id])?;
            }
            let mut fields: Vec<(&str, ScalarValue)> = vec![
                ("caption", meta.caption.as_str().into()),
                ("thumb", thumb.as_str().into()),
                ("bytes", ScalarValue::Int(bytes as i64)),
            ];
            if let Some(at) = meta.taken_at {
                fields.push(("taken_at", ScalarValue::Int(at.0)));
            }
            if let Some(gps) = meta.gps {
                fields.push(("lat", ScalarValue::F64(gps.lat)));
                fields.push(("lng", ScalarValue::F64(gps.lng)));
                fields.push(("accuracy_m", ScalarValue::F64(gps.accuracy_m)));
                fields.push(("datum", gps.datum.code().into()));
            }
            store.reference_photo(target, &hash, fields)
        })?;
        Ok(AddedPhoto {
            hash,
            thumb,
            bytes,
            thumb_bytes: thumb_len,
        })
    }

    /// Writes the photo entry `hash` into the target document.
    fn reference_photo(
        &self,
        target: &PhotoTarget,
        hash: &str,
        mut fields: Vec<(&str, ScalarValue)>,
    ) -> Result<()> {
        match target {
            PhotoTarget::Visit(id) => {
                self.edit_doc(id, DocKind::Visit, "add photo", |doc, stamp, _| {
                    let photos = doc.container(&DOC_ROOT, "photos")?;
                    doc.put_value(&photos, hash, &entry_value(fields, stamp))
                })
            }
            PhotoTarget::Task(id) => self.add_task_photo_entry(id, hash, fields, false),
            PhotoTarget::Complaint(id) => {
                self.edit_doc(id, DocKind::Complaint, "add photo", |doc, stamp, _| {
                    let key = format!("{}{hash}", crate::kinds::visit::PHOTO_PREFIX);
                    doc.put_value(&DOC_ROOT, &key, &entry_value(fields, stamp))
                })
            }
            PhotoTarget::DisplayCheck { display, standard } => {
                if let Some(standard) = standard {
                    fields.push(("standard", standard.code().into()));
                }
                self.edit_doc(
                    display,
                    DocKind::ShelfDisplay,
                    "add photo",
                    |doc, stamp, _| {
                        let key = format!("{}{hash}", crate::kinds::visit::PHOTO_PREFIX);
                        doc.put_value(&DOC_ROOT, &key, &entry_value(fields, stamp))
                    },
                )
            }
        }
    }

    /// The photos a document of any kind references, oldest first.
    pub fn photos_of(&self, id: &DocId) -> Result<Vec<PhotoRef>> {
        let kind = self.kind_of(id)?;
        self.read_doc(id, kind, |doc| {
            Ok(crate::kinds::visit::read_photos(doc, "photos"))
        })
    }

    /// The phone's own files the server does not have yet, thumbnails first, then (unless
    /// `thumbnails_only`, the metered setting) full photos; oldest first; at most `max`.
    pub fn pending_photos(&self, thumbnails_only: bool, max: usize) -> Result<Vec<PendingPhoto>> {
        let folder = self.photo_folder();
        let rows = self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT f.hash, f.doc_id, f.role, f.bytes,
                        (SELECT group_concat(d.doc_id) FROM photo_docs d WHERE d.hash = f.hash)
                 FROM photo_files f
                 WHERE f.own = 1 AND f.uploaded = 0 AND (?1 = 0 OR f.role = 'thumb')
                   AND NOT EXISTS (SELECT 1 FROM photo_blocked b WHERE b.hash = f.hash)
                 ORDER BY f.role DESC, f.added_at, f.hash LIMIT ?2",
            )?;
            let rows = stmt
                .query_map(params![thumbnails_only, max as i64], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, Option<String>>(4)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })?;
        rows.into_iter()
            .map(|(hash, doc_id, role, bytes, docs)| {
                Ok(PendingPhoto {
                    path: folder.path_of(&hash)?,
                    docs: docs
                        .map(|d| doc_list(&d))
                        .unwrap_or_else(|| vec![doc_id.clone()]),
                    hash,
                    doc_id,
                    thumbnail: role == "thumb",
                    bytes: u64::try_from(bytes).unwrap_or(0),
                })
            })
            .collect()
    }

    /// Records that the server holds the whole of `hash` (it verified the bytes).
    pub fn mark_photo_uploaded(&self, hash: &str) -> Result<()> {
        let inner = self.lock()?;
        inner
            .conn
            .prepare_cached("UPDATE photo_files SET uploaded = 1 WHERE hash = ?1")?
            .execute([hash])?;
        inner
            .conn
            .prepare_cached("DELETE FROM photo_blocked WHERE hash = ?1")?
            .execute([hash])?;
        Ok(())
    }

    /// How far the phone's own photos (of every document, or of `doc` alone) are.
    pub fn photo_progress(&self, doc: Option<&DocId>) -> Result<PhotoProgress> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT f.role, COUNT(*), COALESCE(SUM(f.uploaded), 0),
                        COALESCE(SUM(CASE WHEN f.uploaded = 0 AND b.hash IS NULL THEN f.bytes ELSE 0 END), 0),
                        COUNT(b.hash)
                 FROM photo_files f LEFT JOIN photo_blocked b ON b.hash = f.hash AND f.uploaded = 0
                 WHERE f.own = 1 AND (?1 IS NULL OR EXISTS
                     (SELECT 1 FROM photo_docs d WHERE d.hash = f.hash AND d.doc_id = ?1))
                 GROUP BY f.role",
            )?;
            let mut progress = PhotoProgress::default();
            let rows = stmt.query_map([doc.map(|d| d.as_str())], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            })?;
            for row in rows {
                let (role, total, uploaded, waiting, blocked) = row?;
                let (total, uploaded, blocked) = (total as u64, uploaded as u64, blocked as u64);
                if role == "thumb" {
                    progress.thumbnails_total = total;
                    progress.thumbnails_uploaded = uploaded;
                    progress.thumbnails_blocked = blocked;
                } else {
                    progress.photos_total = total;
                    progress.photos_uploaded = uploaded;
                    progress.photos_blocked = blocked;
                    progress.bytes_waiting = waiting as u64;
                }
            }
            Ok(progress)
        })
    }

    /// The local file of `hash`, if the phone has it (its own, or fetched and cached).
    pub fn local_photo(&self, hash: &str) -> Result<Option<PathBuf>> {
        let path = self.photo_folder().path_of(hash)?;
        let known: Option<i64> = {
            let inner = self.lock()?;
            let now = (inner.clock)().0;
            inner
                .conn
                .prepare_cached(
                    "UPDATE photo_files SET used_at = ?2 WHERE hash = ?1 RETURNING own",
                )?
                .query_row(params![hash, now], |r| r.get(0))
                .optional()?
        };
        Ok(known.filter(|_| path.is_file()).map(|_| path))
    }

    /// Records a file fetched from the server into the cache, then evicts fetched files,
    /// oldest-used first, until they take at most `budget` bytes (own files never count
    /// and are never evicted). Returns how many files were evicted.
    pub fn cache_fetched_photo(
        &self,
        hash: &str,
        thumbnail: bool,
        bytes: u64,
        doc_id: &DocId,
        budget: u64,
    ) -> Result<usize> {
        let folder = self.photo_folder();
        let evicted: Vec<String> = {
            let inner = self.lock()?;
            let now = (inner.clock)().0;
            inner.conn.prepare_cached(
                "INSERT INTO photo_files (hash, role, bytes, doc_id, own, uploaded, added_at, used_at)
                 VALUES (?1, ?2, ?3, ?4, 0, 1, ?5, ?5)
                 ON CONFLICT (hash) DO UPDATE SET used_at = excluded.used_at",
            )?
            .execute(params![hash, if thumbnail { "thumb" } else { "photo" }, bytes as i64, doc_id.as_str(), now])?;
            let mut stmt = inner.conn.prepare_cached(
                "SELECT hash, bytes FROM photo_files WHERE own = 0 ORDER BY used_at DESC, rowid DESC",
            )?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut kept = 0u64;
            let mut evicted = Vec::new();
            for (h, b) in rows {
                kept = kept.saturating_add(u64::try_from(b).unwrap_or(0));
                // The file just fetched stays even alone over the budget: it is being shown.
                if kept > budget && h != hash {
                    evicted.push(h);
                }
            }
            let mut delete = inner
                .conn
                .prepare_cached("DELETE FROM photo_files WHERE hash = ?1 AND own = 0")?;
            for h in &evicted {
                delete.execute([h])?;
            }
            evicted
        };
        // Rows first, files second: a crash in between leaves orphan files, never rows
        // that point at nothing.
        for h in &evicted {
            folder.remove(h)?;
        }
        Ok(evicted.len())
    }

    /// Removes files no row knows (a crash between a file and its document) and temp
    /// files; returns how many went.
    pub fn remove_orphan_photos(&self) -> Result<usize> {
        let known: std::collections::HashSet<String> = self.read(|conn| {
            let mut stmt = conn.prepare_cached("SELECT hash FROM photo_files")?;
            let rows = stmt
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(rows)
        })?;
        self.photo_folder()
            .remove_orphans(|h| hex_of(h).is_some() && known.contains(h))
    }
}

/// The documents of a `group_concat(doc_id)` of `photo_docs`, sorted.
pub(super) fn doc_list(concatenated: &str) -> Vec<String> {
    let mut docs: Vec<String> = concatenated.split(',').map(str::to_owned).collect();
    docs.sort();
    docs
}
