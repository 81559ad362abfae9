//! The working set at the HTTP layer (docs/protocol.md, "The working set"): the check of
//! what a sync request asks to hold, and `POST /v1/fetch`, the on-demand fetch of
//! documents outside it. The rules live in the storage (`storage::feed`,
//! `storage::fetch`).

use std::sync::Arc;
use std::time::Instant;

use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use fieldsync_core::protocol::{
    self, FetchRequest, MAX_WORKING_WEEKS, PROTOCOL_VERSION, WorkingSet,
};

use crate::AppState;
use crate::admission::Admission;
use crate::auth::Authed;
use crate::error::{AppError, AppResult};
use crate::storage::fetch::FetchAsk;

/// Refuses a working set the server cannot honour, naming the field. A `since` later than
/// the server's clock `now` (ms) beyond the drift allowed between instances is no
/// `working_since` this server handed out as it stands (only an instance whose clock once
/// ran more than a week ahead could have): taken as it is, it would hide the visits and
/// counts before it from the device for good. It is answered `409 conflict`, as a cursor
/// ahead of the server is, which makes the device forget its cursor and working set and
/// sync from the start, its own edits sent again (pushes are idempotent).
pub fn checked_working_set(working: Option<WorkingSet>, now: i64) -> AppResult<Option<WorkingSet>> {
    let Some(working) = working else {
        return Ok(None);
    };
    if !(1..=MAX_WORKING_WEEKS).contains(&working.weeks) {
        return Err(AppError::BadRequest(format!(
            "`working_set.weeks` must be 1 to {MAX_WORKING_WEEKS} (the weeks of visits and counts the device holds); it was {}",
            working.weeks
        )));
    }
    if let Some(since) = working.since
        && since < 0
    {
        return Err(AppError::BadRequest(format!(
            "`working_set.since` must be the `working_since` of a response (ms since the epoch); it was {since}"
        )));
    }
    if let Some(since) = working.since
        && since > now.saturating_add(fieldsync_core::MAX_CLOCK_DRIFT_MS)
    {
        return Err(AppError::Conflict(format!(
            "`working_set.since` ({since}) is later than this server's clock ({now}): sync again from the start"
        )));
    }
    Ok(Some(working))
}

/// `POST /v1/fetch`: documents of the device's scope, whole, by id or from a store's
/// history, from one snapshot.
pub async fn fetch(
    State(state): State<AppState>,
    Extension(admission): Extension<Arc<Admission>>,
    Authed(device): Authed,
    headers: HeaderMap,
    body: Body,
) -> AppResult<Response> {
    let started = Instant::now();
    admission.device(&device.device_id)?;
    crate::content_type::check(&headers, fieldsync_core::protocol::CONTENT_TYPE)?;
    let (body, _held) = admission
        .read_body(body, state.limits.max_body_bytes)
        .await?;
    // The version first: a request of another version is answered as one, whatever its
    // shape.
    if let Some(version) = protocol::protocol_of(&body)
        && version != PROTOCOL_VERSION
    {
        return Err(AppError::UnsupportedProtocol(version));
    }
    let request: FetchRequest = protocol::decode("fetch request", &body)?;
    if request.protocol != PROTOCOL_VERSION {
        return Err(AppError::UnsupportedProtocol(request.protocol));
    }
    let ask = FetchAsk::of(&request)?;
    let limits = &state.limits;
    let max_bytes = request
        .max_response_bytes
        .map(|b| usize::try_from(b).unwrap_or(usize::MAX))
        .unwrap_or(limits.response_bytes)
        .clamp(1, limits.response_bytes);
    let storage = state.storage.clone();
    let (user, device_id) = (device.user_id.clone(), device.device_id.clone());
    let answer = tokio::task::spawn_blocking(move || storage.fetch(&device, &ask, max_bytes))
        .await
        .map_err(AppError::internal)??;
    let bytes = protocol::encode(&answer);
    tracing::info!(
        user = %user,
        device = %device_id,
        documents = answer.documents.len(),
        missing = answer.missing.len(),
        more = answer.next.is_some(),
        bytes_out = bytes.len(),
        ms = started.elapsed().as_millis() as u64,
        "fetch"
    );
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(protocol::CONTENT_TYPE),
        )],
        bytes,
    )
        .into_response())
}
