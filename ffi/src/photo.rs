//! Photos across the boundary: add one to a visit, a task, a complaint or a display check
//! (from a file the camera wrote, or bytes), follow the uploads, and get a photo or its
//! thumbnail as a local file, fetched on demand. Local calls are blocking (the app runs
//! them off the main thread); uploads and fetches are `async` on the tokio runtime.

use std::path::Path;

use fieldsync_core as fc;
use fieldsync_core::photos::{PhotoMeta, PhotoSource, PhotoTarget};

use crate::error::FieldError;
use crate::parse;
use crate::shelf_display::DisplayStandard;
use crate::store::FieldStore;
use crate::sync::FieldSync;
use crate::time::Instant;
use crate::visit::GpsFixRecord;

/// Which kind of document a photo is evidence for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum PhotoTargetKind {
    Visit,
    /// A rectification task's after photo.
    Task,
    Complaint,
    /// A shelf-display check (the document is the display; `standard` may name one).
    DisplayCheck,
}

/// The document a photo goes to.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PhotoTargetRecord {
    pub kind: PhotoTargetKind,
    pub doc_id: String,
    /// For a display check: the R6 standard the photo shows, if one.
    pub standard: Option<DisplayStandard>,
}

/// What the app knows about a photo besides its bytes.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct PhotoMetaRecord {
    pub caption: String,
    pub taken_at: Option<Instant>,
    pub gps: Option<GpsFixRecord>,
}

/// A photo stored on the phone and referenced from its document.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct AddedPhotoRecord {
    pub hash: String,
    pub thumb: String,
    pub bytes: u64,
    pub thumb_bytes: u64,
}

/// How photos travel: `metered` keeps full photos for another link (thumbnails still go);
/// `chunk_bytes` per upload request; `cache_bytes` for photos fetched from the server.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PhotoSettingsRecord {
    pub metered: bool,
    pub chunk_bytes: u64,
    pub cache_bytes: u64,
}

/// Where the uploads of a pass stand ("uploading 2 of 5 photos").
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct PhotoUploadProgressRecord {
    pub thumbnails_done: u64,
    pub thumbnails_total: u64,
    pub photos_done: u64,
    pub photos_total: u64,
    pub bytes_sent: u64,
}

/// What one upload pass did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PhotoReportRecord {
    pub thumbnails_sent: u64,
    pub photos_sent: u64,
    pub already_there: u64,
    pub chunks_sent: u32,
    pub bytes_sent: u64,
    pub waiting_for_unmetered: u64,
    /// `hash: reason` of each blob the server would not take (a limit, access).
    pub refused: Vec<String>,
    /// `hash: reason` of each own photo whose file could not be read (gone, cut short):
    /// blocked, and the pass went on with the others.
    pub unreadable: Vec<String>,
}

/// An own photo or thumbnail the uploads no longer try, and why: the server refused it
/// for good (its document's store left this user's scope, another user attached the same
/// picture first), or its file cannot be read. Its file stays on the phone.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct BlockedPhotoRecord {
    pub hash: String,
    pub thumbnail: bool,
    pub reason: String,
    /// Every document of this phone that referenced it (some may have left the phone).
    pub doc_ids: Vec<String>,
    /// Its file on the phone (absent when that is why it is blocked).
    pub path: String,
}

/// Implemented by the app to follow photo uploads.
#[uniffi::export(callback_interface)]
pub trait PhotoProgressListener: Send + Sync {
    fn on_progress(&self, progress: PhotoUploadProgressRecord);
}

/// The library's photo settings: unmetered, 128 KiB chunks, a 200 MiB cache.
#[uniffi::export]
pub fn default_photo_settings() -> PhotoSettingsRecord {
    fc::PhotoSettings::default().into()
}

fn target(t: PhotoTargetRecord) -> Result<PhotoTarget, FieldError> {
    let id = parse::id("doc_id", &t.doc_id)?;
    Ok(match t.kind {
        PhotoTargetKind::Visit => PhotoTarget::Visit(id),
        PhotoTargetKind::Task => PhotoTarget::Task(id),
        PhotoTargetKind::Complaint => PhotoTarget::Complaint(id),
        PhotoTargetKind::DisplayCheck => PhotoTarget::DisplayCheck {
            display: id,
            standard: t.standard.map(Into::into),
        },
    })
}

fn meta(m: PhotoMetaRecord) -> Result<PhotoMeta, FieldError> {
    Ok(PhotoMeta {
        caption: m.caption,
        taken_at: m.taken_at.map(|t| t.timestamp("taken_at")).transpose()?,
        gps: m.gps.map(Into::into),
    })
}

#[uniffi::export]
impl FieldStore {
    /// Stores the photo at `path` (a JPEG or PNG the camera wrote; copied in chunks) and
    /// its thumbnail on the phone, and references both from the target document in the
    /// same step. The same photo added twice is stored once.
    pub fn add_photo_file(
        &self,
        target_doc: PhotoTargetRecord,
        path: String,
        meta_record: PhotoMetaRecord,
    ) -> Result<AddedPhotoRecord, FieldError> {
        let id = target_doc.doc_id.clone();
        let t = target(target_doc)?;
        let m = meta(meta_record)?;
        self.write(&[&id], |s| {
            s.add_photo(&t, PhotoSource::File(Path::new(&path)), &m)
        })
        .map(Into::into)
    }

    /// [`FieldStore::add_photo_file`] for bytes in memory.
    pub fn add_photo_bytes(
        &self,
        target_doc: PhotoTargetRecord,
        bytes: Vec<u8>,
        meta_record: PhotoMetaRecord,
    ) -> Result<AddedPhotoRecord, FieldError> {
        let id = target_doc.doc_id.clone();
        let t = target(target_doc)?;
        let m = meta(meta_record)?;
        self.write(&[&id], |s| s.add_photo(&t, PhotoSource::Bytes(&bytes), &m))
            .map(Into::into)
    }

    /// The local file of a photo or thumbnail hash, if the phone has it.
    pub fn local_photo(&self, hash: String) -> Result<Option<String>, FieldError> {
        Ok(self
            .core
            .local_photo(&hash)?
            .map(|p| p.to_string_lossy().into_owned()))
    }

    /// The own photos and thumbnails the uploads no longer try, oldest first, with why.
    pub fn blocked_photos(&self) -> Result<Vec<BlockedPhotoRecord>, FieldError> {
        Ok(self
            .core
            .blocked_photos()?
            .into_iter()
            .map(|b| BlockedPhotoRecord {
                hash: b.hash,
                thumbnail: b.thumbnail,
                reason: b.reason,
                doc_ids: b.docs,
                path: b.path.to_string_lossy().into_owned(),
            })
            .collect())
    }

    /// Queues every blocked photo again (after the office moved a store back, say): the
    /// next upload pass asks the server again. Returns how many.
    pub fn retry_blocked_photos(&self) -> Result<u64, FieldError> {
        Ok(self.core.retry_blocked_photos()? as u64)
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl FieldSync {
    /// Uploads the phone's own photos whose documents the server holds (sync first):
    /// thumbnails, then full photos unless `settings.metered`; resumes where an upload
    /// stopped; never sends what the server has.
    pub async fn upload_photos(
        &self,
        settings: PhotoSettingsRecord,
        listener: Option<Box<dyn PhotoProgressListener>>,
    ) -> Result<PhotoReportRecord, FieldError> {
        let progress = move |p: fc::PhotoUploadProgress| {
            if let Some(listener) = &listener {
                listener.on_progress(p.into());
            }
        };
        let report = self
            .client()
            .upload_photos(&settings.into(), &progress)
            .await;
        self.notify_changed();
        Ok(report?.into())
    }

    /// The local file of a photo of `doc_id`, fetched from the server when needed.
    pub async fn photo(
        &self,
        doc_id: String,
        hash: String,
        settings: PhotoSettingsRecord,
    ) -> Result<String, FieldError> {
        self.fetch(doc_id, hash, false, settings).await
    }

    /// The local file of the thumbnail of photo `hash` of `doc_id`, fetched when needed.
    pub async fn thumbnail(
        &self,
        doc_id: String,
        hash: String,
        settings: PhotoSettingsRecord,
    ) -> Result<String, FieldError> {
        self.fetch(doc_id, hash, true, settings).await
    }
}

impl FieldSync {
    async fn fetch(
        &self,
        doc_id: String,
        hash: String,
        thumbnail: bool,
        settings: PhotoSettingsRecord,
    ) -> Result<String, FieldError> {
        let doc = parse::id("doc_id", &doc_id)?;
        let path = self
            .client()
            .fetch_photo(&doc, &hash, thumbnail, &settings.into())
            .await?;
        Ok(path.to_string_lossy().into_owned())
    }
}

impl From<fc::photos::AddedPhoto> for AddedPhotoRecord {
    fn from(a: fc::photos::AddedPhoto) -> Self {
        AddedPhotoRecord {
            hash: a.hash,
            thumb: a.thumb,
            bytes: a.bytes,
            thumb_bytes: a.thumb_bytes,
        }
    }
}

impl From<PhotoSettingsRecord> for fc::PhotoSettings {
    fn from(s: PhotoSettingsRecord) -> Self {
        fc::PhotoSettings {
            metered: s.metered,
            chunk_bytes: usize::try_from(s.chunk_bytes).unwrap_or(usize::MAX).max(1),
            cache_bytes: s.cache_bytes,
        }
    }
}

impl From<fc::PhotoSettings> for PhotoSettingsRecord {
    fn from(s: fc::PhotoSettings) -> Self {
        PhotoSettingsRecord {
            metered: s.metered,
            chunk_bytes: s.chunk_bytes as u64,
            cache_bytes: s.cache_bytes,
        }
    }
}

impl From<fc::PhotoUploadProgress> for PhotoUploadProgressRecord {
    fn from(p: fc::PhotoUploadProgress) -> Self {
        PhotoUploadProgressRecord {
            thumbnails_done: p.thumbnails_done as u64,
            thumbnails_total: p.thumbnails_total as u64,
            photos_done: p.photos_done as u64,
            photos_total: p.photos_total as u64,
            bytes_sent: p.bytes_sent,
        }
    }
}

impl From<fc::PhotoReport> for PhotoReportRecord {
    fn from(r: fc::PhotoReport) -> Self {
        PhotoReportRecord {
            thumbnails_sent: r.thumbnails_sent as u64,
            photos_sent: r.photos_sent as u64,
            already_there: r.already_there as u64,
            chunks_sent: r.chunks_sent,
            bytes_sent: r.bytes_sent,
            waiting_for_unmetered: r.waiting_for_unmetered as u64,
            refused: r
                .refused
                .into_iter()
                .map(|(hash, why)| format!("{hash}: {why}"))
                .collect(),
            unreadable: r
                .unreadable
                .into_iter()
                .map(|(hash, why)| format!("{hash}: {why}"))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{MONDAY_10, phone};

    #[test]
    fn a_blocked_photo_is_listed_with_its_reason_and_its_document_and_queued_again_on_retry() {
        let li = phone("am-li", MONDAY_10);
        let core = &li.store.core;
        let shop = core
            .create_store(fc::fixtures::sample_store("am-li", 1))
            .expect("store");
        let visit = core
            .create_visit(fc::NewVisit {
                store_id: shop,
                kind: fc::VisitKind::Routine,
                check_in: fc::CheckPoint {
                    at: core.now().expect("now"),
                    gps: None,
                },
                complaint_id: None,
            })
            .expect("visit");
        let added = li
            .store
            .add_photo_bytes(
                PhotoTargetRecord {
                    kind: PhotoTargetKind::Visit,
                    doc_id: visit.to_string(),
                    standard: None,
                },
                fc::photos::thumbnail::sample_jpeg(64, 48, 7),
                PhotoMetaRecord {
                    caption: "shelf".into(),
                    taken_at: None,
                    gps: None,
                },
            )
            .expect("photo");
        core.block_photo(&added.hash, "the server refused it")
            .expect("block");

        let blocked = li.store.blocked_photos().expect("blocked");
        assert_eq!(blocked.len(), 1);
        assert_eq!(blocked[0].hash, added.hash);
        assert_eq!(blocked[0].reason, "the server refused it");
        assert_eq!(blocked[0].doc_ids, [visit.to_string()]);
        assert!(!blocked[0].thumbnail);
        assert_eq!(li.store.retry_blocked_photos().expect("retry"), 1);
        assert!(li.store.blocked_photos().expect("blocked").is_empty());
    }
}
