//! The monthly assessment: `GET /console/assessment.csv` (the `admin report` file: the same
//! rows and columns and the same two sections after them, the documents that cannot be
//! read and the month's reused photos, after a UTF-8 byte-order mark so that Excel reads
//! the names right) and `GET /console/assessment` (a page made for printing, its columns
//! and sections in words).
//!
//! Both are the district's, as every console page is: only supervisors and admins sign in,
//! and they see the whole district. The rows and the unreadable documents come from the
//! console's replica, which pulls every document with the admin's scope as the admin
//! device does; the reused photos from the server's table of photo uses, every visit's,
//! which `admin report` reads too. Both files are written by `admin report`'s own code
//! ([`write_report`]), so the download is the admin's file for the same month and day.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use fieldsync_core::DocId;

use super::code_words::doc_kind;
use super::columns::{title, titles};
use super::html::{esc, page, segment, table};
use super::i18n::{Lang, t};
use super::overview::{DayQuery, load};
use super::overview_page::{day_picker, scorecard_cell};
use super::session::{Refused, Signed};
use crate::AppState;
use crate::admin::blobs::{self, PhotoUse};
use crate::admin::damaged::Unreadable;
use crate::admin::report::{Reused, month_days, reused_in, write_report};

/// What begins the CSV download: the byte-order mark of UTF-8.
pub const UTF8_BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// `GET /console/assessment.csv?day=YYYY-MM-DD`.
pub async fn csv(
    State(state): State<AppState>,
    signed: Signed,
    Query(query): Query<DayQuery>,
) -> Result<Response, Refused> {
    let (overview, _) = load(&state, &signed, query.day()?).await?;
    let reused = reused_photos(&state).await?;
    // Excel takes a CSV without a byte-order mark for the system's code page and shows
    // Chinese names as mojibake; every other reader skips the mark.
    let mut bytes = UTF8_BOM.to_vec();
    write_report(
        &overview.rows,
        &overview.unreadable,
        &reused,
        &overview.options,
        &mut bytes,
    )?;
    let file = format!(
        "attachment; filename=\"assessment-{}.csv\"",
        overview.options.month.format("%Y-%m")
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, file),
        ],
        bytes,
    )
        .into_response())
}

/// `GET /console/assessment?day=YYYY-MM-DD`: every column and section of the CSV, for
/// printing.
pub async fn printable(
    State(state): State<AppState>,
    signed: Signed,
    Query(query): Query<DayQuery>,
) -> Result<Response, Refused> {
    let (overview, _) = load(&state, &signed, query.day()?).await?;
    let reused = reused_photos(&state).await?;
    let of_month = reused_in(&reused, &month_days(&overview.options));
    let stores: BTreeSet<String> = overview
        .unreadable
        .iter()
        .filter_map(|u| u.store.as_ref().map(|s| s.as_str().to_owned()))
        .chain(
            of_month
                .iter()
                .flat_map(|(_, uses)| uses.iter().map(|u| u.store.clone())),
        )
        .collect();
    let names = store_names(&state, &signed, stores).await?;
    let lang = signed.lang;
    let mut body = String::new();
    let day = overview.options.day;
    let _ = write!(
        body,
        "<p>{} {} · {} {day}</p><div class=\"no-print\">{}</div>",
        esc(t(lang, "month")),
        esc(&overview.options.month.format("%Y-%m").to_string()),
        esc(t(lang, "as_of")),
        day_picker(lang, &overview.options, true),
    );
    let rows: Vec<Vec<String>> = overview
        .rows
        .iter()
        .map(|r| {
            let mut cells: Vec<String> = r.record().iter().map(|c| esc(c)).collect();
            cells.push(scorecard_cell(lang, r));
            cells
        })
        .collect();
    let mut head: Vec<&str> = titles(lang);
    head.push(t(lang, "r4"));
    body.push_str(&table("assessment", &head, &rows));
    let store = |id: &str| store_link(id, &names, day);
    body.push_str(&sections(lang, &overview.unreadable, &of_month, &store));
    Ok(page(lang, t(lang, "assessment"), Some(&signed.viewer()), &body).into_response())
}

/// The district's reused photos, as `admin report` reads them, on a console thread.
async fn reused_photos(state: &AppState) -> Result<Reused, Refused> {
    let storage = state.storage.clone();
    Ok(super::background::run(move || blobs::reused(storage.as_ref())).await?)
}

/// The names of the stores `ids` in the replica (a store it cannot read has none).
async fn store_names(
    state: &AppState,
    signed: &Signed,
    ids: BTreeSet<String>,
) -> Result<HashMap<String, String>, Refused> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let storage = state.storage.clone();
    let replica = signed.console.replica.clone();
    let names = super::background::run(move || {
        replica.with(storage.as_ref(), |local| {
            Ok(ids
                .into_iter()
                .filter_map(|id| {
                    let doc = DocId::parse("store", &id).ok()?;
                    let name = local.store(&doc).ok()?.name;
                    Some((id, name))
                })
                .collect())
        })
    })
    .await?;
    Ok(names)
}

/// A store named in a section: its name (its id when the replica cannot read it), linked
/// to its page as of the day judged.
fn store_link(id: &str, names: &HashMap<String, String>, day: NaiveDate) -> String {
    if id.is_empty() {
        return String::new();
    }
    let name = names.get(id).map_or(id, String::as_str);
    format!(
        "<a href=\"/console/store/{}?at={day}\">{}</a>",
        segment(id),
        esc(name)
    )
}

/// The CSV's two sections as tables, each only when it lists something (as in the CSV):
/// the documents that cannot be read, and the month's reused photos with every use.
fn sections(
    lang: Lang,
    unreadable: &[Unreadable],
    of_month: &[(&String, &Vec<PhotoUse>)],
    store: &dyn Fn(&str) -> String,
) -> String {
    let mut out = String::new();
    if !unreadable.is_empty() {
        let rows: Vec<Vec<String>> = unreadable
            .iter()
            .map(|u| {
                vec![
                    esc(&u.id),
                    esc(u.kind.map_or("", |k| doc_kind(lang, k))),
                    u.store
                        .as_ref()
                        .map_or(String::new(), |s| store(s.as_str())),
                    esc(u.territory.as_deref().unwrap_or("")),
                    esc(&u.reason),
                ]
            })
            .collect();
        let head = [
            t(lang, "document"),
            t(lang, "kind"),
            t(lang, "store"),
            title(lang, "manager"),
            t(lang, "reason"),
        ];
        let _ = write!(out, "<h2 id=\"damaged\">{}</h2>", esc(t(lang, "damaged")));
        out.push_str(&table("damaged-documents", &head, &rows));
    }
    if !of_month.is_empty() {
        let rows: Vec<Vec<String>> = of_month
            .iter()
            .flat_map(|(hash, uses)| {
                uses.iter().map(|u| {
                    vec![
                        esc(hash),
                        esc(&u.visit),
                        store(&u.store),
                        esc(&u.day_text()),
                    ]
                })
            })
            .collect();
        let head = [
            t(lang, "photo"),
            t(lang, "visit"),
            t(lang, "store"),
            t(lang, "photo_day"),
        ];
        let _ = write!(
            out,
            "<h2 id=\"reused\">{}</h2><p class=\"note\">{}</p>",
            esc(t(lang, "reused_photos")),
            esc(t(lang, "reused_note")),
        );
        out.push_str(&table("reused-photos", &head, &rows));
    }
    out
}
