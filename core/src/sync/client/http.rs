//! The one HTTP exchange of a sync: a request body (gzip-compressed when that pays) posted
//! to `/v1/sync`, and the answer sorted into what the client does next. This layer only
//! moves bytes; what they mean is the protocol's (`crate::sync::protocol`).

use super::SyncClient;
use crate::sync::protocol::{self, ErrorBody, SyncResponse};
use crate::sync::report::{SyncFailure, SyncReport};

impl SyncClient {
    pub(super) async fn round_trip(
        &self,
        body: Body,
        report: &mut SyncReport,
    ) -> Result<Outcome, SyncFailure> {
        let url = format!("{}/v1/sync", self.config.server_url.trim_end_matches('/'));
        let mut request = self
            .http
            .post(url)
            .bearer_auth(self.current_token())
            .header(reqwest::header::CONTENT_TYPE, protocol::CONTENT_TYPE);
        if body.compressed {
            request = request.header(reqwest::header::CONTENT_ENCODING, "gzip");
        }
        let response = request.body(body.bytes).send().await.map_err(classify)?;
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let new_token = response
            .headers()
            .get(protocol::TOKEN_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .filter(|t| !t.trim().is_empty());
        let server_protocol = response
            .headers()
            .get(protocol::PROTOCOL_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u32>().ok());
        let bytes = response.bytes().await.map_err(classify)?;
        report.bytes_received += bytes.len() as u64;
        if status.is_success() {
            if let Some(token) = new_token {
                self.take_token(token).await;
                report.token_rotated = true;
            }
            let decoded: SyncResponse = protocol::decode("sync response", &bytes).map_err(|e| {
                SyncFailure::ServerUnavailable(format!(
                    "the response was cut short or garbled: {e}"
                ))
            })?;
            return Ok(Outcome::Stored(decoded));
        }
        let error: ErrorBody = serde_json::from_slice(&bytes).unwrap_or_else(|_| ErrorBody {
            error: status.as_str().to_owned(),
            message: String::from_utf8_lossy(&bytes).chars().take(200).collect(),
            rejected: Vec::new(),
            ..ErrorBody::default()
        });
        if error.error == "unsupported_protocol" {
            return Err(protocol_refusal(server_protocol, error.message));
        }
        match status.as_u16() {
            401 => Err(SyncFailure::Unauthorized(error.message)),
            403 if error.error == "write_rule" && !error.rejected.is_empty() => {
                Ok(Outcome::Rejected(error.rejected))
            }
            409 => Ok(Outcome::CursorAhead),
            413 => Ok(Outcome::TooLarge(error.message)),
            429 | 503 if retry_after.is_some() => Ok(Outcome::RetryAfter(
                retry_after.unwrap_or_default(),
                format!("{status}: {}", error.message),
            )),
            408 | 429 | 500..=599 => Err(SyncFailure::ServerUnavailable(format!(
                "{status}: {}",
                error.message
            ))),
            _ => Err(SyncFailure::Refused(format!("{status}: {}", error.message))),
        }
    }
}

impl SyncClient {
    /// Whether a newer token than `sent` is at hand, taken by this client or kept in the
    /// store by another client of the same store (then used from now on): a `401` to a
    /// request sent with `sent` may be the server retiring it just after a rotation
    /// (docs/protocol.md, "Token rotation", rule 5), not a refusal of the device. Such a
    /// request is sent once more, with the current token.
    pub(super) async fn token_renewed_since(&self, sent: &str) -> bool {
        if self.current_token() != sent {
            return true;
        }
        let original = self.config.token.clone();
        let Ok(Some(stored)) = self.blocking(move |s| s.rotated_token(&original)).await else {
            return false;
        };
        if stored == sent || stored.trim().is_empty() {
            return false;
        }
        self.use_token(stored);
        true
    }

    pub(super) fn current_token(&self) -> String {
        self.token
            .lock()
            .map(|t| t.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// One pull with the token this sync took, its answer unused (the stored cursor does
    /// not move), so that the server retires the token it replaced now rather than at the
    /// next sync: until then, a copy of the replaced token (taken off the phone, or from a
    /// backup) could trade itself for a token of its own and lock the phone out
    /// (docs/protocol.md, "Token rotation"). One small round trip per rotation; a failure
    /// changes nothing (the next sync retires it).
    pub(super) async fn confirm_token(&self, report: &mut SyncReport) {
        let Ok(cursor) = self.blocking(|s| s.sync_cursor()).await else {
            return;
        };
        let Ok(working_set) = self.working_set().await else {
            return;
        };
        let request = protocol::SyncRequest {
            protocol: protocol::PROTOCOL_VERSION,
            cursor,
            push: Vec::new(),
            max_response_bytes: Some(1),
            device: None,
            working_set,
            index_version: None,
        };
        let body = compress(protocol::encode(&request));
        report.round_trips += 1;
        report.bytes_sent += body.bytes.len() as u64;
        // A failure leaves the new token's first use to the next sync.
        let _ = self.round_trip(body, report).await;
    }

    /// Keeps `token` in the store for the next opening and uses it from now on. If it
    /// cannot be kept, it is not used either: the server retires the old token at the first
    /// sync with the new one, and the app, reopened, would send the old one. The old token
    /// still works until its own expiry (and the server rotates again), so the sync goes on.
    async fn take_token(&self, token: String) {
        let original = self.config.token.clone();
        let keep = token.clone();
        let kept = self
            .blocking(move |s| s.store_rotated_token(&original, &keep))
            .await;
        if kept.is_err() {
            return;
        }
        self.use_token(token);
    }

    fn use_token(&self, token: String) {
        match self.token.lock() {
            Ok(mut t) => *t = token,
            Err(p) => *p.into_inner() = token,
        }
    }
}

/// A request body, gzip-compressed when that makes it smaller.
#[derive(Clone)]
pub(super) struct Body {
    pub(super) bytes: Vec<u8>,
    compressed: bool,
}

/// Small bodies go as they are; larger ones are gzip-compressed (pure Rust, so nothing to
/// cross-compile), which the server accepts as `Content-Encoding: gzip`.
pub(super) fn compress(plain: Vec<u8>) -> Body {
    use std::io::Write;
    if plain.len() < 1024 {
        return Body {
            bytes: plain,
            compressed: false,
        };
    }
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(plain.len() / 2),
        flate2::Compression::fast(),
    );
    match encoder.write_all(&plain).and_then(|()| encoder.finish()) {
        Ok(zipped) if zipped.len() < plain.len() => Body {
            bytes: zipped,
            compressed: true,
        },
        _ => Body {
            bytes: plain,
            compressed: false,
        },
    }
}

pub(super) enum Outcome {
    Stored(SyncResponse),
    Rejected(Vec<protocol::Rejection>),
    CursorAhead,
    TooLarge(String),
    /// The server is busy or the device at a limit, and says when to come back
    /// (`Retry-After`, in seconds).
    RetryAfter(std::time::Duration, String),
}

/// A server that does not speak this client's protocol: a newer server (or one that does
/// not say) means this app must be updated; an older one is the server's to upgrade.
fn protocol_refusal(server: Option<u32>, message: String) -> SyncFailure {
    match server {
        Some(v) if v < protocol::PROTOCOL_VERSION => SyncFailure::Refused(format!(
            "the server speaks protocol `{v}`, older than this app's `{}`: {message}",
            protocol::PROTOCOL_VERSION
        )),
        _ => SyncFailure::UpdateRequired(message),
    }
}

/// The `Retry-After` header in seconds (the HTTP-date form is not sent by the server).
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<std::time::Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(std::time::Duration::from_secs)
}

pub(super) fn classify(e: reqwest::Error) -> SyncFailure {
    if e.is_connect() {
        SyncFailure::Offline(e.to_string())
    } else {
        // Timeouts, resets and bodies cut short: the server may or may not have stored the
        // push; retrying is safe because pushes are idempotent.
        SyncFailure::ServerUnavailable(e.to_string())
    }
}
