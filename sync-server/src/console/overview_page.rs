//! `GET /console`: the overview's page, its table and its charts (SVG made here), from
//! the figures [`super::overview`] computes.

use std::fmt::Write as _;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};

use super::chart::{self, Series};
use super::html::{esc, page, segment, table};
use super::i18n::{Lang, t};
use super::overview::{DayQuery, Overview, load};
use super::session::{Refused, Signed};
use super::violations;
use crate::AppState;
use crate::admin::report::{ManagerRow, ReportOptions};

/// `GET /console`.
pub async fn page_handler(
    State(state): State<AppState>,
    signed: Signed,
    Query(query): Query<DayQuery>,
) -> Result<Response, Refused> {
    let (overview, took) = load(&state, &signed, query.day()?).await?;
    let lang = signed.lang;
    let mut body = render(lang, &overview, took);
    body.push_str(&unsynced(&state, lang, &overview).await?);
    Ok(page(lang, t(lang, "overview"), Some(&signed.viewer()), &body).into_response())
}

/// How long a manager's phones may go without a sync before the overview warns that their
/// figures may lack what is still on a phone.
const SYNC_WARNING_MS: i64 = 24 * 3600 * 1000;

/// The account managers none of whose phones has synced for a day: their figures may lack
/// visits still on a phone (a supervisor should not judge them yet). Empty when all have.
async fn unsynced(state: &AppState, lang: Lang, o: &Overview) -> Result<String, Refused> {
    let storage = state.storage.clone();
    let (devices, reports) = tokio::task::spawn_blocking(move || {
        Ok::<_, crate::error::AppError>((storage.devices()?, storage.device_reports()?))
    })
    .await
    .map_err(crate::error::AppError::internal)??;
    let now = fieldsync_core::Timestamp::now().0;
    let calendar = fieldsync_core::FieldCalendar::default();
    let mut late = Vec::new();
    for r in &o.rows {
        let last = devices
            .iter()
            .filter(|d| d.user_id == r.manager && d.revoked_at.is_none())
            .filter_map(|d| {
                super::fleet::last_sync(d, reports.iter().find(|p| p.device_id == d.device_id))
            })
            .max();
        if last.is_none_or(|ms| now - ms > SYNC_WARNING_MS) {
            let when = last.map_or_else(
                || t(lang, "never").to_owned(),
                |ms| super::html::when(&calendar, fieldsync_core::Timestamp(ms)),
            );
            late.push(format!("{} ({})", esc(&r.name), esc(&when)));
        }
    }
    if late.is_empty() {
        return Ok(String::new());
    }
    Ok(format!(
        "<p class=\"error\" id=\"unsynced\">{}: {}</p>",
        esc(t(lang, "unsynced")),
        late.join(", ")
    ))
}

fn num(n: usize, bad_when_positive: bool) -> String {
    if bad_when_positive && n > 0 {
        format!("<span class=\"bad\">{n}</span>")
    } else {
        n.to_string()
    }
}

/// The form that picks the day a page is judged on (and so its month), up to today, and
/// with `csv` the link to that month's CSV (the whole district's).
pub fn day_picker(lang: Lang, options: &ReportOptions, csv: bool) -> String {
    let mut out = format!(
        "<form method=\"get\" class=\"inline\"><input type=\"date\" name=\"day\" value=\"{}\" \
         max=\"{}\" aria-label=\"{}\"><button type=\"submit\">{}</button></form>",
        options.day,
        options.today,
        esc(t(lang, "as_of")),
        esc(t(lang, "as_of")),
    );
    if csv {
        out.push_str(&format!(
            " <a href=\"/console/assessment.csv?day={}\">{}</a>",
            options.day,
            esc(t(lang, "export_csv")),
        ));
    }
    out
}

/// The overview's markup.
pub fn render(lang: Lang, o: &Overview, took: std::time::Duration) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<p>{} {} · {} {} · <span class=\"note\">{} · {} {:.0} ms</span></p>",
        esc(t(lang, "month")),
        esc(&o.options.month.format("%Y-%m").to_string()),
        esc(t(lang, "as_of")),
        esc(&o.options.day.to_string()),
        esc(t(lang, "figures_note")),
        esc(t(lang, "computed_in")),
        took.as_secs_f64() * 1000.0,
    );
    out.push_str(&day_picker(lang, &o.options, true));
    let head = [
        t(lang, "manager"),
        t(lang, "stores"),
        t(lang, "r1_covered"),
        t(lang, "r1_visited"),
        t(lang, "r1_weeks"),
        t(lang, "r9_visits"),
        t(lang, "r9_below"),
        t(lang, "r5_unchecked"),
        t(lang, "r5_unwalked"),
        t(lang, "r5_sampled"),
        t(lang, "r2"),
        t(lang, "r3"),
        t(lang, "r6"),
        t(lang, "r7"),
        t(lang, "tasks"),
        t(lang, "clocks"),
        t(lang, "r10"),
        t(lang, "r4_spot_checked"),
        t(lang, "r8"),
        t(lang, "r4"),
    ];
    let rows: Vec<Vec<String>> = o
        .rows
        .iter()
        .map(|r| {
            let covered = o.covered.get(&r.manager).copied().unwrap_or(0);
            let met = o.clocks_met.get(&r.manager).copied().unwrap_or(0);
            vec![
                format!(
                    "<a href=\"/console/manager/{}?day={}\">{}</a>",
                    segment(&r.manager),
                    o.options.day,
                    esc(&r.name)
                ),
                r.stores.to_string(),
                covered.to_string(),
                // Counted among the stores owed this week, not derived from two sets.
                format!(
                    "<span data-figure=\"r1_visited\">{}</span>",
                    o.visited_this_week.get(&r.manager).copied().unwrap_or(0)
                ),
                // The month's ended weeks: each store not visited in one is a miss.
                format!(
                    "<span data-figure=\"r1_weeks\">{}</span> / {}",
                    num(r.r1_store_weeks_missed, true),
                    r.r1_weeks_judged
                ),
                format!("{} / {}", r.r9_visits_made, r.r9_visits_required),
                num(r.r9_stores_below_minimum, false),
                num(r.r5_demo_street_unchecked, true),
                // This week's, still in progress: a list to do, not a breach.
                num(r.r5_demo_street_unwalked, false),
                owed_cell(
                    r.r5_demo_street_sampled,
                    r.r5_demo_street_stores,
                    o.month_ended,
                ),
                num(r.r2_price_tag_violations, true),
                num(r.r3_count_findings, true),
                num(r.r6_demo_street_failing, true),
                follow_up_cell(lang, r, o.follow_ups_due.get(&r.manager)),
                format!("{} / {}", r.tasks_open, num(r.tasks_overdue, true)),
                format!(
                    "{} / {} / {}",
                    r.r9_clocks_running,
                    met,
                    num(r.r9_clocks_breached, true)
                ),
                num(r.r10_requests_unanswered, true),
                owed_cell(r.r4_stores_spot_checked, r.stores as u32, o.month_ended),
                r.r8_training_days.to_string(),
                scorecard_cell(lang, r),
            ]
        })
        .collect();
    out.push_str(&table("overview", &head, &rows));
    if !o.unreadable.is_empty() {
        let _ = write!(
            out,
            "<p class=\"error\">{}: {}</p>",
            esc(t(lang, "damaged")),
            o.unreadable.len()
        );
    }
    let _ = write!(
        out,
        "<div class=\"charts\"><figure id=\"coverage-chart\"><figcaption>{}</figcaption>{}\
         </figure><figure id=\"trend-chart\"><figcaption>{}</figcaption>{}</figure>\
         <figure id=\"clocks-chart\"><figcaption>{}</figcaption>{}</figure>\
         <figure id=\"violations-chart\"><figcaption>{}</figcaption>{}</figure></div>",
        esc(t(lang, "coverage_chart")),
        chart::bars(&o.coverage, 100.0, "%"),
        esc(t(lang, "trend_chart")),
        chart::lines(&o.trend),
        esc(t(lang, "clocks_chart")),
        clocks_chart(lang, o),
        esc(t(lang, "violations_chart")),
        violations::render(lang, &o.violations),
    );
    out
}

/// R9's service clocks per account manager: running, met this month, breached this month.
fn clocks_chart(lang: Lang, o: &Overview) -> String {
    let states = [("running", 0), ("met", 1), ("breached", 2)];
    let counts: Vec<[usize; 3]> = o
        .rows
        .iter()
        .map(|r| {
            [
                r.r9_clocks_running,
                o.clocks_met.get(&r.manager).copied().unwrap_or(0),
                r.r9_clocks_breached,
            ]
        })
        .collect();
    let series: Vec<Series> = states
        .iter()
        .map(|(key, i)| Series {
            name: t(lang, key).to_owned(),
            points: o
                .rows
                .iter()
                .zip(&counts)
                .map(|(r, c)| (r.name.clone(), c[*i] as f64))
                .collect(),
        })
        .collect();
    let top = counts.iter().flatten().copied().max().unwrap_or(0).max(4);
    chart::bars(&series, top.div_ceil(4) as f64 * 4.0, "")
}

/// R7's cell: follow-ups in all, not done, and those still due by rating.
fn follow_up_cell(lang: Lang, r: &ManagerRow, due: Option<&[usize; 4]>) -> String {
    let mut cell = format!("{} / {}", r.r7_follow_ups, num(r.r7_not_done, true));
    if let Some(due) = due.filter(|d| d.iter().any(|n| *n > 0)) {
        let names = [
            "rating_excellent",
            "rating_good",
            "rating_qualified",
            "rating_unqualified",
        ];
        let parts: Vec<String> = names
            .iter()
            .zip(due)
            .filter(|(_, n)| **n > 0)
            .map(|(name, n)| format!("{} {n}", esc(t(lang, name))))
            .collect();
        let _ = write!(
            cell,
            "<br><span class=\"note\">{}</span>",
            parts.join(" · ")
        );
    }
    cell
}

/// A monthly cadence's cell, `done / of` (R4's spot checks of the territory's stores, R5's
/// sample of its demo street): bad when the month is over and none of `of` (more than 0)
/// was done; while it runs, none done yet is still to do.
fn owed_cell(done: u32, of: u32, month_ended: bool) -> String {
    if month_ended && of > 0 && done == 0 {
        format!("<span class=\"bad\">0</span> / {of}")
    } else {
        format!("{done} / {of}")
    }
}

/// R4's cell: the total with pass / assessment and the bonus, or a dash; and a warning when
/// more than one scorecard scores the month (the total is the first one's).
pub fn scorecard_cell(lang: Lang, r: &ManagerRow) -> String {
    let mut cell = scorecard_total(lang, r);
    if r.r4_scorecards > 1 {
        let _ = write!(
            cell,
            "<br><span class=\"bad\">{} {}</span>",
            r.r4_scorecards,
            esc(t(lang, "scorecards_many"))
        );
    }
    cell
}

fn scorecard_total(lang: Lang, r: &ManagerRow) -> String {
    match (r.r4_total, r.r4_passes) {
        (Some(total), Some(passes)) => {
            let (class, word) = if passes {
                ("good", t(lang, "pass"))
            } else {
                ("bad", t(lang, "fail"))
            };
            let bonus = if r.r4_bonus == Some(true) {
                format!(" · {}", esc(t(lang, "bonus")))
            } else {
                String::new()
            };
            format!(
                "{total:.1} <span class=\"{class}\">{}</span>{bonus}",
                esc(word)
            )
        }
        _ => esc(t(lang, "none")),
    }
}
