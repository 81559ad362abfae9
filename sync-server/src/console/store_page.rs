//! `GET /console/store/{id}`: one store, its shelf display now or as of a date
//! (`?at=YYYY-MM-DD`, the end of that day), who changed what and when, its visits with the
//! geofence verdict, counts, tasks and complaints, and the photos of them that have synced
//! ([`super::photos`]).

use std::fmt::Write as _;

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use chrono::{Duration, NaiveDate};
use fieldsync_core::{ClockState, DocId, DocKind, ErrorRate, LocalStore, Verdict};
use serde::Deserialize;

use super::code_words as words;
use super::html::{esc, page, table, when};
use super::i18n::{Lang, t};
use super::photos;
use super::session::{Refused, Signed};
use crate::AppState;
use crate::blobs::Blobs;
use crate::error::{AppError, AppResult};

/// Most history entries shown (newest first).
const HISTORY_SHOWN: usize = 200;

#[derive(Debug, Default, Deserialize)]
pub struct AtQuery {
    pub at: Option<String>,
}

/// `GET /console/store/{id}`.
pub async fn handler(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    Query(query): Query<AtQuery>,
    Extension(blobs): Extension<Option<Arc<Blobs>>>,
) -> Result<Response, Refused> {
    let lang = signed.lang;
    let at = super::overview::parse_day("at", query.at.as_deref())?;
    let Ok(id) = DocId::parse("store", &id) else {
        return Err(not_found(&id));
    };
    let storage = state.storage.clone();
    let console = signed.console.clone();
    let lookup = id.clone();
    let rendered = super::background::run(move || {
        let page = console.replica.with(storage.as_ref(), |local| {
            if !matches!(local.kind_of(&lookup), Ok(DocKind::Store)) {
                return Ok(None);
            }
            super::overview::refuse_future(
                "at",
                at,
                local.calendar(),
                fieldsync_core::Timestamp::now(),
            )?;
            let (title, body) = render(local, lang, &lookup, at)?;
            let shown = photos::store_photos(local, &lookup)?;
            Ok(Some((title, body, shown, local.calendar().clone())))
        })?;
        // The blob store is asked outside the replica's lock.
        let Some((title, mut body, shown, cal)) = page else {
            return Ok::<_, AppError>(None);
        };
        let shown = photos::with_uploads(blobs.as_deref(), storage.as_ref(), shown)?;
        body.push_str(&photos::render(lang, &cal, &lookup, &shown));
        Ok(Some((title, body)))
    })
    .await?;
    match rendered {
        Some((title, body)) => {
            Ok(page(lang, &title, Some(&signed.viewer()), &body).into_response())
        }
        None => Err(not_found(id.as_str())),
    }
}

/// No store by that id: `404`, a page for a browser ([`super::error_page`]).
fn not_found(id: &str) -> Refused {
    Refused::Internal(AppError::NotFound(format!("no store `{id}`")))
}

fn verdict(lang: Lang, v: Verdict) -> String {
    match v {
        Verdict::Pass => format!("<span class=\"good\">{}</span>", esc(t(lang, "pass"))),
        Verdict::Fail => "<span class=\"bad\">✗</span>".into(),
        Verdict::NotApplicable => esc(t(lang, "not_applicable")),
    }
}

/// The page's title and body for store `id`.
pub fn render(
    local: &LocalStore,
    lang: Lang,
    id: &DocId,
    at: Option<NaiveDate>,
) -> AppResult<(String, String)> {
    let cal = local.calendar();
    let store = local.store(id)?;
    let mut out = String::new();
    let rating = store
        .rating
        .map(|r| words::rating(lang, r))
        .unwrap_or_else(|| t(lang, "none"));
    let _ = write!(
        out,
        "<p>{}: {} · {}: {} · {}: {} · {}: <a href=\"/console/manager/{}{}\">{}</a> · {}: {}</p>",
        esc(t(lang, "licence")),
        esc(&store.licence),
        esc(t(lang, "code_class")),
        esc(&store.code()),
        esc(t(lang, "address")),
        esc(&store.address),
        esc(t(lang, "manager")),
        super::html::segment(&store.territory),
        at.map(|d| format!("?day={d}")).unwrap_or_default(),
        esc(&store.territory),
        esc(t(lang, "rating")),
        esc(rating),
    );
    // The shelf display, now or at the end of the day asked for.
    let display_id = LocalStore::shelf_display_id(id);
    if local.kind_of(&display_id).is_ok() {
        let display = match at {
            Some(day) => {
                let end = fieldsync_core::Timestamp(cal.start_of(day + Duration::days(1)).0 - 1);
                let _ = write!(
                    out,
                    "<h2 id=\"display\">{} {day}</h2>",
                    esc(t(lang, "display_as_of"))
                );
                local.shelf_display_as_of(&display_id, end)?
            }
            None => {
                let _ = write!(
                    out,
                    "<h2 id=\"display\">{}</h2>",
                    esc(t(lang, "display_now"))
                );
                local.shelf_display(&display_id)?
            }
        };
        // A date picker: the same page as of the end of another day (a GET, nothing changes).
        let _ = write!(
            out,
            "<form method=\"get\" class=\"inline\"><input type=\"date\" name=\"at\" value=\"{}\">\
             <button type=\"submit\">{}</button></form>",
            at.map(|d| d.to_string()).unwrap_or_default(),
            esc(t(lang, "display_as_of")),
        );
        let rows: Vec<Vec<String>> = display
            .standards
            .iter()
            .filter_map(|(standard, check)| check.as_ref().map(|c| (standard, c)))
            .map(|(standard, check)| {
                vec![
                    esc(words::standard(lang, *standard)),
                    verdict(lang, check.value().verdict),
                    esc(&check.current.by),
                    esc(&when(cal, check.current.at)),
                ]
            })
            .collect();
        let head = [
            t(lang, "standard"),
            t(lang, "verdict"),
            t(lang, "by"),
            t(lang, "when"),
        ];
        out.push_str(&table("standards", &head, &rows));
        let rows: Vec<Vec<String>> = display
            .products
            .iter()
            .map(|p| {
                let tag = if *p.price_tag.value() {
                    esc(t(lang, "present"))
                } else {
                    format!("<span class=\"bad\">{}</span>", esc(t(lang, "missing")))
                };
                vec![
                    format!("{} {}", esc(&p.sku), esc(&p.name)),
                    tag,
                    esc(&p.price_tag.current.by),
                ]
            })
            .collect();
        let head = [t(lang, "product"), t(lang, "price_tag"), t(lang, "by")];
        out.push_str(&table("products", &head, &rows));
    }
    // Who changed what and when: the store's and its display's changes, newest first.
    let mut history = local.history(id)?;
    if local.kind_of(&display_id).is_ok() {
        history.extend(local.history(&display_id)?);
    }
    history.sort_by_key(|h| std::cmp::Reverse(h.at));
    let rows: Vec<Vec<String>> = history
        .iter()
        .take(HISTORY_SHOWN)
        .map(|h| {
            vec![
                esc(&when(cal, h.at)),
                esc(&h.by),
                esc(&words::history(lang, &h.what)),
            ]
        })
        .collect();
    let _ = write!(out, "<h2>{}</h2>", esc(t(lang, "history")));
    out.push_str(&table(
        "history",
        &[t(lang, "when"), t(lang, "by"), t(lang, "what")],
        &rows,
    ));
    // Visits with the geofence verdict.
    let mut rows = Vec::new();
    for visit_id in local.visits_of_store(id)? {
        let Ok(v) = local.visit(&visit_id) else {
            continue;
        };
        let fence = match (v.check_in.in_range, v.check_in.distance_m) {
            (Some(true), Some(d)) => format!("{} ({d:.0} m)", esc(t(lang, "in_range"))),
            (Some(false), Some(d)) => {
                format!(
                    "<span class=\"bad\">{} ({d:.0} m)</span>",
                    esc(t(lang, "out_of_range"))
                )
            }
            _ => esc(t(lang, "no_gps")),
        };
        rows.push(vec![
            esc(&when(cal, v.check_in.at)),
            esc(words::visit_kind(lang, v.kind)),
            esc(&v.visitor),
            v.check_out
                .map(|c| esc(&when(cal, c.at)))
                .unwrap_or_default(),
            fence,
        ]);
    }
    let _ = write!(out, "<h2>{}</h2>", esc(t(lang, "visits")));
    let head = [
        t(lang, "check_in"),
        t(lang, "kind"),
        t(lang, "by"),
        t(lang, "check_out"),
        t(lang, "geofence"),
    ];
    out.push_str(&table("visits", &head, &rows));
    // Inventory counts with their error rate (R3).
    let mut rows = Vec::new();
    for count_id in local.inventory_counts_of_store(id)? {
        let Ok(c) = local.inventory_count(&count_id) else {
            continue;
        };
        let rate = match c.error_rate() {
            ErrorRate::Rate {
                abs_diff,
                book_total,
            } => {
                let pct = 100.0 * abs_diff as f64 / book_total as f64;
                if pct > fieldsync_core::MAX_COUNT_ERROR_PERCENT as f64 {
                    format!("<span class=\"bad\">{pct:.1}%</span>")
                } else {
                    format!("{pct:.1}%")
                }
            }
            ErrorRate::Undefined { abs_diff } => format!("book 0, Σ|diff| {abs_diff}"),
            ErrorRate::NothingCounted => esc(t(lang, "none")),
        };
        rows.push(vec![
            esc(&when(cal, c.started_at)),
            esc(&c.started_by),
            rate,
        ]);
    }
    let _ = write!(out, "<h2>{}</h2>", esc(t(lang, "counts")));
    out.push_str(&table(
        "counts",
        &[t(lang, "when"), t(lang, "by"), t(lang, "error_rate")],
        &rows,
    ));
    // Tasks and complaints about the store.
    let mut rows = Vec::new();
    for task_id in local.document_ids(DocKind::Task)? {
        let Ok(task) = local.task(&task_id) else {
            continue;
        };
        if &task.store_id == id {
            rows.push(vec![
                esc(&task.title),
                esc(&task.assignee),
                esc(&when(cal, task.deadline)),
                esc(words::task_state(lang, *task.state.value())),
            ]);
        }
    }
    let _ = write!(out, "<h2>{}</h2>", esc(t(lang, "tasks_title")));
    let head = [
        t(lang, "what"),
        t(lang, "by"),
        t(lang, "deadline"),
        t(lang, "state"),
    ];
    out.push_str(&table("tasks", &head, &rows));
    let now = fieldsync_core::Timestamp::now();
    let mut rows = Vec::new();
    for complaint_id in local.document_ids(DocKind::Complaint)? {
        let Ok(c) = local.complaint(&complaint_id) else {
            continue;
        };
        if &c.store_id != id {
            continue;
        }
        let clocks: Vec<String> = c
            .clocks(now)
            .iter()
            .map(|(event, state)| {
                let s = match state {
                    ClockState::NotStarted => esc(t(lang, "not_started")),
                    ClockState::NotApplicable => esc(t(lang, "not_applicable")),
                    ClockState::Running { .. } => esc(t(lang, "running")),
                    ClockState::Met { .. } => {
                        format!("<span class=\"good\">{}</span>", esc(t(lang, "met")))
                    }
                    ClockState::Breached { .. } => {
                        format!("<span class=\"bad\">{}</span>", esc(t(lang, "breached")))
                    }
                };
                format!("{}: {s}", esc(words::complaint_event(lang, *event)))
            })
            .collect();
        rows.push(vec![
            esc(&when(cal, c.received_at)),
            esc(words::complaint_kind(lang, c.kind)),
            esc(&c.description),
            clocks.join("<br>"),
        ]);
    }
    let _ = write!(out, "<h2>{}</h2>", esc(t(lang, "complaints")));
    let head = [
        t(lang, "received"),
        t(lang, "kind"),
        t(lang, "what"),
        t(lang, "clock"),
    ];
    out.push_str(&table("complaints", &head, &rows));
    Ok((store.name, out))
}
