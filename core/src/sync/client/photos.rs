//! Photos over the link, after the documents: [`SyncClient::upload_photos`] sends the
//! phone's own thumbnails, then (unless the link is metered) its full photos, each
//! resuming at the byte the server has committed and read from its file one chunk at a
//! time; one status request per batch says what the server already has, which is never
//! sent again. One photo's pieces are `photo_upload.rs`; fetching on demand is
//! `photo_fetch.rs`.

use super::SyncClient;
use super::http::classify;
use super::photo_upload::{Later, Upload};
use crate::error::Error;
use crate::ids::DocId;
use crate::store::outbox::Receipt;
use crate::store::photos::PendingPhoto;
use crate::sync::config::backoff;
use crate::sync::protocol::ErrorBody;
use crate::sync::protocol::blobs::{
    BlobRef, BlobState, BlobStatusRequest, BlobStatusResponse, MAX_STATUS_BATCH,
};
use crate::sync::report::SyncFailure;

/// How photos travel on this link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhotoSettings {
    /// A metered link: thumbnails go, full photos wait for another link.
    pub metered: bool,
    /// Bytes per upload request (and per download piece): at most this much of a photo
    /// is in memory, and a dropped link re-sends at most this much.
    pub chunk_bytes: usize,
    /// The budget of the cache of fetched photos.
    pub cache_bytes: u64,
}

impl Default for PhotoSettings {
    fn default() -> Self {
        PhotoSettings {
            metered: false,
            chunk_bytes: 128 * 1024,
            cache_bytes: 200 * 1024 * 1024,
        }
    }
}

/// Where the uploads stand, for "uploading 2 of 5 photos".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PhotoUploadProgress {
    pub thumbnails_done: usize,
    pub thumbnails_total: usize,
    pub photos_done: usize,
    pub photos_total: usize,
    pub bytes_sent: u64,
}

/// What one upload pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PhotoReport {
    pub thumbnails_sent: usize,
    pub photos_sent: usize,
    /// Already complete on the server (another phone sent them, or an answer was lost).
    pub already_there: usize,
    /// Upload requests made (each at most one chunk).
    pub chunks_sent: u32,
    /// Bytes of photo bodies sent.
    pub bytes_sent: u64,
    /// Uploads that resumed after bytes the server already had: hash and offset.
    pub resumed: Vec<(String, u64)>,
    /// Full photos left for an unmetered link.
    pub waiting_for_unmetered: usize,
    /// Blobs the server would not take, with its reason (a limit, a refused document).
    /// Those refused for good are blocked (`LocalStore::blocked_photos`); a daily quota
    /// spent is not.
    pub refused: Vec<(String, String)>,
    /// Own photos whose file could not be read (gone, cut short), with what reading it
    /// said: blocked, while the pass went on with the others.
    pub unreadable: Vec<(String, String)>,
}

pub(super) const OUT_OF_REACH: &str = "the server refused it: its document is not in this device's scope, \
                            or another user attached the same photo first";

impl SyncClient {
    pub(super) fn blob_url(&self, hash: &str, doc: &str) -> String {
        format!(
            "{}/v1/blobs/{hash}?doc={doc}",
            self.config.server_url.trim_end_matches('/')
        )
    }

    /// Uploads the phone's own photos whose documents the server holds: every thumbnail
    /// first, then the full photos (not on a metered link); `progress` hears after each.
    /// A photo the server refuses for good, or whose file cannot be read, is blocked and
    /// reported, and the pass goes on; documents kept on the phone only for their photos
    /// (they left the scope or the working set) go once those are uploaded or blocked.
    pub async fn upload_photos(
        &self,
        settings: &PhotoSettings,
        progress: &(dyn Fn(PhotoUploadProgress) + Send + Sync),
    ) -> Result<PhotoReport, SyncFailure> {
        let mut report = PhotoReport::default();
        let everything = self.blocking(|s| s.pending_photos(false, 100_000)).await?;
        // A document not yet on the server cannot vouch for its photos: each goes through
        // one of its documents the server holds, or waits. A document the phone no longer
        // holds left only once the server held every edit of it (`drop_left_documents`, a
        // damaged one set aside): it is on the server, which decides whether it still
        // vouches (not once its store left the device's scope).
        let ready = self
            .blocking(move |s| {
                let mut ready = Vec::new();
                for mut p in everything {
                    let mut gone = None;
                    let mut held = None;
                    for doc in &p.docs {
                        match DocId::parse("doc", doc).and_then(|id| s.receipt(&id)) {
                            Ok(Receipt::OnServer | Receipt::UploadingPhotos { .. }) => {
                                held = Some(doc.clone());
                                break;
                            }
                            Err(Error::UnknownDocument { .. }) if gone.is_none() => {
                                gone = Some(doc.clone());
                            }
                            _ => {}
                        }
                    }
                    if let Some(doc) = held.or(gone) {
                        p.doc_id = doc;
                        ready.push(p);
                    }
                }
                Ok(ready)
            })
            .await?;
        let (thumbs, photos): (Vec<PendingPhoto>, Vec<PendingPhoto>) =
            ready.into_iter().partition(|p| p.thumbnail);
        let mut state = PhotoUploadProgress {
            thumbnails_total: thumbs.len(),
            photos_total: photos.len(),
            ..PhotoUploadProgress::default()
        };
        let photos = if settings.metered {
            report.waiting_for_unmetered = photos.len();
            Vec::new()
        } else {
            photos
        };
        for group in [thumbs, photos] {
            for batch in group.chunks(MAX_STATUS_BATCH) {
                let status = self.blob_status(batch).await?;
                for (photo, status) in batch.iter().zip(status.blobs) {
                    let from = match status.state {
                        BlobState::Complete => {
                            report.already_there += 1;
                            self.done(photo, &mut state).await?;
                            progress(state);
                            continue;
                        }
                        BlobState::Refused => {
                            self.refused(photo, OUT_OF_REACH.into(), Later::Never, &mut report)
                                .await?;
                            continue;
                        }
                        BlobState::Partial => status.committed,
                        BlobState::Missing => 0,
                    };
                    if from > 0 {
                        report.resumed.push((photo.hash.clone(), from));
                    }
                    match self
                        .upload_one(photo, from, settings, &mut report, &mut state, progress)
                        .await?
                    {
                        Upload::Refused(reason, later) => {
                            self.refused(photo, reason, later, &mut report).await?;
                        }
                        Upload::Unreadable(reason) => {
                            let hash = photo.hash.clone();
                            let why = reason.clone();
                            self.blocking(move |s| s.block_photo(&hash, &why)).await?;
                            report.unreadable.push((photo.hash.clone(), reason));
                        }
                        Upload::Sent => {
                            if photo.thumbnail {
                                report.thumbnails_sent += 1;
                            } else {
                                report.photos_sent += 1;
                            }
                            self.done(photo, &mut state).await?;
                            progress(state);
                        }
                    }
                }
            }
        }
        // Documents kept only for photos now uploaded or blocked leave.
        self.blocking(|s| s.drop_left_documents()).await?;
        Ok(report)
    }

    /// Reports `photo` refused, and blocks it when asking again cannot change the answer.
    async fn refused(
        &self,
        photo: &PendingPhoto,
        reason: String,
        later: Later,
        report: &mut PhotoReport,
    ) -> Result<(), SyncFailure> {
        if later == Later::Never {
            let hash = photo.hash.clone();
            let why = reason.clone();
            self.blocking(move |s| s.block_photo(&hash, &why)).await?;
        }
        report.refused.push((photo.hash.clone(), reason));
        Ok(())
    }

    async fn done(
        &self,
        photo: &PendingPhoto,
        state: &mut PhotoUploadProgress,
    ) -> Result<(), SyncFailure> {
        let hash = photo.hash.clone();
        self.blocking(move |s| s.mark_photo_uploaded(&hash)).await?;
        if photo.thumbnail {
            state.thumbnails_done += 1;
        } else {
            state.photos_done += 1;
        }
        Ok(())
    }

    pub(super) async fn blob_status(
        &self,
        batch: &[PendingPhoto],
    ) -> Result<BlobStatusResponse, SyncFailure> {
        let request = BlobStatusRequest {
            blobs: batch
                .iter()
                .map(|p| BlobRef {
                    hash: p.hash.clone(),
                    doc: p.doc_id.clone(),
                })
                .collect(),
        };
        let body = serde_json::to_vec(&request).map_err(|e| SyncFailure::Local(e.to_string()))?;
        let url = format!(
            "{}/v1/blobs/status",
            self.config.server_url.trim_end_matches('/')
        );
        // `attempt` counts the failures of the link; a retry after a rotation is not one.
        let (mut attempt, mut renewed) = (0, false);
        loop {
            let token = self.current_token();
            let sent = self
                .http
                .post(&url)
                .bearer_auth(&token)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone())
                .send()
                .await
                .map_err(classify);
            let outcome = match sent {
                Ok(response) => read_json::<BlobStatusResponse>(response).await,
                Err(e) => Err(e),
            };
            // Sent with a token a rotation replaced meanwhile: once more.
            let renew = !renewed
                && matches!(outcome, Err(SyncFailure::Unauthorized(_)))
                && self.token_renewed_since(&token).await;
            match outcome {
                Ok(Ok(status)) if status.blobs.len() == batch.len() => return Ok(status),
                Ok(Ok(_)) => {
                    return Err(SyncFailure::Refused(
                        "the blob status answer does not list every blob asked about".into(),
                    ));
                }
                Ok(Err(e)) => return Err(SyncFailure::Refused(e.message)),
                _ if renew => renewed = true,
                Err(f) if f.is_transient() && attempt + 1 < self.config.max_attempts => {
                    attempt += 1;
                    tokio::time::sleep(backoff(&self.config, attempt)).await;
                }
                Err(f) => return Err(f),
            }
        }
    }
}

pub(super) fn error_body(status: reqwest::StatusCode, bytes: &[u8]) -> ErrorBody {
    serde_json::from_slice(bytes).unwrap_or_else(|_| ErrorBody {
        error: status.as_str().to_owned(),
        message: String::from_utf8_lossy(bytes).chars().take(200).collect(),
        ..ErrorBody::default()
    })
}

async fn read_json<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
) -> Result<Result<T, ErrorBody>, SyncFailure> {
    let status = response.status();
    let bytes = response.bytes().await.map_err(classify)?;
    if status.is_success() {
        return serde_json::from_slice(&bytes).map(Ok).map_err(|e| {
            SyncFailure::ServerUnavailable(format!("the answer was cut short or garbled: {e}"))
        });
    }
    match status.as_u16() {
        401 => Err(SyncFailure::Unauthorized(
            error_body(status, &bytes).message,
        )),
        408 | 429 | 500..=599 => Err(SyncFailure::ServerUnavailable(
            error_body(status, &bytes).message,
        )),
        _ => Ok(Err(error_body(status, &bytes))),
    }
}
