//! `GET /v1/blobs/{hash}?doc=ID`: a verified blob, whole or the `Range` asked for,
//! streamed from the store in pieces so that a large photo is never whole in memory.

use std::sync::Arc;

use axum::Extension;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;

use super::access::Access;
use super::routes::{BlobsExt, DocQuery, PIECE, blocking, enabled, hex_in, refusal, refused};
use super::store::Stored;
use crate::AppState;
use crate::admission::Admission;
use crate::auth::Authed;
use crate::error::{AppError, AppResult};

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
pub(crate) fn media_type(first: &[u8]) -> &'static str {
    if first.starts_with(&[0xff, 0xd8, 0xff]) {
        "image/jpeg"
    } else if first.starts_with(b"\x89PNG") {
        "image/png"
    } else {
        "application/octet-stream"
    }
}

/// What a download finds before it streams.
enum Found {
    /// No document of the device's scope by that id references the hash.
    Refused,
    /// Verified, but the document's references to it are not its owner's.
    NotTheUploaders,
    /// Not uploaded whole yet.
    NotYet,
    /// Verified and readable through the document: its length.
    Complete(u64),
}

/// `GET /v1/blobs/{hash}?doc=ID`: a verified blob, whole or the `Range` asked for,
/// streamed from the store in pieces.
pub async fn download(
    State(state): State<AppState>,
    Extension(blobs): BlobsExt,
    Extension(admission): Extension<Arc<Admission>>,
    Authed(device): Authed,
    Path(hash): Path<String>,
    Query(query): Query<DocQuery>,
    headers: HeaderMap,
) -> AppResult<Response> {
    admission.device(&device.device_id)?;
    let blobs = enabled(blobs)?;
    let hex = hex_in(&hash)?;
    let doc = query.doc()?;
    let storage = state.storage.clone();
    let (found, first) = {
        let (blobs, hex, hash, doc) = (blobs.clone(), hex.clone(), hash.clone(), doc.clone());
        blocking(move || {
            let mut access = Access::new(storage.as_ref(), &device);
            if !access.allows(&doc, &hash)? {
                return Ok((Found::Refused, Vec::new()));
            }
            Ok(match blobs.store.stat(&hex)? {
                Stored::Complete(_) if !access.allows_read(&doc, &hash)? => {
                    (Found::NotTheUploaders, Vec::new())
                }
                Stored::Complete(len) => (Found::Complete(len), blobs.store.read(&hex, 0, 8)?),
                _ => (Found::NotYet, Vec::new()),
            })
        })
        .await?
    };
    let len = match found {
        Found::Refused => return Err(refused(&hash, &doc)),
        Found::NotTheUploaders => {
            return Err(AppError::NotFound(format!(
                "`{hash}` was first attached by someone who wrote no reference to it in `{}`: a photo is read only through the documents its owner (who attached it first) referenced it from",
                doc
            )));
        }
        Found::NotYet => {
            return Err(AppError::NotFound(format!(
                "`{hash}` is not on the server yet"
            )));
        }
        Found::Complete(len) => len,
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
