//! A refusal of a request that carried a body ends its HTTP/1 connection, and says so.
//!
//! The server refuses many requests before reading their bodies (a token it does not
//! know, a content type it does not take, a device over its rate, a body over a limit):
//! the unread body is still on the connection, so hyper closes it once the answer is sent,
//! but says so in the answer only when it had not already read the whole body into its
//! buffer (a race with the client's writes). Without `Connection: close` a client that
//! reuses its connection (as keep-alive invites) sends its next request into a closed
//! socket and sees a broken connection instead of the status it should act on (a `401` to
//! retry once after a rotation, a `429`'s `Retry-After`). Every 4xx and 5xx answer to a
//! request with a body therefore carries `Connection: close` on HTTP/1.x: a refusal's
//! next request opens a new connection. HTTP/2 has no such header (its streams end on
//! their own).

use axum::extract::Request;
use axum::http::{HeaderValue, Version, header};
use axum::middleware::Next;
use axum::response::Response;

/// Whether `request` carries a body: sent in chunks, or a length that is not zero (one
/// that does not read as a number counts as a body).
fn has_body(request: &Request) -> bool {
    let headers = request.headers();
    if headers.contains_key(header::TRANSFER_ENCODING) {
        return true;
    }
    headers.get(header::CONTENT_LENGTH).is_some_and(|v| {
        v.to_str()
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .is_none_or(|n| n > 0)
    })
}

/// Adds `Connection: close` to an error answer to an HTTP/1 request that carried a body.
pub(crate) async fn close_after_refusal(request: Request, next: Next) -> Response {
    let http1 = matches!(request.version(), Version::HTTP_10 | Version::HTTP_11);
    let body = has_body(&request);
    let mut response = next.run(request).await;
    let status = response.status();
    if http1 && body && (status.is_client_error() || status.is_server_error()) {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}
