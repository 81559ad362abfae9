//! The monthly assessment: `GET /console/assessment.csv` (the `admin report` CSV, same
//! columns) and `GET /console/assessment` (a page made for printing).

use std::fmt::Write as _;

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::html::{esc, page, table};
use super::i18n::t;
use super::overview::{DayQuery, load};
use super::overview_page::scorecard_cell;
use super::session::{Refused, Signed};
use crate::AppState;
use crate::admin::report::{COLUMNS, write_csv};

/// `GET /console/assessment.csv?day=YYYY-MM-DD`.
pub async fn csv(
    State(state): State<AppState>,
    signed: Signed,
    Query(query): Query<DayQuery>,
) -> Result<Response, Refused> {
    let (overview, _) = load(&state, &signed, query.day()?).await?;
    let mut bytes = Vec::new();
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
        "<p>{} {} · {} {day} · <a href=\"/console/assessment.csv?day={day}\">{}</a></p>",
        esc(t(lang, "month")),
        esc(&overview.options.month.format("%Y-%m").to_string()),
        esc(t(lang, "as_of")),
        esc(t(lang, "export_csv")),
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
    let mut head: Vec<&str> = COLUMNS.to_vec();
    head.push(t(lang, "r4"));
    body.push_str(&table("assessment", &head, &rows));
    Ok(page(lang, t(lang, "assessment"), Some(&signed.viewer()), &body).into_response())
}
