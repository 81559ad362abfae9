//! The monthly assessment: `GET /console/assessment.csv` (the `admin report` CSV, same
//! columns, after a UTF-8 byte-order mark so that Excel reads the names right) and
//! `GET /console/assessment` (a page made for printing, its columns in words).

use std::fmt::Write as _;

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::columns::titles;
use super::html::{esc, page, table};
use super::i18n::t;
use super::overview::{DayQuery, load};
use super::overview_page::{day_picker, scorecard_cell};
use super::session::{Refused, Signed};
use crate::AppState;
use crate::admin::report::write_csv;

/// What begins the CSV download: the byte-order mark of UTF-8.
pub const UTF8_BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// `GET /console/assessment.csv?day=YYYY-MM-DD`.
pub async fn csv(
    State(state): State<AppState>,
    signed: Signed,
    Query(query): Query<DayQuery>,
) -> Result<Response, Refused> {
    let (overview, _) = load(&state, &signed, query.day()?).await?;
    // Excel takes a CSV without a byte-order mark for the system's code page and shows
    // Chinese names as mojibake; every other reader skips the mark.
    let mut bytes = UTF8_BOM.to_vec();
    write_csv(&overview.rows, &mut bytes)?;
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

/// `GET /console/assessment?day=YYYY-MM-DD`: every column of the CSV, for printing.
pub async fn printable(
    State(state): State<AppState>,
    signed: Signed,
    Query(query): Query<DayQuery>,
) -> Result<Response, Refused> {
    let (overview, _) = load(&state, &signed, query.day()?).await?;
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
    Ok(page(lang, t(lang, "assessment"), Some(&signed.viewer()), &body).into_response())
}
