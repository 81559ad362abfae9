//! Token rotation through sync (docs/adr/0015-token-expiry-and-rotation.md): a device that
//! keeps syncing never sees its token expire, because a sync whose token is half a
//! lifetime old (or is the one a rotation replaced) answers with a new one in
//! `Fieldsync-Token`, valid for `--token-days` from then. The first sync with the new one
//! retires the one it replaced.

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use fieldsync_core::protocol::{TOKEN_EXPIRES_HEADER, TOKEN_HEADER};

use crate::auth::{hash_secret, new_token};
use crate::storage::SyncStorage;
use crate::storage::tokens::TokenStatus;

const DAY_MS: i64 = 86_400_000;

/// A token given to a device in a sync's answer.
#[derive(Debug)]
pub struct Rotated {
    pub token: String,
    pub expires_at: i64,
}

/// The hash of the bearer token the request presented.
pub fn presented(headers: &HeaderMap) -> Option<Vec<u8>> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| hash_secret(token))
}

/// Where the presented token stands when the sync begins, read before its push: which
/// token is current then is the only one the sync's rotation may replace (a token issued
/// while it ran went to another request of the device's). None when tokens never expire
/// (`token_days` of 0) or the status cannot be read (logged; the sync goes on).
pub fn status_at_start(
    storage: &dyn SyncStorage,
    device_id: &str,
    presented: &[u8],
    token_days: u32,
) -> Option<TokenStatus> {
    if token_days == 0 {
        return None;
    }
    match storage.token_status(device_id, presented) {
        Ok(status) => status,
        Err(e) => {
            tracing::warn!(device = device_id, error = %e, "cannot read the token's age");
            None
        }
    }
}

/// A new token for the device when its presented one is due (`status`, read when the sync
/// began), stored before it is handed out. `token_days` of 0: tokens never expire and are
/// never rotated. A failure to rotate is logged and the sync goes on: the old token still
/// works.
pub fn rotate_if_due(
    storage: &dyn SyncStorage,
    device_id: &str,
    presented: &[u8],
    status: Option<TokenStatus>,
    now: i64,
    token_days: u32,
) -> Option<Rotated> {
    if token_days == 0 {
        return None;
    }
    let status = status?;
    let lifetime = i64::from(token_days) * DAY_MS;
    if !status.previous && now - status.issued_at < lifetime / 2 {
        // The device synced with its current token: it has it, and the one it replaced is
        // of use to no one but whoever copied it (who could otherwise trade it for a token
        // of their own, replacing the device's). One write per rotation.
        if status.has_previous {
            match storage.retire_previous_token(device_id, presented) {
                Ok(true) => tracing::info!(device = device_id, "previous token retired"),
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(device = device_id, error = %e, "cannot retire the previous token");
                }
            }
        }
        return None;
    }
    let token = new_token();
    let expires_at = now + lifetime;
    match storage.rotate_token(
        device_id,
        presented,
        &status.current,
        &hash_secret(&token),
        now,
        expires_at,
    ) {
        Ok(true) => {
            tracing::info!(device = device_id, "token rotated");
            Some(Rotated { token, expires_at })
        }
        // Another sync of the device's replaced the current token after this one began (or
        // retired the presented one): the token drawn here was never stored and must not be
        // handed out.
        Ok(false) => {
            tracing::info!(device = device_id, "token not rotated: another sync did");
            None
        }
        Err(e) => {
            tracing::warn!(device = device_id, error = %e, "cannot rotate the token");
            None
        }
    }
}

/// Puts a new token in a sync's answer (never cached on the way).
pub fn add_to(response: &mut Response, rotated: &Rotated) {
    let headers = response.headers_mut();
    if let Ok(token) = HeaderValue::from_str(&rotated.token) {
        headers.insert(TOKEN_HEADER, token);
        headers.insert(TOKEN_EXPIRES_HEADER, HeaderValue::from(rotated.expires_at));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}
