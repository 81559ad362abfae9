//! Enrollment through the library: the device trades a one-time code for its token at
//! `POST /v1/enroll`, over the same HTTP client and TLS roots as every sync (the bundled
//! Mozilla roots plus a district's private CA), so an app needs no HTTP stack of its own
//! that might trust different roots.

use crate::sync::config::SyncConfig;
use crate::sync::protocol::{EnrollRequest, EnrollResponse, ErrorBody};
use crate::sync::report::SyncFailure;

/// Enrolls this device with `code` (from `fieldsync-server admin enroll-code USER`) under
/// `device_name`. `config` gives the server URL, the timeout and the extra roots; its
/// token is not used. A used, expired or unknown code is `SyncFailure::Unauthorized`.
pub async fn enroll(
    config: &SyncConfig,
    code: &str,
    device_name: &str,
) -> Result<EnrollResponse, SyncFailure> {
    let http = super::connection::http_client(config)?;
    let url = format!("{}/v1/enroll", config.server_url.trim_end_matches('/'));
    let request = EnrollRequest {
        code: code.trim().to_owned(),
        device_name: device_name.to_owned(),
    };
    let body = serde_json::to_vec(&request)
        .map_err(|e| SyncFailure::Local(format!("cannot encode the enrollment: {e}")))?;
    let response = http
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .map_err(super::http::classify)?;
    let status = response.status();
    let bytes = response.bytes().await.map_err(super::http::classify)?;
    if status.is_success() {
        return serde_json::from_slice(&bytes).map_err(|e| {
            SyncFailure::ServerUnavailable(format!("the enrollment answer is garbled: {e}"))
        });
    }
    let message = serde_json::from_slice::<ErrorBody>(&bytes)
        .map(|e| e.message)
        .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).chars().take(200).collect());
    Err(match status.as_u16() {
        401 => SyncFailure::Unauthorized(message),
        408 | 429 | 500..=599 => SyncFailure::ServerUnavailable(format!("{status}: {message}")),
        _ => SyncFailure::Refused(format!("{status}: {message}")),
    })
}
