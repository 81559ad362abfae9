//! The demo's photos: the first account manager's last visit carries two shelf photos,
//! taken on the phone (core's `add_photo`, which makes the thumbnails) and referenced by
//! the visit. After the push, both thumbnails and the first photo are put in the server's
//! blob store as an upload would leave them (verified against their hash, the demo phone
//! recorded as their uploader); the second
//! photo stays on the phone, so the store page shows both states: a thumbnail linking to
//! its photo, and a photo not yet uploaded.

use fieldsync_core::DocId;
use fieldsync_core::photos::thumbnail::sample_jpeg;
use fieldsync_core::photos::{HASH_PREFIX, PhotoMeta, PhotoSource, PhotoTarget};

use super::phone::Phone;
use crate::blobs::store::{BlobStore, Finished};
use crate::error::{AppError, AppResult};
use crate::storage::SyncStorage;
use crate::storage::blob_ledger::BlobRecord;

/// The photos' captions; the second is the one left on the phone.
const CAPTIONS: [&str; 2] = ["陈列柜 shelf", "价签 price tags"];

/// Adds the demo's photos to `visit`; returns the hashes the server should receive:
/// every thumbnail and the first photo.
pub(super) fn take(am: &Phone, visit: &DocId) -> AppResult<Vec<String>> {
    let mut uploaded = Vec::new();
    for (n, caption) in CAPTIONS.iter().enumerate() {
        let bytes = sample_jpeg(960, 720, 17 + n as u32);
        let meta = PhotoMeta {
            caption: (*caption).into(),
            taken_at: Some(am.clock.now()),
            gps: None,
        };
        let added = am.local.add_photo(
            &PhotoTarget::Visit(visit.clone()),
            PhotoSource::Bytes(&bytes),
            &meta,
        )?;
        uploaded.push(added.thumb);
        if n == 0 {
            uploaded.push(added.hash);
        }
    }
    Ok(uploaded)
}

/// Puts each of `hashes` from the phone's photo folder into `blobs`, verified, and records
/// the phone's device as its uploader (whose references make it readable).
pub(super) fn upload(
    am: &Phone,
    storage: &dyn SyncStorage,
    blobs: &dyn BlobStore,
    hashes: &[String],
) -> AppResult<()> {
    for hash in hashes {
        let hex = hash.strip_prefix(HASH_PREFIX).unwrap_or(hash);
        let path = am
            .local
            .local_photo(hash)?
            .ok_or_else(|| AppError::Internal(format!("the demo phone lost `{hash}`")))?;
        let bytes = std::fs::read(&path)
            .map_err(|e| AppError::Internal(format!("cannot read `{}`: {e}", path.display())))?;
        blobs.append(hex, 0, &bytes)?;
        match blobs.finish(hex, bytes.len() as u64)? {
            Finished::Verified => storage.record_blob(&BlobRecord {
                hash: hash.clone(),
                bytes: bytes.len() as i64,
                uploaded_by: am.info.device_id.clone(),
                stored_at: am.clock.now().0,
            })?,
            Finished::Mismatch { actual } => {
                return Err(AppError::Internal(format!(
                    "the demo photo `{hash}` hashed to `{actual}`"
                )));
            }
            Finished::Changed => {
                return Err(AppError::Internal(format!(
                    "the demo photo `{hash}` changed while it was stored"
                )));
            }
        }
    }
    Ok(())
}
