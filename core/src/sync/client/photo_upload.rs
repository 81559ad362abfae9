//! One photo's upload, piece by piece: each piece read from the file when it is sent (a
//! photo is never whole in memory), resuming at the offset the server holds, asking where
//! the upload stands after a request whose answer was lost. How it ends short of success
//! (refused, for now or for good; the file unreadable) is the pass's to report
//! (`photos.rs`).

use std::io::{Read, Seek, SeekFrom};

use super::SyncClient;
use super::http::classify;
use super::photos::{OUT_OF_REACH, PhotoSettings, PhotoUploadProgress, error_body};
use crate::store::photos::PendingPhoto;
use crate::sync::config::backoff;
use crate::sync::protocol::blobs::{BlobState, BlobUploaded, LENGTH_HEADER, OFFSET_HEADER};
use crate::sync::report::SyncFailure;

/// How one request for a blob ended, short of success.
enum Answer<T> {
    Done(T),
    /// The server holds another offset: resume there.
    Offset(u64),
    /// Not this blob (a limit, access): the reason, and whether asking again later can
    /// change the answer (a daily quota spent).
    Refused(String, Later),
}

/// Whether a refusal may change if the blob is asked for again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Later {
    Maybe,
    Never,
}

/// How the upload of one blob ended.
pub(super) enum Upload {
    Sent,
    Refused(String, Later),
    /// Its file could not be read: what reading it said.
    Unreadable(String),
}

impl SyncClient {
    /// Sends `photo` from byte `from` in chunks read from its file. Short of `Sent`: the
    /// server refused it (a limit, access) or its file could not be read, and the pass
    /// goes on with the others.
    pub(super) async fn upload_one(
        &self,
        photo: &PendingPhoto,
        from: u64,
        settings: &PhotoSettings,
        report: &mut super::photos::PhotoReport,
        state: &mut PhotoUploadProgress,
        progress: &(dyn Fn(PhotoUploadProgress) + Send + Sync),
    ) -> Result<Upload, SyncFailure> {
        let url = self.blob_url(&photo.hash, &photo.doc_id);
        let chunk = settings.chunk_bytes.max(1);
        let unreadable = |e: std::io::Error| {
            Upload::Unreadable(format!(
                "the file of photo `{}` could not be read: {e}",
                photo.hash
            ))
        };
        let mut file = match std::fs::File::open(&photo.path) {
            Ok(file) => file,
            Err(e) => return Ok(unreadable(e)),
        };
        let length = match file.metadata() {
            Ok(m) => m.len(),
            Err(e) => return Ok(unreadable(e)),
        };
        let mut offset = from;
        let (mut attempt, mut renewed) = (0u32, false);
        // Each round sends one chunk or moves to the server's offset; bounded by the
        // chunks of the photo plus the retries allowed.
        let rounds = length / chunk as u64 + 2 + u64::from(self.config.max_attempts) * 4;
        for _ in 0..rounds {
            let want = usize::try_from((length - offset).min(chunk as u64)).unwrap_or(chunk);
            let mut buf = vec![0u8; want];
            if let Err(e) = file
                .seek(SeekFrom::Start(offset))
                .and_then(|_| file.read_exact(&mut buf))
            {
                return Ok(unreadable(e));
            }
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
                Ok(Answer::Done(up)) if up.complete => return Ok(Upload::Sent),
                Ok(Answer::Done(up)) => {
                    offset = up.committed;
                    attempt = 0;
                    progress(*state);
                }
                Ok(Answer::Offset(committed)) => offset = committed.min(length),
                Ok(Answer::Refused(reason, later)) => return Ok(Upload::Refused(reason, later)),
                _ if renew => renewed = true,
                Err(f) if f.is_transient() && attempt + 1 < self.config.max_attempts => {
                    attempt += 1;
                    tokio::time::sleep(backoff(&self.config, attempt)).await;
                    // Where the server stands after a request whose answer was lost.
                    let status = self.blob_status(std::slice::from_ref(photo)).await?;
                    if let Some(s) = status.blobs.first() {
                        match s.state {
                            BlobState::Complete => return Ok(Upload::Sent),
                            BlobState::Partial => offset = s.committed,
                            BlobState::Missing => offset = 0,
                            BlobState::Refused => {
                                return Ok(Upload::Refused(OUT_OF_REACH.into(), Later::Never));
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
        429 if error.error == "quota" => Ok(Answer::Refused(error.message, Later::Maybe)),
        408 | 429 | 500..=599 => Err(SyncFailure::ServerUnavailable(error.message)),
        // Access (the document out of the device's scope, another user's photo): asking
        // again through the same document gets the same answer. A piece over the server's
        // limit, bytes that did not match: another pass (other pieces) may do better.
        code => Ok(Answer::Refused(
            format!("{}: {}", error.error, error.message),
            if code == 404 {
                Later::Never
            } else {
                Later::Maybe
            },
        )),
    }
}
