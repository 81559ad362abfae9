//! The HTTP face of the blob routes: `POST /v1/blobs/status`, `PATCH /v1/blobs/{hash}`
//! (a piece of an upload at an offset) and `GET /v1/blobs/{hash}` (with `Range`). Each
//! names the document it goes through in `?doc=`. The work is done on the blocking pool.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use fieldsync_core::photos::hex_of;
use fieldsync_core::protocol::ErrorBody;
use fieldsync_core::protocol::blobs::{
    BlobState, BlobStatus, BlobStatusRequest, BlobStatusResponse, BlobUploaded, LENGTH_HEADER,
    MAX_STATUS_BATCH, OFFSET_HEADER,
};

use super::Blobs;
use super::access::Access;
use super::store::{Finished, Stored};
use crate::AppState;
use crate::auth::Authed;
use crate::error::{AppError, AppResult, QuotaExceeded};
use crate::storage::blob_ledger::BlobRecord;

/// The largest status request body.
const MAX_STATUS_BODY: usize = 256 * 1024;
/// How much of a blob one read of a download takes.
const PIECE: usize = 256 * 1024;
const DAY_MS: i64 = 86_400_000;

type BlobsExt = Extension<Option<Arc<Blobs>>>;

#[derive(Debug, serde::Deserialize)]
pub struct DocQuery {
    doc: String,
}

fn enabled(blobs: Option<Arc<Blobs>>) -> AppResult<Arc<Blobs>> {
    blobs.ok_or_else(|| AppError::NotFound("this server keeps no photos".into()))
}

fn hex_in(hash: &str) -> AppResult<String> {
    hex_of(hash).map(str::to_owned).ok_or_else(|| {
        AppError::BadRequest(format!(
            "`{hash}` is not a `sha256:<64 hex digits>` content hash"
        ))
    })
}

fn refused(hash: &str, doc: &str) -> AppError {
    AppError::NotFound(format!(
        "no document `{doc}` in your scope references `{hash}`"
    ))
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> AppResult<T> + Send + 'static,
) -> AppResult<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(AppError::internal)?
}

/// `POST /v1/blobs/status`: where each blob of a batch stands, for this device.
pub async fn status(
    State(state): State<AppState>,
    Extension(blobs): BlobsExt,
    Authed(device): Authed,
    body: Body,
) -> AppResult<Json<BlobStatusResponse>> {
    let blobs = enabled(blobs)?;
    let body = axum::body::to_bytes(body, MAX_STATUS_BODY)
        .await
        .map_err(|_| {
            AppError::TooLarge(format!(
                "a blob status request over `{MAX_STATUS_BODY}` bytes"
            ))
        })?;
    let request: BlobStatusRequest = serde_json::from_slice(&body)
        .map_err(|e| AppError::BadRequest(format!("blob status request: {e}")))?;
    if request.blobs.len() > MAX_STATUS_BATCH {
        return Err(AppError::TooLarge(format!(
            "{} blobs in one status request; the limit is `{MAX_STATUS_BATCH}`",
            request.blobs.len()
        )));
    }
    let storage = state.storage.clone();
    blocking(move || {
        let mut access = Access::new(storage.as_ref(), &device);
        let mut answer = Vec::with_capacity(request.blobs.len());
        for asked in request.blobs {
            let (state, committed) = match hex_of(&asked.hash) {
                Some(hex) if access.allows(&asked.doc, &asked.hash)? => {
                    match blobs.store.stat(hex)? {
                        Stored::Complete(n) => (BlobState::Complete, n),
                        Stored::Partial(n) => (BlobState::Partial, n),
                        Stored::Missing => (BlobState::Missing, 0),
                    }
                }
                _ => (BlobState::Refused, 0),
            };
            answer.push(BlobStatus {
                hash: asked.hash,
                state,
                committed,
            });
        }
        Ok(Json(BlobStatusResponse { blobs: answer }))
    })
    .await
}

fn header_u64(headers: &HeaderMap, name: &str) -> AppResult<u64> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .ok_or_else(|| AppError::BadRequest(format!("header `{name}` must be a number of bytes")))
}

/// An error response with a limit or a committed offset beside the usual `{error, message}`.
fn refusal(
    status: StatusCode,
    code: &str,
    message: String,
    limit: Option<(&str, u64)>,
) -> Response {
    let body = ErrorBody {
        error: code.to_owned(),
        message,
        limit: limit.map(|(name, _)| name.to_owned()),
        value: limit.map(|(_, value)| value),
        ..ErrorBody::default()
    };
    (status, Json(body)).into_response()
}

fn uploaded(hash: String, committed: u64, complete: bool) -> Response {
    let mut response = Json(BlobUploaded {
        hash,
        committed,
        complete,
    })
    .into_response();
    response
        .headers_mut()
        .insert(OFFSET_HEADER, HeaderValue::from(committed));
    response
}

/// `PATCH /v1/blobs/{hash}?doc=ID`: the bytes from `Upload-Offset` on, of a blob of
/// `Upload-Length` bytes. Answers the committed length; when the blob is whole, verifies
/// it and makes it readable, or refuses it (`422 hash_mismatch`) and keeps nothing.
pub async fn upload(
    State(state): State<AppState>,
    Extension(blobs): BlobsExt,
    Authed(device): Authed,
    Path(hash): Path<String>,
    Query(query): Query<DocQuery>,
    headers: HeaderMap,
    body: Body,
) -> AppResult<Response> {
    let blobs = enabled(blobs)?;
    let hex = hex_in(&hash)?;
    let offset = header_u64(&headers, OFFSET_HEADER)?;
    let length = header_u64(&headers, LENGTH_HEADER)?;
    let limits = blobs.limits.clone();
    if length > limits.max_photo_bytes {
        return Ok(refusal(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!(
                "`{hash}` has `{length}` bytes; the limit `max_photo_bytes` is `{}`",
                limits.max_photo_bytes
            ),
            Some(("max_photo_bytes", limits.max_photo_bytes)),
        ));
    }
    // Access before the body: a refused upload costs no bandwidth beyond its headers.
    let storage = state.storage.clone();
    let allowed = {
        let (storage, device, hash, doc) = (
            storage.clone(),
            device.clone(),
            hash.clone(),
            query.doc.clone(),
        );
        blocking(move || Access::new(storage.as_ref(), &device).allows(&doc, &hash)).await?
    };
    if !allowed {
        return Err(refused(&hash, &query.doc));
    }
    let bytes: Bytes = match axum::body::to_bytes(body, limits.max_chunk_bytes).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return Ok(refusal(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!(
                    "an upload body over the limit `max_chunk_bytes` of `{}` (or cut off)",
                    limits.max_chunk_bytes
                ),
                Some(("max_chunk_bytes", limits.max_chunk_bytes as u64)),
            ));
        }
    };
    if offset.saturating_add(bytes.len() as u64) > length {
        return Err(AppError::BadRequest(format!(
            "`{}` bytes at offset `{offset}` pass the length `{length}`",
            bytes.len()
        )));
    }
    blocking(move || {
        let lock = blobs.lock_of(&hex);
        let _held = lock.lock().map_err(|_| AppError::internal("upload lock poisoned"))?;
        let committed = match blobs.store.stat(&hex)? {
            Stored::Complete(n) => return Ok(uploaded(hash, n, true)),
            Stored::Partial(n) => n,
            Stored::Missing => 0,
        };
        if committed != offset {
            let mut response = refusal(
                StatusCode::CONFLICT,
                "offset_mismatch",
                format!("the server holds `{committed}` bytes of `{hash}`: resume there"),
                None,
            );
            response
                .headers_mut()
                .insert(OFFSET_HEADER, HeaderValue::from(committed));
            return Ok(response);
        }
        let now = fieldsync_core::Timestamp::now().0;
        if !bytes.is_empty() {
            let day = now.div_euclid(DAY_MS);
            let limit = i64::try_from(limits.blob_bytes_per_day).unwrap_or(i64::MAX);
            if let Err(before) =
                storage.add_blob_bytes(&device.device_id, day, bytes.len() as i64, limit)?
            {
                let retry_after = u64::try_from((day + 1) * DAY_MS - now).unwrap_or(0) / 1000 + 1;
                return Err(AppError::Quota(QuotaExceeded {
                    limit: "blob_bytes_per_day",
                    value: limits.blob_bytes_per_day,
                    message: format!(
                        "the device uploaded `{before}` bytes of photos today; `{}` more would pass `blob_bytes_per_day` (`{}`)",
                        bytes.len(),
                        limits.blob_bytes_per_day
                    ),
                    retry_after: Some(retry_after),
                    rejected: Vec::new(),
                }));
            }
        }
        let committed = blobs.store.append(&hex, offset, &bytes)?;
        if committed < length {
            return Ok(uploaded(hash, committed, false));
        }
        match blobs.store.finish(&hex)? {
            Finished::Verified => {
                storage.record_blob(&BlobRecord {
                    hash: hash.clone(),
                    bytes: committed as i64,
                    uploaded_by: device.device_id.clone(),
                    stored_at: now,
                })?;
                Ok(uploaded(hash, committed, true))
            }
            Finished::Mismatch { actual } => Ok(refusal(
                StatusCode::UNPROCESSABLE_ENTITY,
                "hash_mismatch",
                format!("the bytes sent hash to `sha256:{actual}`, not `{hash}`: nothing was kept"),
                None,
            )),
        }
    })
    .await
}

/// `bytes=a-b`, `bytes=a-` or `bytes=-n` of a blob of `len` bytes, as `start..end`.
fn parse_range(value: &str, len: u64) -> Option<(u64, u64)> {
    let spec = value.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().ok()?;
            (len.saturating_sub(n), len)
        }
        (a, "") => (a.parse().ok()?, len),
        (a, b) => (
            a.parse().ok()?,
            b.parse::<u64>().ok()?.saturating_add(1).min(len),
        ),
    };
    (start < end && end <= len).then_some((start, end))
}

/// The media type a blob's first bytes show (JPEG, PNG); images are not compressed again.
fn media_type(first: &[u8]) -> &'static str {
    if first.starts_with(&[0xff, 0xd8, 0xff]) {
        "image/jpeg"
    } else if first.starts_with(b"\x89PNG") {
        "image/png"
    } else {
        "application/octet-stream"
    }
}

/// `GET /v1/blobs/{hash}?doc=ID`: a verified blob, whole or the `Range` asked for,
/// streamed from the store in pieces.
pub async fn download(
    State(state): State<AppState>,
    Extension(blobs): BlobsExt,
    Authed(device): Authed,
    Path(hash): Path<String>,
    Query(query): Query<DocQuery>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let blobs = enabled(blobs)?;
    let hex = hex_in(&hash)?;
    let storage = state.storage.clone();
    let (found, first) = {
        let (blobs, hex, hash, doc) = (blobs.clone(), hex.clone(), hash.clone(), query.doc.clone());
        blocking(move || {
            if !Access::new(storage.as_ref(), &device).allows(&doc, &hash)? {
                return Ok((None, Vec::new()));
            }
            Ok(match blobs.store.stat(&hex)? {
                Stored::Complete(len) => (Some(len), blobs.store.read(&hex, 0, 8)?),
                _ => (Some(u64::MAX), Vec::new()),
            })
        })
        .await?
    };
    let len = match found {
        None => return Err(refused(&hash, &query.doc)),
        Some(u64::MAX) => {
            return Err(AppError::NotFound(format!(
                "`{hash}` is not on the server yet"
            )));
        }
        Some(len) => len,
    };
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let (start, end, status) = match range {
        None => (0, len, StatusCode::OK),
        Some(value) => match parse_range(value, len) {
            Some((start, end)) => (start, end, StatusCode::PARTIAL_CONTENT),
            None => {
                let mut response = refusal(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    "bad_range",
                    format!("range `{value}` is not within the `{len}` bytes of `{hash}`"),
                    None,
                );
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                    response.headers_mut().insert(header::CONTENT_RANGE, v);
                }
                return Ok(response);
            }
        },
    };
    let stream = futures_util::stream::unfold(start, move |at| {
        let (blobs, hex) = (blobs.clone(), hex.clone());
        async move {
            if at >= end {
                return None;
            }
            let want = usize::try_from((end - at).min(PIECE as u64)).unwrap_or(PIECE);
            let piece = tokio::task::spawn_blocking(move || blobs.store.read(&hex, at, want))
                .await
                .map_err(|e| std::io::Error::other(e.to_string()))
                .and_then(|r| r.map_err(|e| std::io::Error::other(e.to_string())));
            match piece {
                Ok(bytes) if !bytes.is_empty() => {
                    let next = at + bytes.len() as u64;
                    Some((Ok::<Bytes, std::io::Error>(Bytes::from(bytes)), next))
                }
                Ok(_) => Some((Err(std::io::Error::other("the blob ended early")), end)),
                Err(e) => Some((Err(e), end)),
            }
        }
    });
    let mut response = Response::new(Body::from_stream(stream));
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(media_type(&first)),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=31536000, immutable"),
    );
    if status == StatusCode::PARTIAL_CONTENT
        && let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{}/{len}", end - 1))
    {
        h.insert(header::CONTENT_RANGE, v);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_read_as_http_says_and_impossible_ones_refused() {
        assert_eq!(parse_range("bytes=0-99", 1000), Some((0, 100)));
        assert_eq!(parse_range("bytes=900-", 1000), Some((900, 1000)));
        assert_eq!(parse_range("bytes=-100", 1000), Some((900, 1000)));
        assert_eq!(parse_range("bytes=990-2000", 1000), Some((990, 1000)));
        assert_eq!(parse_range("bytes=1000-", 1000), None);
        assert_eq!(parse_range("bytes=5-1", 1000), None);
        assert_eq!(parse_range("bytes=0-1,5-6", 1000), None);
        assert_eq!(parse_range("items=0-1", 1000), None);
    }
}
