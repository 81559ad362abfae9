//! The sync and enrollment endpoints: the HTTP layer only moves bytes; the rules live in
//! core (`write_rules`) and the storage.

use std::collections::HashSet;
use std::time::Instant;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use fieldsync_core::IncomingChange;
use fieldsync_core::protocol::{
    self, DocChanges, EnrollRequest, EnrollResponse, FeedCursor, PROTOCOL_VERSION, SyncRequest,
    SyncResponse,
};

use crate::AppState;
use crate::admission::{self, Admission};
use crate::auth::{Authed, hash_secret, new_token, typed_code};
use crate::error::{AppError, AppResult};
use crate::storage::device_reports::DeviceStatus;
use crate::text::{field_path, shorten_quotes};
use crate::working_set::checked_working_set;

/// `POST /v1/sync`: push the device's new changes, pull what changed in its scope.
/// A refusal is logged with the user, the device and its reason.
pub async fn sync(
    state: State<AppState>,
    admission: Extension<Arc<Admission>>,
    Authed(device): Authed,
    headers: HeaderMap,
    body: Body,
) -> AppResult<Response> {
    let (user, device_id) = (device.user_id.clone(), device.device_id.clone());
    let answered = sync_as(state, admission, device, headers, body).await;
    if let Err(e) = &answered {
        log_refusal(&user, &device_id, e);
    }
    answered
}

fn log_refusal(user: &str, device: &str, e: &AppError) {
    match e {
        // Logged where they are made: with their cause, or with the quota's numbers.
        AppError::Internal(_) | AppError::Quota(_) => {}
        AppError::Rejected(rejected) => {
            let first = rejected.first();
            tracing::warn!(
                user,
                device,
                documents = rejected.len(),
                rule = first.map(|r| r.rule.as_str()).unwrap_or_default(),
                field = first.map(|r| field_path(&r.field)).unwrap_or_default(),
                reason = first
                    .map(|r| shorten_quotes(&r.message))
                    .unwrap_or_default(),
                "push refused by a write rule"
            );
        }
        other => tracing::warn!(
            user,
            device,
            reason = %shorten_quotes(&other.to_string()),
            "sync refused"
        ),
    }
}

async fn sync_as(
    State(state): State<AppState>,
    Extension(admission): Extension<Arc<Admission>>,
    device: crate::storage::DeviceInfo,
    headers: HeaderMap,
    body: Body,
) -> AppResult<Response> {
    let started = Instant::now();
    // The clock's drift is measured against when the request began to arrive, not when a
    // large body finished.
    let received_at = chrono::Utc::now().timestamp_millis();
    admission.device(&device.device_id)?;
    crate::content_type::check(&headers, protocol::CONTENT_TYPE)?;
    // The permit holds the body's bytes against the server's budget until the answer.
    let (body, _held) = admission
        .read_body(body, state.limits.max_body_bytes)
        .await?;
    let bytes_in = body.len();
    // The version first: a request of another version is answered as one, whatever its
    // shape.
    if let Some(version) = protocol::protocol_of(&body)
        && version != PROTOCOL_VERSION
    {
        return Err(AppError::UnsupportedProtocol(version));
    }
    let request: SyncRequest = protocol::decode("sync request", &body)?;
    if request.protocol != PROTOCOL_VERSION {
        return Err(AppError::UnsupportedProtocol(request.protocol));
    }
    // Untrusted, for the fleet page only: its bounds were checked as it was decoded.
    let status = DeviceStatus::of(
        &device.device_id,
        request.protocol,
        request.device.as_ref(),
        received_at,
    );
    let report_due = admission.report_due(&device.device_id, fingerprint(&status), received_at);
    // The device's word that this push empties its outbox: what lets its response tell it
    // of stores that left its scope (`feed/left.rs`). A device that lies stays
    // "not told" at most `scope_guard::UNHEARD_FOR_MS` after a move.
    let reports_outbox_emptied = status.pending_documents == Some(0);
    let cursor = FeedCursor::parse(request.cursor.as_deref()).map_err(|_| {
        AppError::BadRequest(format!(
            "cursor `{}` is not one this server gave",
            request.cursor.as_deref().unwrap_or_default()
        ))
    })?;
    let mark = request
        .cursor
        .as_deref()
        .and_then(|c| fieldsync_core::protocol::split_mark(c).1)
        .map(str::to_owned);
    let working = checked_working_set(request.working_set, received_at)?;
    // Index rows of another version than this build derives are not sent at all.
    let send_index = request.index_version == Some(fieldsync_core::FEED_INDEX_VERSION);
    let limits = state.limits.clone();
    let total: usize = request.push.iter().map(|d| d.changes.len()).sum();
    if total > limits.max_changes_per_push {
        return Err(AppError::TooLarge(format!(
            "{total} changes in one push; the limit is {} (send them in several pushes)",
            limits.max_changes_per_push
        )));
    }
    // Each document costs a lookup under the write lock, changes or not.
    if request.push.len() > limits.max_changes_per_push {
        return Err(AppError::TooLarge(format!(
            "{} documents in one push; the limit is {} (send them in several pushes)",
            request.push.len(),
            limits.max_changes_per_push
        )));
    }
    let docs = crate::push_parse::parse(request.push, limits.max_body_bytes).await?;
    let max_bytes = request
        .max_response_bytes
        .map(|b| usize::try_from(b).unwrap_or(usize::MAX))
        .unwrap_or(limits.response_bytes)
        .clamp(1, limits.response_bytes);
    let storage = state.storage.clone();
    let quotas = limits.quotas();
    let now = chrono::Utc::now().timestamp_millis();
    let pushed_docs = docs.len();
    let (user, device_id) = (device.user_id.clone(), device.device_id.clone());
    let note_seen = admission.seen_due(&device_id, now);
    let presented = crate::rotation::presented(&headers).unwrap_or_default();
    let token_days = limits.token_days;
    let (response, rotated) = tokio::task::spawn_blocking(move || -> AppResult<_> {
        // First: the token this sync may replace is the one current when it began.
        let token_status = crate::rotation::status_at_start(
            storage.as_ref(),
            &device.device_id,
            &presented,
            token_days,
        );
        if note_seen {
            // For `admin devices --stale`; a failure here must not fail the sync.
            if let Err(e) = storage.touch_device(&device.device_id, now) {
                tracing::warn!(error = %e, "cannot note when the device was last seen");
            }
        }
        // Before the push, so that a refused push leaves the report too; for display only,
        // and never a reason to fail the sync.
        if report_due && let Err(e) = storage.record_device_report(&status) {
            tracing::warn!(error = %e, "cannot keep the device's report");
        }
        // A cursor the feed would refuse must refuse the request before the push is
        // stored. The log only grows, so a cursor within it now is within it at the feed.
        let position = storage.log_position()?;
        if cursor.position() > position {
            return Err(AppError::Conflict(format!(
                "cursor `{cursor}` is ahead of this server (at `{position}`): sync again from the start"
            )));
        }
        let just_pushed: HashSet<String> =
            docs.iter().flat_map(|(_, changes)| changes.iter().map(IncomingChange::hash)).collect();
        // A pull-only sync does not queue for the write lock.
        let pushed = if docs.is_empty() {
            Default::default()
        } else {
            let pushed_bytes: u64 = docs
                .iter()
                .flat_map(|(_, changes)| changes.iter().map(|c| c.byte_len() as u64))
                .sum();
            // Judged but not stored: all the push's bytes count against the device's day
            // (`storage/quota.rs`), for the server judged all of it; the documents sent again
            // count again when stored. A failure here must not change the answer.
            let charge = |storage: &dyn crate::storage::SyncStorage| {
                if let Err(e) = storage.charge_refused(&device.device_id, pushed_bytes, now) {
                    tracing::warn!(error = %e, "cannot count a refused push against the device's day");
                }
            };
            let pushed = match storage.push_within(&device, docs, now, &quotas) {
                Ok(Ok(pushed)) => Ok(pushed),
                Err(AppError::Quota(q)) if q.limit == crate::storage::quota::DOCUMENT_LIMIT => {
                    charge(storage.as_ref());
                    Err(AppError::Quota(q))
                }
                Ok(Err(rejected)) => {
                    charge(storage.as_ref());
                    let documents = i64::try_from(rejected.len()).unwrap_or(i64::MAX);
                    if let Err(e) = storage.record_refused(
                        &device.device_id,
                        PROTOCOL_VERSION,
                        documents,
                        now,
                    ) {
                        tracing::warn!(error = %e, "cannot count the device's refused documents");
                    }
                    Err(AppError::Rejected(rejected))
                }
                Err(e) => Err(e),
            };
            pushed.inspect_err(|e| {
                if let AppError::Quota(q) = e {
                    tracing::warn!(
                        device = %device.device_id,
                        user = %device.user_id,
                        limit = q.limit,
                        value = q.value,
                        "push over a quota"
                    );
                }
            })?
        };
        metrics::counter!("fieldsync_changes_applied_total").increment(pushed.applied as u64);
        // After the push, so that what it stored for a store that left the device's scope
        // is announced removed with that store.
        let outbox_emptied = just_pushed.is_empty() || reports_outbox_emptied;
        let feed = storage.feed_within(
            &device,
            (&cursor, mark.as_deref()),
            max_bytes,
            &just_pushed,
            working,
            outbox_emptied,
        )?;
        // Last, once the answer is certain: a new token is never handed out with a failure.
        let rotated = crate::rotation::rotate_if_due(
            storage.as_ref(),
            &device.device_id,
            &presented,
            token_status,
            now,
            token_days,
        );
        Ok((
            SyncResponse {
                accepted: pushed.accepted,
                // Read whether or not the device asked for them (a first sync's pass reads
                // them with the changes); sent to one that did.
                changes: if send_index {
                    feed.changes
                } else {
                    feed.changes
                        .into_iter()
                        .map(|d| DocChanges { index: None, ..d })
                        .collect()
                },
                removed: feed.removed,
                cursor: match &feed.mark {
                    Some(mark) => format!("{}~{mark}", feed.cursor),
                    None => feed.cursor.to_string(),
                },
                more: feed.more,
                first_use: feed.first_use,
                working_since: feed.working_since,
                let_go: feed.let_go,
            },
            rotated,
        ))
    })
    .await
    .map_err(AppError::internal)??;
    let bytes = protocol::encode(&response);
    metrics::histogram!("fieldsync_sync_seconds").record(started.elapsed().as_secs_f64());
    tracing::info!(
        user = %user,
        device = %device_id,
        pushed_docs,
        pulled_docs = response.changes.len(),
        removed = response.removed.len(),
        more = response.more,
        bytes_in,
        bytes_out = bytes.len(),
        ms = started.elapsed().as_millis() as u64,
        "sync"
    );
    let mut answer = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(protocol::CONTENT_TYPE),
        )],
        bytes,
    )
        .into_response();
    if let Some(rotated) = &rotated {
        crate::rotation::add_to(&mut answer, rotated);
    }
    Ok(answer)
}

/// What a report says, its drift to the second, for [`Admission::report_due`].
fn fingerprint(status: &DeviceStatus) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (
        status.protocol,
        &status.app_version,
        status.pending_edits,
        status.pending_documents,
        status.rejected_documents,
        status.drift_ms.map(|d| d / 1000),
    )
        .hash(&mut hasher);
    hasher.finish()
}

/// `POST /v1/enroll`: trade a one-time code for a device token.
pub async fn enroll(
    State(state): State<AppState>,
    Extension(admission): Extension<Arc<Admission>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Body,
) -> AppResult<Json<EnrollResponse>> {
    let source = admission::source(peer.as_ref().map(|Extension(info)| info));
    crate::content_type::check(&headers, "application/json")?;
    let (body, _held) = admission.read_body(body, 16 * 1024).await?;
    let request: EnrollRequest = serde_json::from_slice(&body).map_err(|e| {
        AppError::BadRequest(format!(
            "enrollment body is not `{{\"code\", \"device_name\"}}` JSON: {e}"
        ))
    })?;
    let name = request.device_name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::BadRequest(
            "`device_name` must be 1 to 100 characters".into(),
        ));
    }
    crate::text::check_name("device_name", name).map_err(AppError::BadRequest)?;
    let token = new_token();
    let (code_hash, token_hash, name) = (
        hash_secret(&typed_code(&request.code)),
        hash_secret(&token),
        name.to_owned(),
    );
    admission.enrollment(source, &code_hash)?;
    let storage = state.storage.clone();
    let now = chrono::Utc::now().timestamp_millis();
    let device = tokio::task::spawn_blocking(move || {
        storage.enroll(&code_hash, &name, &token_hash, now)
    })
    .await
    .map_err(AppError::internal)?
    .map_err(|e| match e {
        // Unknown, used and expired codes get one answer, so that a guess learns
        // nothing; the log keeps the reason for the office.
        AppError::Unauthorized(reason) => {
            tracing::warn!(%reason, source = %crate::text::source(source), "enrollment refused");
            AppError::Unauthorized(ENROLL_REFUSED.into())
        }
        other => other,
    })?;
    tracing::info!(device = %device.device_id, user = %device.user_id, "enrolled");
    Ok(Json(EnrollResponse {
        device_id: device.device_id,
        token,
        user_id: device.user_id,
        role: device.role.code().into(),
    }))
}

/// The one answer to every enrollment refused for its code.
pub const ENROLL_REFUSED: &str =
    "this enrollment code cannot be used: ask the office for a new one";
