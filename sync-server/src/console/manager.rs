//! `GET /console/manager/{id}`: one account manager's stores behind the overview's figures
//! ([`super::attention`]), their scorecards of the last months (R4), and their stores with
//! this month's visits and this week's R1.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use chrono::Duration;
use fieldsync_core::{FieldCalendar, LocalStore, Role};

use super::html::{esc, page, segment, table, when};
use super::i18n::{Lang, t};
use super::overview::{DayQuery, options_for};
use super::session::{Refused, Signed};
use crate::AppState;
use crate::admin::report::ReportOptions;
use crate::error::AppResult;

/// Months of scorecards shown.
const SCORECARD_MONTHS: usize = 6;

/// `GET /console/manager/{id}`.
pub async fn handler(
    State(state): State<AppState>,
    signed: Signed,
    Path(id): Path<String>,
    Query(query): Query<DayQuery>,
) -> Result<Response, Refused> {
    let lang = signed.lang;
    let storage = state.storage.clone();
    let console = signed.console.clone();
    let manager = id.clone();
    let day = query.day()?;
    let rendered = super::background::run(move || {
        let Some(user) = storage
            .user(&manager)?
            .filter(|u| u.role == Role::AccountManager)
        else {
            return Ok(None);
        };
        console.replica.with(storage.as_ref(), |local| {
            let options = options_for(day, console.config.min_visits, local.calendar())?;
            render(local, lang, &user.id, &options).map(|body| Some((user.name.clone(), body)))
        })
    })
    .await?;
    match rendered {
        Some((name, body)) => Ok(page(lang, &name, Some(&signed.viewer()), &body).into_response()),
        None => Err(Refused::Internal(crate::error::AppError::NotFound(
            format!("no account manager `{id}`"),
        ))),
    }
}

/// The manager page's body.
pub fn render(
    local: &LocalStore,
    lang: Lang,
    manager: &str,
    options: &ReportOptions,
) -> AppResult<String> {
    let cal = local.calendar();
    let mut out = String::new();
    let due_list = local.stores_due_visit(manager, options.day)?;
    let due: HashMap<String, Option<fieldsync_core::Timestamp>> = due_list
        .iter()
        .map(|d| (d.store_id.as_str().to_owned(), d.last_visit))
        .collect();
    let visits = local.monthly_visits(manager, options.day, options.min_visits)?;
    let _ = write!(
        out,
        "<p>{} {} · {} {} {}</p>",
        esc(t(lang, "month")),
        esc(&options.month.format("%Y-%m").to_string()),
        esc(t(lang, "as_of")),
        options.day,
        super::overview_page::day_picker(lang, options, false),
    );
    let _ = write!(
        out,
        "<p>{}: {} / {} · {}: {}</p>",
        esc(t(lang, "r9_visits")),
        visits.made(),
        visits.required(),
        esc(t(lang, "r1_unvisited")),
        if due.is_empty() {
            "0".to_owned()
        } else {
            format!("<span class=\"bad\">{}</span>", due.len())
        }
    );
    let figures = super::attention::Figures {
        due: &due_list,
        visits: &visits,
    };
    out.push_str(&super::attention::render(
        local, lang, manager, options, &figures,
    )?);
    // Scorecards of the last months.
    let mut rows = Vec::new();
    let mut month = options.month;
    for _ in 0..SCORECARD_MONTHS {
        let key = month.format("%Y-%m").to_string();
        for card in local.scorecards_of(manager, &key)? {
            let Ok(outcome) = local.scorecard_outcome(&card) else {
                continue;
            };
            let verdict = match (outcome.total, outcome.passes, outcome.bonus) {
                (Some(total), Some(true), Some(true)) => {
                    format!("{total:.1} {} · {}", t(lang, "pass"), t(lang, "bonus"))
                }
                (Some(total), Some(true), _) => format!("{total:.1} {}", t(lang, "pass")),
                (Some(total), Some(false), _) => format!("{total:.1} {}", t(lang, "fail")),
                _ => t(lang, "none").to_owned(),
            };
            rows.push(vec![esc(&key), esc(&verdict)]);
        }
        month = FieldCalendar::month_start(month - Duration::days(1));
    }
    let _ = write!(out, "<h2>{}</h2>", esc(t(lang, "scorecards")));
    out.push_str(&table(
        "scorecards",
        &[t(lang, "month"), t(lang, "outcome")],
        &rows,
    ));
    // The R1-covered stores with this month's visits and this week's R1: visited among
    // the stores owed the week (as the overview counts them), due on this week's list, or
    // neither (a store moved away before the week's middle is not the manager's week).
    let owed: HashMap<String, bool> = local
        .week_owed(manager, options.day)?
        .into_iter()
        .map(|(id, visited)| (id.as_str().to_owned(), visited))
        .collect();
    let rows: Vec<Vec<String>> = visits
        .stores
        .iter()
        .map(|(id, name, made)| {
            let week = match (owed.get(id.as_str()), due.get(id.as_str())) {
                (Some(true), _) => "<span class=\"good\">✓</span>".into(),
                (_, Some(last)) => format!(
                    "<span class=\"bad\">✗</span> {}",
                    last.map(|l| esc(&when(cal, l)))
                        .unwrap_or_else(|| esc(t(lang, "never")))
                ),
                (Some(false), None) => "<span class=\"bad\">✗</span>".into(),
                (None, None) => "–".into(),
            };
            vec![
                format!(
                    "<a href=\"/console/store/{}?at={}\">{}</a>",
                    segment(id.as_str()),
                    options.day,
                    esc(name)
                ),
                made.to_string(),
                week,
            ]
        })
        .collect();
    let _ = write!(out, "<h2>{}</h2>", esc(t(lang, "stores")));
    let head = [t(lang, "store"), t(lang, "visits"), t(lang, "r1_visited")];
    out.push_str(&table("stores", &head, &rows));
    Ok(out)
}
