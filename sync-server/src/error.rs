//! The server's error type and its HTTP form: 4xx carry `{error, message}` JSON (plus the
//! rejected documents for a write rule, and the limit for a quota); 5xx log the cause and
//! say "internal error".

use axum::Json;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use fieldsync_core::protocol::{ErrorBody, PROTOCOL_HEADER, PROTOCOL_VERSION, Rejection};

use crate::text::{escape_controls, field_path, shorten_quotes};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{} document(s) broke a write rule", .0.len())]
    Rejected(Vec<Rejection>),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooLarge(String),
    /// A push over one of the quotas of `storage::quota`.
    #[error("{}", .0.message)]
    Quota(QuotaExceeded),
    /// A request in a protocol version this server does not speak: `400
    /// unsupported_protocol` with the version it speaks in `Fieldsync-Protocol`.
    #[error("protocol `{0}` is not spoken here; this server speaks `{PROTOCOL_VERSION}`")]
    UnsupportedProtocol(u32),
    /// The server or the device's pace is at a limit: `429` with `Retry-After`.
    #[error("{message}")]
    Busy {
        code: &'static str,
        message: String,
        retry_after: u64,
    },
    #[error("internal: {0}")]
    Internal(String),
}

pub type AppResult<T> = Result<T, AppError>;

/// A quota a push would exceed: the limit by name and value, and when to try again.
#[derive(Debug)]
pub struct QuotaExceeded {
    /// The limit's name, as configured (`max_document_bytes`, `device_bytes_per_day`).
    pub limit: &'static str,
    pub value: u64,
    pub message: String,
    /// Seconds until the limit lets the push through (a daily budget), sent as `Retry-After`.
    pub retry_after: Option<u64>,
    /// Documents refused, for a per-document limit (with any that broke a write rule).
    pub rejected: Vec<Rejection>,
}

impl AppError {
    pub fn internal(e: impl std::fmt::Display) -> Self {
        AppError::Internal(e.to_string())
    }

    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            AppError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            AppError::UnsupportedProtocol(_) => (StatusCode::BAD_REQUEST, "unsupported_protocol"),
            AppError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            AppError::Rejected(_) => (StatusCode::FORBIDDEN, "write_rule"),
            AppError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            AppError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            AppError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            // A document over its limit is refused as a write rule refuses it, so that a
            // client sets that document aside and syncs the others; a daily budget is a
            // "try again later".
            AppError::Quota(q) if !q.rejected.is_empty() => (StatusCode::FORBIDDEN, "write_rule"),
            AppError::Quota(_) => (StatusCode::TOO_MANY_REQUESTS, "quota"),
            AppError::Busy { code, .. } => (StatusCode::TOO_MANY_REQUESTS, code),
            AppError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl From<fieldsync_core::Error> for AppError {
    fn from(e: fieldsync_core::Error) -> Self {
        match e {
            fieldsync_core::Error::InvalidField { .. } => AppError::BadRequest(e.to_string()),
            // A document an older server accepted and no reader can read: named, not a bug
            // of this server.
            fieldsync_core::Error::Damaged { .. } => AppError::Conflict(e.to_string()),
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<rusqlite::Error> for AppError {
    fn from(e: rusqlite::Error) -> Self {
        AppError::Internal(format!("sqlite: {e}"))
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code) = self.parts();
        if let AppError::Quota(q) = self {
            return quota_response(status, code, q);
        }
        if let AppError::Busy {
            message,
            retry_after,
            ..
        } = self
        {
            let body = ErrorBody {
                error: code.to_owned(),
                message: shorten_quotes(&message),
                retry_after: Some(retry_after),
                ..ErrorBody::default()
            };
            let mut response = (status, Json(body)).into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            return response;
        }
        let (message, rejected) = match self {
            AppError::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                ("internal error".to_owned(), Vec::new())
            }
            AppError::Rejected(rejected) => {
                let first = rejected
                    .first()
                    .map(|r| format!("`{}` broke `{}`: {}", r.doc, r.rule, r.message));
                (
                    first.unwrap_or_else(|| "a write rule refused the push".into()),
                    rejected,
                )
            }
            other => (other.to_string(), Vec::new()),
        };
        let mut response = (
            status,
            Json(ErrorBody {
                error: code.to_owned(),
                message: shorten_quotes(&message),
                rejected: rejected.into_iter().map(shorten_rejection).collect(),
                ..ErrorBody::default()
            }),
        )
            .into_response();
        // Every answer about the protocol names the version this server speaks.
        if code == "unsupported_protocol" {
            response
                .headers_mut()
                .insert(PROTOCOL_HEADER, HeaderValue::from(PROTOCOL_VERSION));
        }
        response
    }
}

/// A rejection as sent: its field and message quote at most a prefix of any input.
/// The field path is kept whole up to `FIELD_CHARS`, where the message begins with it too.
fn shorten_rejection(r: Rejection) -> Rejection {
    let quoted = format!("`{}`", r.field);
    let message = match r.message.strip_prefix(&quoted) {
        Some(rest) if !r.field.is_empty() => {
            format!(
                "`{}`{}",
                escape_controls(&field_path(&r.field)),
                shorten_quotes(rest)
            )
        }
        _ => shorten_quotes(&r.message),
    };
    Rejection {
        field: field_path(&r.field),
        message,
        ..r
    }
}

fn quota_response(status: StatusCode, code: &str, q: QuotaExceeded) -> Response {
    let retry_after = q.retry_after;
    let body = ErrorBody {
        error: code.to_owned(),
        message: shorten_quotes(&q.message),
        rejected: q.rejected.into_iter().map(shorten_rejection).collect(),
        limit: Some(q.limit.to_owned()),
        value: Some(q.value),
        retry_after,
    };
    let mut response = (status, Json(body)).into_response();
    if let Some(secs) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// Gives a JSON `{error, message}` body to the error responses that the router and its
/// layers make without one: no such route, a method a route does not take, a
/// `Content-Encoding` the server does not decode. Clients parse every error the same way.
pub(crate) async fn json_errors(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let encoding = request
        .headers()
        .get(header::CONTENT_ENCODING)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| {
            // The console's pages explain themselves in HTML.
            v.as_bytes().starts_with(b"application/json") || v.as_bytes().starts_with(b"text/html")
        });
    if is_json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (code, message) = match status {
        StatusCode::NOT_FOUND => ("not_found", format!("there is no `{path}` here")),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            format!("`{path}` does not take `{method}`"),
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_encoding",
            format!(
                "`Content-Encoding: {}` is not supported: send `gzip`, `zstd` or no encoding",
                encoding.unwrap_or_default()
            ),
        ),
        StatusCode::REQUEST_TIMEOUT => (
            "timeout",
            "the request was not finished in the time the server allows: try again".to_owned(),
        ),
        s if s.is_server_error() => ("internal", "internal error".to_owned()),
        s => (
            "bad_request",
            format!(
                "the request was refused: {}",
                s.canonical_reason().unwrap_or("bad request").to_lowercase()
            ),
        ),
    };
    let body = ErrorBody {
        error: code.to_owned(),
        message: shorten_quotes(&message),
        rejected: Vec::new(),
        ..ErrorBody::default()
    };
    let (mut parts, _) = response.into_parts();
    // Keep what the layer said (`Allow`, `Accept-Encoding`), but not the old body's framing.
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::CONTENT_ENCODING);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let json = serde_json::to_vec(&body).unwrap_or_default();
    Response::from_parts(parts, Body::from(json))
}
