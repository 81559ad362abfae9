//! The HTTP face of the blob routes: `POST /v1/blobs/status` and `PATCH /v1/blobs/{hash}`
//! (a piece of an upload at an offset); `GET` with `Range` is `download.rs`. Each names
//! the document it goes through in `?doc=`. The work is done on the blocking pool.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use fieldsync_core::DocId;
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
use crate::admission::Admission;
use crate::auth::Authed;
use crate::error::{AppError, AppResult, QuotaExceeded};
use crate::storage::blob_ledger::BlobRecord;

/// The largest status request body.
const MAX_STATUS_BODY: usize = 256 * 1024;
/// How much of a blob one read of a download takes.
pub(super) const PIECE: usize = 256 * 1024;
const DAY_MS: i64 = 86_400_000;

pub(super) type BlobsExt = Extension<Option<Arc<Blobs>>>;

#[derive(Debug, serde::Deserialize)]
pub struct DocQuery {
    doc: Option<String>,
}

impl DocQuery {
    /// The document the blob is asked through: required, in canonical form (as every id a
    /// client sends).
    pub(super) fn doc(&self) -> AppResult<String> {
        let doc = self.doc.as_deref().ok_or_else(|| {
            AppError::BadRequest(
                "`doc` is required in the query: the document the photo is attached to (`?doc=<id>`)"
                    .into(),
            )
        })?;
        Ok(DocId::parse_exact("doc", doc)?.to_string())
    }
}

pub(super) fn enabled(blobs: Option<Arc<Blobs>>) -> AppResult<Arc<Blobs>> {
    blobs.ok_or_else(|| AppError::NotFound("this server keeps no photos".into()))
}

pub(super) fn hex_in(hash: &str) -> AppResult<String> {
    hex_of(hash).map(str::to_owned).ok_or_else(|| {
        AppError::BadRequest(format!(
            "`{hash}` is not a `sha256:<64 hex digits>` content hash"
        ))
    })
}

pub(super) fn refused(hash: &str, doc: &str) -> AppError {
    AppError::NotFound(format!(
        "no document `{doc}` in your scope references `{hash}`"
    ))
}

pub(super) async fn blocking<T: Send + 'static>(
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
    Extension(admission): Extension<Arc<Admission>>,
    Authed(device): Authed,
    body: Body,
) -> AppResult<Json<BlobStatusResponse>> {
    // A share of the device's request rate, as every route of the protocol takes.
    admission.device(&device.device_id)?;
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
    // A hash or an id no client of this protocol writes is its bug, named; the answer
    // `refused` is for blobs the device may not have.
    for (i, asked) in request.blobs.iter().enumerate() {
        if hex_of(&asked.hash).is_none() {
            return Err(AppError::BadRequest(format!(
                "`blobs[{i}].hash`: `{}` is not a `sha256:<64 hex digits>` content hash",
                asked.hash
            )));
        }
        DocId::parse_exact(&format!("blobs[{i}].doc"), &asked.doc)?;
    }
    let storage = state.storage.clone();
    blocking(move || {
        let mut access = Access::new(storage.as_ref(), &device);
        let mut answer = Vec::with_capacity(request.blobs.len());
        for asked in request.blobs {
            // Whether a blob is complete is told to anyone whose document references it
            // (a phone holding the same bytes need not send them); where an upload stands
            // only to those who may upload it.
            let (state, committed) = match hex_of(&asked.hash) {
                Some(hex) if access.allows(&asked.doc, &asked.hash)? => {
                    match blobs.store.stat(hex)? {
                        Stored::Complete(n) => (BlobState::Complete, n),
                        _ if !access.allows_upload(&asked.doc, &asked.hash)? => {
                            (BlobState::Refused, 0)
                        }
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
pub(super) fn refusal(
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

/// `409 offset_mismatch`: the server holds `committed` bytes of `hash`, resume there.
fn resume_at(hash: &str, committed: u64) -> Response {
    let mut response = refusal(
        StatusCode::CONFLICT,
        "offset_mismatch",
        format!("the server holds `{committed}` bytes of `{hash}`: resume there"),
        None,
    );
    response
        .headers_mut()
        .insert(OFFSET_HEADER, HeaderValue::from(committed));
    response
}

/// The answer once the store says the upload changed under this request: done, when
/// another instance finished it; else where to resume (0 once it was collected).
fn where_it_stands(blobs: &Blobs, hash: String, hex: &str) -> AppResult<Response> {
    Ok(match blobs.store.stat(hex)? {
        Stored::Complete(n) => uploaded(hash, n, true),
        Stored::Partial(n) => resume_at(&hash, n),
        Stored::Missing => resume_at(&hash, 0),
    })
}

/// `PATCH /v1/blobs/{hash}?doc=ID`: the bytes from `Upload-Offset` on, of a blob of
/// `Upload-Length` bytes. Answers the committed length; when the blob is whole, verifies
/// it and makes it readable, or refuses it (`422 hash_mismatch`) and keeps nothing.
// An axum handler takes one argument per extractor.
#[allow(clippy::too_many_arguments)]
pub async fn upload(
    State(state): State<AppState>,
    Extension(blobs): BlobsExt,
    Extension(admission): Extension<Arc<Admission>>,
    Authed(device): Authed,
    Path(hash): Path<String>,
    Query(query): Query<DocQuery>,
    headers: HeaderMap,
    body: Body,
) -> AppResult<Response> {
    admission.device(&device.device_id)?;
    let blobs = enabled(blobs)?;
    let hex = hex_in(&hash)?;
    let doc = query.doc()?;
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
    let not_allowed = {
        let (storage, device, hash, doc) =
            (storage.clone(), device.clone(), hash.clone(), doc.clone());
        blocking(move || {
            let mut access = Access::new(storage.as_ref(), &device);
            Ok(if !access.allows(&doc, &hash)? {
                Some(refused(&hash, &doc))
            } else if !access.allows_upload(&doc, &hash)? {
                Some(AppError::NotFound(format!(
                    "`{hash}` was not first attached by you in `{doc}`: only the user who attached a photo first uploads its bytes, through a document where they referenced it"
                )))
            } else {
                None
            })
        })
        .await?
    };
    if let Some(not_allowed) = not_allowed {
        return Err(not_allowed);
    }
    // The piece's bytes are held against the server's budget of bodies in flight until
    // the answer, as a sync's are.
    let (bytes, _held): (Bytes, _) = match admission.read_body(body, limits.max_chunk_bytes).await {
        Ok(read) => read,
        Err(busy @ AppError::Busy { .. }) => return Err(busy),
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
            return Ok(resume_at(&hash, committed));
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
        let appended = blobs.store.append(&hex, offset, &bytes);
        if matches!(appended, Err(AppError::Conflict(_))) && !bytes.is_empty() {
            // Another instance stored a piece there first: nothing of this one was kept, and
            // it costs nothing of the day's budget. (Another failure may have kept part of
            // it, which then counts.) A refund that fails leaves the piece counted.
            let day = now.div_euclid(DAY_MS);
            let refund = -(bytes.len() as i64);
            if let Err(e) = storage.add_blob_bytes(&device.device_id, day, refund, i64::MAX) {
                tracing::warn!(error = %e, "cannot refund a piece another instance beat");
            }
        }

        let committed = match appended {
            // Another instance moved the upload on, or `blob-gc` collected it, since `stat`.
            Err(AppError::Conflict(_)) => return where_it_stands(&blobs, hash, &hex),
            other => other?,
        };
        if committed < length {
            return Ok(uploaded(hash, committed, false));
        }
        match blobs.store.finish(&hex, length)? {
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
            Finished::Changed => where_it_stands(&blobs, hash, &hex),
        }
    })
    .await
}
