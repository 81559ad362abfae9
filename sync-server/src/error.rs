//! The server's error type and its HTTP form: 4xx carry `{error, message}` JSON (plus the
//! rejected documents for a write rule); 5xx log the cause and say "internal error".

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use fieldsync_core::protocol::{ErrorBody, Rejection};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{} document(s) broke a write rule", .0.len())]
    Rejected(Vec<Rejection>),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("internal: {0}")]
    Internal(String),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn internal(e: impl std::fmt::Display) -> Self {
        AppError::Internal(e.to_string())
    }

    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            AppError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            AppError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            AppError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            AppError::Rejected(_) => (StatusCode::FORBIDDEN, "write_rule"),
            AppError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            AppError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            AppError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            AppError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl From<fieldsync_core::Error> for AppError {
    fn from(e: fieldsync_core::Error) -> Self {
        match e {
            fieldsync_core::Error::InvalidField { .. } => AppError::BadRequest(e.to_string()),
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
        (
            status,
            Json(ErrorBody {
                error: code.to_owned(),
                message,
                rejected,
            }),
        )
            .into_response()
    }
}
