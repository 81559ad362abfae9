//! The content type a route's body must be sent as: `/v1/sync` and `/v1/fetch` take
//! `application/cbor`, `/v1/enroll` `application/json`; anything else is a `400` naming
//! the one to send.

use axum::http::{HeaderMap, header};

use crate::error::{AppError, AppResult};

/// The body's content type is `expected` (any case; parameters after `;` aside), or a
/// `400` naming the one to send.
pub(crate) fn check(headers: &HeaderMap, expected: &str) -> AppResult<()> {
    let ok = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case(expected))
        });
    if ok {
        Ok(())
    } else {
        Err(AppError::BadRequest(format!(
            "send the body as `Content-Type: {expected}`"
        )))
    }
}
