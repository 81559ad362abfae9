//! Photos over the link, after the documents: [`SyncClient::upload_photos`] sends the
//! phone's own thumbnails, then (unless the link is metered) its full photos, each
//! resuming at the byte the server has committed and read from its file one chunk at a
//! time; one status request per batch says what the server already has, which is never
//! sent again. Fetching on demand is `photo_fetch.rs`.

use std::io::{Read, Seek, SeekFrom};

use super::SyncClient;
use super::http::classify;
use crate::ids::DocId;
use crate::store::outbox::Receipt;
use crate::store::photos::PendingPhoto;
use crate::sync::config::backoff;
use crate::sync::protocol::ErrorBody;
use crate::sync::protocol::blobs::{
    BlobRef, BlobState, BlobStatusRequest, BlobStatusResponse, BlobUploaded, LENGTH_HEADER,
    MAX_STATUS_BATCH, OFFSET_HEADER,
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
    pub refused: Vec<(String, String)>,
}

/// How one request for a blob ended, short of success.
enum Answer<T> {
    Done(T),
    /// The server holds another offset: resume there.
    Offset(u64),
    /// Not this blob, not now (a limit, access): the reason.
    Refused(String),
}

impl SyncClient {
    pub(super) fn blob_url(&self, hash: &str, doc: &str) -> String {
        format!(
            "{}/v1/blobs/{hash}?doc={doc}",
            self.config.server_url.trim_end_matches('/')
        )
    }

    /// Uploads the phone's own photos whose documents the server holds: every thumbnail
    /// first, then the full photos (not on a metered link); `progress` hears after each.
    pub async fn upload_photos(
        &self,
        settings: &PhotoSettings,
        progress: &(dyn Fn(PhotoUploadProgress) + Send + Sync),
    ) -> Result<PhotoReport, SyncFailure> {
        let mut report = PhotoReport::default();
        let everything = self.blocking(|s| s.pending_photos(false, 100_000)).await?;
        // A document not yet on the server cannot vouch for its photos: each goes through
        // one of its documents the server holds, or waits.
        let ready = self
            .blocking(move |s| {
                let mut ready = Vec::new();
                for mut p in everything {
                    let on_server = p.docs.iter().find(|doc| {
                        DocId::parse("doc", doc)
                            .and_then(|id| s.receipt(&id))
                            .is_ok_and(|r| {
                                matches!(r, Receipt::OnServer | Receipt::UploadingPhotos { .. })
                            })
                    });
                    if let Some(doc) = on_server {
                        p.doc_id = doc.clone();
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
                            report.refused.push((
                                photo.hash.clone(),
                                "the server refused it: its document is not in this device's \
                                 scope, or another user attached the same photo first"
                                    .into(),
                            ));
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
                        Some(reason) => report.refused.push((photo.hash.clone(), reason)),
                        None => {
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
        Ok(report)
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

    async fn blob_status(&self, batch: &[PendingPhoto]) -> Result<BlobStatusResponse, SyncFailure> {
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

    /// Sends `photo` from byte `from` in chunks read from its file. `Some(reason)`: the
    /// server refused it (a limit, access), and the pass goes on with the others.
    async fn upload_one(
        &self,
        photo: &PendingPhoto,
        from: u64,
        settings: &PhotoSettings,
        report: &mut PhotoReport,
        state: &mut PhotoUploadProgress,
        progress: &(dyn Fn(PhotoUploadProgress) + Send + Sync),
    ) -> Result<Option<String>, SyncFailure> {
        let url = self.blob_url(&photo.hash, &photo.doc_id);
        let chunk = settings.chunk_bytes.max(1);
        let mut file = std::fs::File::open(&photo.path)
            .map_err(|e| SyncFailure::Local(format!("photo `{}`: {e}", photo.hash)))?;
        let length = file
            .metadata()
            .map_err(|e| SyncFailure::Local(e.to_string()))?
            .len();
        let mut offset = from;
        let (mut attempt, mut renewed) = (0u32, false);
        // Each round sends one chunk or moves to the server's offset; bounded by the
        // chunks of the photo plus the retries allowed.
        let rounds = length / chunk as u64 + 2 + u64::from(self.config.max_attempts) * 4;
        for _ in 0..rounds {
            let want = usize::try_from((length - offset).min(chunk as u64)).unwrap_or(chunk);
            let mut buf = vec![0u8; want];
            file.seek(SeekFrom::Start(offset))
                .and_then(|_| file.read_exact(&mut buf))
                .map_err(|e| SyncFailure::Local(format!("photo `{}`: {e}", photo.hash)))?;
            report.chunks_sent += 1;
            report.bytes_sent += want as u64;
            state.bytes_sent += want as u64;
            let token = self.current_token();
            let sent = self
                .http
                .patch(&url)
                .bearer_auth(&token)
                .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                .header(OFFSET_HEADER, offset)
                .header(LENGTH_HEADER, length)
                .body(buf)
                .send()
                .await
                .map_err(classify);
            let answer = match sent {
                Ok(response) => upload_answer(response).await,
                Err(f) => Err(f),
            };
            // Sent with a token a rotation replaced meanwhile: the chunk once more.
            let renew = !renewed
                && matches!(answer, Err(SyncFailure::Unauthorized(_)))
                && self.token_renewed_since(&token).await;
            match answer {
                Ok(Answer::Done(up)) if up.complete => return Ok(None),
                Ok(Answer::Done(up)) => {
                    offset = up.committed;
                    attempt = 0;
                    progress(*state);
                }
                Ok(Answer::Offset(committed)) => offset = committed.min(length),
                Ok(Answer::Refused(reason)) => return Ok(Some(reason)),
                _ if renew => renewed = true,
                Err(f) if f.is_transient() && attempt + 1 < self.config.max_attempts => {
                    attempt += 1;
                    tokio::time::sleep(backoff(&self.config, attempt)).await;
                    // Where the server stands after a request whose answer was lost.
                    let status = self.blob_status(std::slice::from_ref(photo)).await?;
                    if let Some(s) = status.blobs.first() {
                        match s.state {
                            BlobState::Complete => return Ok(None),
                            BlobState::Partial => offset = s.committed,
                            BlobState::Missing => offset = 0,
                            BlobState::Refused => {
                                return Ok(Some("the server refused the photo's document".into()));
                            }
                        }
                    }
                }
                Err(f) => return Err(f),
            }
        }
        Err(SyncFailure::ServerUnavailable(format!(
            "the upload of `{}` did not finish within its bounded number of requests",
            photo.hash
        )))
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

async fn upload_answer(response: reqwest::Response) -> Result<Answer<BlobUploaded>, SyncFailure> {
    let status = response.status();
    let offset = response
        .headers()
        .get(OFFSET_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if status == reqwest::StatusCode::CONFLICT
        && let Some(offset) = offset
    {
        return Ok(Answer::Offset(offset));
    }
    let bytes = response.bytes().await.map_err(classify)?;
    if status.is_success() {
        return serde_json::from_slice(&bytes)
            .map(Answer::Done)
            .map_err(|e| {
                SyncFailure::ServerUnavailable(format!("the answer was cut short or garbled: {e}"))
            });
    }
    let error = error_body(status, &bytes);
    match status.as_u16() {
        401 => Err(SyncFailure::Unauthorized(error.message)),
        // A daily budget spent: the photo waits for tomorrow, the pass goes on.
        429 if error.error == "quota" => Ok(Answer::Refused(error.message)),
        408 | 429 | 500..=599 => Err(SyncFailure::ServerUnavailable(error.message)),
        _ => Ok(Answer::Refused(format!(
            "{}: {}",
            error.error, error.message
        ))),
    }
}
