//! `GET /console/fleet`: every enrolled device with its user, enrollment, last sync, the app
//! and protocol version, pending edits, rejected documents and clock drift (from the device
//! report of its latest sync request, docs/protocol.md), revoked ones marked, devices silent
//! for `?silent_days=N` days (3 by default) highlighted.
//!
//! What a phone reports is untrusted and shown as text only; the count of documents the
//! server refused it and the drift are the server's own.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use fieldsync_core::MAX_CLOCK_DRIFT_MS;
use serde::Deserialize;

use super::STALE_DEVICE_MS;
use super::html::{attr, esc, page, table};
use super::i18n::{Lang, t};
use super::session::{Refused, Signed};
use crate::AppState;
use crate::error::AppError;
use crate::storage::device_reports::DeviceStatus;

const DAY_MS: i64 = 86_400_000;
/// The most days `silent_days` may say.
const MAX_SILENT_DAYS: i64 = 3_650;

/// `?silent_days=N`.
#[derive(Debug, Default, Deserialize)]
pub struct FleetQuery {
    pub silent_days: Option<String>,
}

impl FleetQuery {
    /// How long a device may be silent before it is highlighted; a malformed value is
    /// refused naming the parameter.
    fn silent_ms(&self) -> Result<i64, Refused> {
        let Some(text) = self
            .silent_days
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
        else {
            return Ok(STALE_DEVICE_MS);
        };
        match text.parse::<i64>() {
            Ok(days) if (1..=MAX_SILENT_DAYS).contains(&days) => Ok(days * DAY_MS),
            _ => Err(Refused::Internal(AppError::BadRequest(format!(
                "`silent_days` must be a whole number of days from 1 to {MAX_SILENT_DAYS}, not `{text}`"
            )))),
        }
    }
}

/// `GET /console/fleet`.
pub async fn handler(
    State(state): State<AppState>,
    signed: Signed,
    Query(query): Query<FleetQuery>,
) -> Result<Response, Refused> {
    let lang = signed.lang;
    let silent_ms = query.silent_ms()?;
    let storage = state.storage.clone();
    let (devices, users, reports) = tokio::task::spawn_blocking(move || {
        Ok::<_, AppError>((
            storage.devices()?,
            storage.users()?,
            storage.device_reports()?,
        ))
    })
    .await
    .map_err(AppError::internal)??;
    let calendar = fieldsync_core::FieldCalendar::default();
    let now = chrono::Utc::now().timestamp_millis();
    let at = |ms: i64| super::html::when(&calendar, fieldsync_core::Timestamp(ms));
    let none = || {
        format!(
            "<span class=\"muted\">{}</span>",
            esc(t(lang, "not_reported"))
        )
    };
    let count = |n: Option<i64>| n.map(|n| n.to_string()).unwrap_or_else(none);
    let rows: Vec<Vec<String>> = devices
        .iter()
        .map(|d| {
            let report = reports.iter().find(|r| r.device_id == d.device_id);
            let name = users
                .iter()
                .find(|u| u.id == d.user_id)
                .map(|u| format!("{} ({})", u.name, super::code_words::role(lang, u.role)))
                .unwrap_or_else(|| d.user_id.clone());
            let last_sync = last_sync(d, report);
            let last = last_sync.unwrap_or(d.enrolled_at);
            let stale = d.revoked_at.is_none() && now - last > silent_ms;
            let last_text = match last_sync {
                Some(ms) => esc(&at(ms)),
                None => esc(t(lang, "never")),
            };
            let state = match (d.revoked_at, stale) {
                (Some(ms), _) => format!("{} {}", esc(t(lang, "revoked")), esc(&at(ms))),
                (None, true) => format!(
                    "<span class=\"bad stale\">{} ({})</span>",
                    esc(t(lang, "stale")),
                    esc(&silent_for(lang, now - last))
                ),
                (None, false) => String::new(),
            };
            let (app, protocol, pending, rejected, drift) = match report {
                None => (none(), none(), none(), none(), none()),
                Some(r) => (
                    r.app_version.as_deref().map(esc).unwrap_or_else(none),
                    r.protocol.to_string(),
                    match (r.pending_edits, r.pending_documents) {
                        (None, None) => none(),
                        (edits, docs) => format!("{} ({})", count(edits), count(docs)),
                    },
                    rejected(r, &count),
                    drift_cell(lang, r).unwrap_or_else(none),
                ),
            };
            vec![
                esc(&d.device_id),
                esc(&d.name),
                esc(&name),
                app,
                protocol,
                esc(&at(d.enrolled_at)),
                last_text,
                pending,
                rejected,
                drift,
                state,
            ]
        })
        .collect();
    let head = [
        t(lang, "device"),
        t(lang, "device_name"),
        t(lang, "user"),
        t(lang, "app_version"),
        t(lang, "protocol"),
        t(lang, "enrolled"),
        t(lang, "last_sync"),
        t(lang, "pending_edits"),
        t(lang, "rejected_docs"),
        t(lang, "clock_drift"),
        t(lang, "state"),
    ];
    let form = format!(
        "<form method=\"get\" action=\"/console/fleet\"><label>{} \
         <input type=\"number\" name=\"silent_days\" min=\"1\" max=\"{MAX_SILENT_DAYS}\" value=\"{}\"></label> \
         <button type=\"submit\">{}</button></form>",
        esc(t(lang, "silent_days")),
        attr(&(silent_ms / DAY_MS).to_string()),
        esc(t(lang, "show")),
    );
    let body = format!(
        "{form}{}<p class=\"note\">{}</p>",
        table("devices", &head, &rows),
        esc(t(lang, "fleet_note"))
    );
    Ok(page(lang, t(lang, "fleet"), Some(&signed.viewer()), &body).into_response())
}

/// "phone / server": documents the phone holds refused, and the server's count of the
/// documents it refused the device, in all; the cell is marked when either is not zero.
fn rejected(r: &DeviceStatus, count: &dyn Fn(Option<i64>) -> String) -> String {
    let text = format!("{} / {}", count(r.rejected_documents), r.refused_documents);
    if r.rejected_documents.unwrap_or(0) > 0 || r.refused_documents > 0 {
        format!("<span class=\"bad\">{text}</span>")
    } else {
        text
    }
}

/// The clock's drift, marked when it is beyond what the server accepts of a change's time.
fn drift_cell(lang: Lang, r: &DeviceStatus) -> Option<String> {
    let drift = r.drift_ms?;
    let text = esc(&duration(lang, drift));
    Some(if drift.abs() > MAX_CLOCK_DRIFT_MS {
        format!("<span class=\"bad drift\">{text}</span>")
    } else {
        text
    })
}

/// A signed duration to the second, in its two largest units: `+3 min 20 s`, `−2 d 4 h`.
pub fn duration(lang: Lang, ms: i64) -> String {
    let sign = if ms < 0 { "−" } else { "+" };
    let secs = ms.unsigned_abs() / 1000;
    let (d, h, m, s) = (secs / 86_400, secs / 3_600 % 24, secs / 60 % 60, secs % 60);
    let unit = |zh: &'static str, en: &'static str| match lang {
        Lang::Zh => zh,
        Lang::En => en,
    };
    let parts = if d > 0 {
        format!("{d} {} {h} {}", unit("天", "d"), unit("小时", "h"))
    } else if h > 0 {
        format!("{h} {} {m} {}", unit("小时", "h"), unit("分", "min"))
    } else if m > 0 {
        format!("{m} {} {s} {}", unit("分", "min"), unit("秒", "s"))
    } else {
        format!("{s} {}", unit("秒", "s"))
    };
    format!("{sign}{parts}")
}

/// How long a device has been silent, in days (and hours under two days).
fn silent_for(lang: Lang, ms: i64) -> String {
    duration(lang, ms).trim_start_matches('+').to_owned()
}

/// When `device` last synced, as the server knows it: the report of its latest sync request
/// is exact, `last_seen_at` is written at most once an hour. `None`: never.
pub(super) fn last_sync(
    device: &crate::storage::DeviceRecord,
    report: Option<&crate::storage::device_reports::DeviceStatus>,
) -> Option<i64> {
    device.last_seen_at.max(report.map(|r| r.received_at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drift_reads_in_its_two_largest_units_with_its_sign() {
        assert_eq!(duration(Lang::En, 0), "+0 s");
        assert_eq!(duration(Lang::En, 200_500), "+3 min 20 s");
        assert_eq!(
            duration(Lang::En, -(2 * 86_400_000 + 4 * 3_600_000)),
            "−2 d 4 h"
        );
        assert_eq!(duration(Lang::Zh, -90_000), "−1 分 30 秒");
    }

    #[test]
    fn silent_days_out_of_bounds_or_not_a_number_are_refused_naming_the_parameter() {
        for bad in ["0", "-2", "x", "99999"] {
            let query = FleetQuery {
                silent_days: Some(bad.into()),
            };
            match query.silent_ms() {
                Err(Refused::Internal(AppError::BadRequest(m))) => {
                    assert!(m.contains("`silent_days`"), "{m}")
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
        let days = FleetQuery {
            silent_days: Some("10".into()),
        };
        assert_eq!(days.silent_ms().ok(), Some(10 * DAY_MS));
        assert_eq!(
            FleetQuery::default().silent_ms().ok(),
            Some(STALE_DEVICE_MS)
        );
    }
}
