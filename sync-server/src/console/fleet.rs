//! `GET /console/fleet`: every enrolled device with its user, enrollment, last sync (to the
//! hour, as the server records it), revoked ones marked, silent ones highlighted.
//!
//! Not yet shown: pending edits, app version, rejected documents and clock drift, which
//! need phones to report them in their sync request (docs/adr/0017).

use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::STALE_DEVICE_MS;
use super::html::{esc, page, table};
use super::i18n::t;
use super::session::{Refused, Signed};
use crate::AppState;
use crate::error::AppError;

/// `GET /console/fleet`.
pub async fn handler(State(state): State<AppState>, signed: Signed) -> Result<Response, Refused> {
    let lang = signed.lang;
    let storage = state.storage.clone();
    let (devices, users) = tokio::task::spawn_blocking(move || {
        Ok::<_, AppError>((storage.devices()?, storage.users()?))
    })
    .await
    .map_err(AppError::internal)??;
    let calendar = fieldsync_core::FieldCalendar::default();
    let now = chrono::Utc::now().timestamp_millis();
    let at = |ms: i64| super::html::when(&calendar, fieldsync_core::Timestamp(ms));
    let rows: Vec<Vec<String>> = devices
        .iter()
        .map(|d| {
            let name = users
                .iter()
                .find(|u| u.id == d.user_id)
                .map(|u| format!("{} ({})", u.name, u.role))
                .unwrap_or_else(|| d.user_id.clone());
            let last = d.last_seen_at.unwrap_or(d.enrolled_at);
            let stale = d.revoked_at.is_none() && now - last > STALE_DEVICE_MS;
            let last_text = match d.last_seen_at {
                Some(ms) => esc(&at(ms)),
                None => esc(t(lang, "never")),
            };
            let state = match (d.revoked_at, stale) {
                (Some(ms), _) => format!("{} {}", esc(t(lang, "revoked")), esc(&at(ms))),
                (None, true) => {
                    format!("<span class=\"bad stale\">{}</span>", esc(t(lang, "stale")))
                }
                (None, false) => String::new(),
            };
            vec![
                esc(&d.device_id),
                esc(&d.name),
                esc(&name),
                esc(&at(d.enrolled_at)),
                last_text,
                state,
            ]
        })
        .collect();
    let head = [
        t(lang, "device"),
        t(lang, "device"),
        t(lang, "user"),
        t(lang, "enrolled"),
        t(lang, "last_sync"),
        t(lang, "state"),
    ];
    let body = table("devices", &head, &rows);
    Ok(page(lang, t(lang, "fleet"), Some(&signed.viewer()), &body).into_response())
}
