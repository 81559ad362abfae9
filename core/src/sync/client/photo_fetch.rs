//! [`SyncClient::fetch_photo`]: a photo or thumbnail on demand, for a supervisor opening
//! a visit. Fetched in `Range` pieces of the chunk size into a temp file in the photo
//! folder (a fetch cut short resumes after what the file holds), verified against its hash
//! before it is used, and recorded in the bounded cache of fetched photos.

use std::io::Write;
use std::path::PathBuf;

use super::SyncClient;
use super::http::classify;
use super::photos::{PhotoSettings, error_body};
use crate::ids::DocId;
use crate::sync::config::backoff;
use crate::sync::report::SyncFailure;

impl SyncClient {
    /// The local file of a photo (`thumbnail: false`) or of its thumbnail, fetched from
    /// the server through `doc` when the phone does not have it, into the bounded cache.
    pub async fn fetch_photo(
        &self,
        doc: &DocId,
        photo_hash: &str,
        thumbnail: bool,
        settings: &PhotoSettings,
    ) -> Result<PathBuf, SyncFailure> {
        let hash = if thumbnail {
            let (doc, photo_hash) = (doc.clone(), photo_hash.to_owned());
            self.blocking(move |s| {
                let photo = s
                    .photos_of(&doc)?
                    .into_iter()
                    .find(|p| p.hash == photo_hash)
                    .ok_or_else(|| {
                        crate::Error::invalid(
                            "photo",
                            format!("document `{doc}` has no photo `{photo_hash}`"),
                        )
                    })?;
                photo.thumb.ok_or_else(|| {
                    crate::Error::invalid("photo", format!("photo `{photo_hash}` has no thumbnail"))
                })
            })
            .await?
        } else {
            photo_hash.to_owned()
        };
        let known = hash.clone();
        if let Some(path) = self.blocking(move |s| s.local_photo(&known)).await? {
            return Ok(path);
        }
        let folder = self.store.photo_folder();
        let tmp = folder
            .temp_path(&format!("fetch-{}", hash.trim_start_matches("sha256:")))
            .map_err(SyncFailure::from)?;
        let url = self.blob_url(&hash, doc.as_str());
        let chunk = settings.chunk_bytes.max(1) as u64;
        let (mut attempt, mut renewed) = (0u32, false);
        for _ in 0..100_000 {
            // A download cut short resumes after what the temp file holds.
            let have = std::fs::metadata(&tmp).map(|m| m.len()).unwrap_or(0);
            let token = self.current_token();
            let sent = self
                .http
                .get(&url)
                .bearer_auth(&token)
                .header(
                    reqwest::header::RANGE,
                    format!("bytes={have}-{}", have + chunk - 1),
                )
                .send()
                .await
                .map_err(classify);
            let outcome = match sent {
                Ok(response) => download_piece(response, &tmp, have).await,
                Err(f) => Err(f),
            };
            // Sent with a token a rotation replaced meanwhile: once more.
            let renew = !renewed
                && matches!(outcome, Err(SyncFailure::Unauthorized(_)))
                && self.token_renewed_since(&token).await;
            match outcome {
                Ok(Some(total)) if have_after(&tmp) >= total => break,
                Ok(_) if have_after(&tmp) > have => attempt = 0,
                // A piece that brought nothing is a failure of the server's, counted as
                // one: otherwise an answer of empty pieces kept the loop going.
                Ok(_) if attempt + 1 < self.config.max_attempts => {
                    attempt += 1;
                    tokio::time::sleep(backoff(&self.config, attempt)).await;
                }
                Ok(_) => {
                    return Err(SyncFailure::ServerUnavailable(format!(
                        "the server's answers to the download of `{hash}` brought no bytes"
                    )));
                }
                _ if renew => renewed = true,
                Err(f) if f.is_transient() && attempt + 1 < self.config.max_attempts => {
                    attempt += 1;
                    tokio::time::sleep(backoff(&self.config, attempt)).await;
                }
                Err(f) => {
                    if !f.is_transient() {
                        let _ = std::fs::remove_file(&tmp);
                    }
                    return Err(f);
                }
            }
        }
        let (doc, budget) = (doc.clone(), settings.cache_bytes);
        self.blocking(move |s| {
            let folder = s.photo_folder();
            let len = folder.adopt(&tmp, &hash)?;
            s.cache_fetched_photo(&hash, thumbnail, len, &doc, budget)?;
            folder.path_of(&hash)
        })
        .await
    }
}

fn have_after(tmp: &std::path::Path) -> u64 {
    std::fs::metadata(tmp).map(|m| m.len()).unwrap_or(0)
}

/// Appends a `206` piece to `tmp` (at `have`); returns the blob's whole length.
async fn download_piece(
    response: reqwest::Response,
    tmp: &std::path::Path,
    have: u64,
) -> Result<Option<u64>, SyncFailure> {
    let status = response.status();
    if !status.is_success() {
        let body = response.bytes().await.map_err(classify)?;
        let error = error_body(status, &body);
        return Err(match status.as_u16() {
            401 => SyncFailure::Unauthorized(error.message),
            408 | 429 | 500..=599 => SyncFailure::ServerUnavailable(error.message),
            _ => SyncFailure::Refused(error.message),
        });
    }
    let total = response
        .headers()
        .get(reqwest::header::CONTENT_RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit('/').next())
        .and_then(|v| v.parse::<u64>().ok());
    let whole = status == reqwest::StatusCode::OK;
    let bytes = response.bytes().await.map_err(classify)?;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(!whole)
        .write(true)
        .truncate(whole)
        .open(tmp)
        .map_err(|e| SyncFailure::Local(e.to_string()))?;
    if !whole && file.metadata().map(|m| m.len()).unwrap_or(0) != have {
        return Err(SyncFailure::Local(
            "the partial download changed underneath".into(),
        ));
    }
    file.write_all(&bytes)
        .map_err(|e| SyncFailure::Local(e.to_string()))?;
    Ok(if whole {
        Some(bytes.len() as u64)
    } else {
        total
    })
}
