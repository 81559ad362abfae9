//! Errors as pages: a browser that opens a console address and meets an error (an unknown
//! store, a date to come, a server failure) gets a page in its language that says what was
//! wrong and leads back to the overview; a program (no `text/html` in `Accept`) keeps the
//! `{error, message}` JSON the server's other errors have.

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::html::{esc, page};
use super::i18n::{Lang, t};

/// The most of an error's body read to find its message (errors are a few hundred bytes).
const MOST_BODY_READ: usize = 16 * 1024;

/// Whether the request is a browser's navigation: it accepts HTML.
fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.to_ascii_lowercase().contains("text/html"))
}

/// The page's title for an error status, and the sentence that explains it in the
/// page's language (the server's own message, in English, follows as its detail).
fn title_key(status: StatusCode) -> (&'static str, &'static str) {
    match status {
        StatusCode::NOT_FOUND => ("not_found", "not_found_explain"),
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            ("error_forbidden", "error_forbidden_explain")
        }
        StatusCode::TOO_MANY_REQUESTS => ("error_busy", "error_busy_explain"),
        s if s.is_server_error() => ("error_server", "error_server_explain"),
        _ => ("error_request", "error_request_explain"),
    }
}

/// The message of an error body: the JSON's `message`, or the text as it is (axum's own
/// refusals of a path or query are plain text).
fn message_of(bytes: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()
        .and_then(|v| v.get("message")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(bytes).into_owned())
}

/// Any other address under `/console`: `404`, a page for a browser.
pub async fn no_such_page(uri: axum::http::Uri) -> crate::error::AppError {
    crate::error::AppError::NotFound(format!("the console has no page `{}`", uri.path()))
}

/// Turns an error answer to a browser's request into a page; every other answer passes.
pub async fn errors_as_pages(request: Request, next: Next) -> Response {
    let html = wants_html(request.headers());
    let lang = Lang::of(request.headers());
    let response = next.run(request).await;
    let status = response.status();
    let is_page = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if !html || is_page || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = to_bytes(body, MOST_BODY_READ).await.unwrap_or_default();
    let message = match message_of(&bytes) {
        m if m.trim().is_empty() => status.canonical_reason().unwrap_or_default().to_owned(),
        m => m,
    };
    let (title, explain) = title_key(status);
    let body = format!(
        "<p class=\"error\" id=\"error-explain\">{}</p>\
         <p class=\"note\">{}: <span id=\"error-message\">{}</span></p>\
         <p><a href=\"/console\">{}</a></p>",
        esc(t(lang, explain)),
        esc(t(lang, "error_detail")),
        esc(message.trim()),
        esc(t(lang, "back_to_overview")),
    );
    let rendered = page(lang, t(lang, title), None, &body).into_response();
    // The status and the headers the error carried (Retry-After, the protocol header),
    // with the page's type and length.
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::CONTENT_TYPE);
    let (page_parts, page_body) = rendered.into_parts();
    parts.headers.extend(page_parts.headers);
    Response::from_parts(parts, Body::new(page_body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn an_error_message_is_read_from_json_or_taken_as_text() {
        assert_eq!(
            message_of(br#"{"error":"not_found","message":"no store `x`"}"#),
            "no store `x`"
        );
        assert_eq!(message_of(b"Invalid URL: bad day"), "Invalid URL: bad day");
    }

    #[test]
    fn only_a_request_that_accepts_html_is_a_browsers() {
        let mut headers = HeaderMap::new();
        assert!(!wants_html(&headers), "no Accept: a program");
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        assert!(!wants_html(&headers));
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("TEXT/HTML,application/xhtml+xml;q=0.9"),
        );
        assert!(wants_html(&headers));
    }
}
