//! The district's rule violations month by month, for the overview's "violations over
//! time" chart and the table beside it: R2 displays over the price-tag limit at the
//! month's end, R3 counts over the error limit, R9 complaint clocks breached, visits
//! checked in outside the geofence, and R9 stores visited fewer times than the minimum.
//!
//! Every figure comes from core's rule code over the console's replica (core's
//! `rules/over_time.rs`, a complaint's clocks, `monthly_visits`), summed over the account
//! managers. The month in progress counts up to the day judged.

use std::fmt::Write as _;

use chrono::NaiveDate;
use fieldsync_core::{
    ClockState, DocKind, FieldCalendar, LocalStore, PriceTagsOverTime, Timestamp,
};

use super::chart::{self, Series};
use super::html::{esc, table};
use super::i18n::{Lang, t};
use crate::admin::report::ReportOptions;
use crate::error::AppResult;

/// The kinds of violation, in the order of the chart's series and the table's columns.
pub const KINDS: [&str; 5] = [
    "v_price_tags",
    "v_counts",
    "v_clocks",
    "v_geofence",
    "v_below_minimum",
];

/// One month's violations in the district, in the order of [`KINDS`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MonthViolations {
    pub month: NaiveDate,
    pub counts: [usize; 5],
}

/// The months `first..` the chart shows (each the first of its month), ending at `as_of`.
fn bounds(
    cal: &FieldCalendar,
    months: &[NaiveDate],
    as_of: Timestamp,
) -> Vec<(Timestamp, Timestamp)> {
    months
        .iter()
        .map(|m| {
            let from = cal.start_of(*m);
            let next = cal.start_of(FieldCalendar::next_month_start(*m));
            (from, Timestamp(next.0.min(as_of.0.saturating_add(1))))
        })
        .collect()
}

/// The instants R2 is read at for `months`: each month's end, the month in progress at the
/// end of the day judged (not `as_of`, which is now for today), so the instants stay the
/// same all day and the readings kept in a [`PriceTagsOverTime`] serve every overview of
/// the day.
fn month_ends(
    cal: &FieldCalendar,
    months: &[NaiveDate],
    options: &ReportOptions,
) -> Vec<Timestamp> {
    let day_end = Timestamp(cal.start_of(options.day + chrono::Duration::days(1)).0 - 1);
    months
        .iter()
        .map(|m| {
            let month_end = cal.start_of(FieldCalendar::next_month_start(*m)).0 - 1;
            Timestamp(month_end.min(day_end.0))
        })
        .collect()
}

/// One account manager's violations in each of `months` (in the order of [`KINDS`]),
/// counted up to `options.as_of`: R2, R3 and the geofence from the manager's territory;
/// `below_minimum` is R9's stores below the minimum per month, counted by the caller (the
/// trend chart reads the same monthly visits). The clocks (district-wide) are left at 0.
pub fn of_manager(
    local: &LocalStore,
    manager: &str,
    months: &[NaiveDate],
    below_minimum: &[usize],
    options: &ReportOptions,
    memo: &mut PriceTagsOverTime,
) -> AppResult<Vec<[usize; 5]>> {
    let cal = local.calendar();
    let bounds = bounds(cal, months, options.as_of);
    let ends = month_ends(cal, months, options);
    let r2 = local.price_tag_breaches_at(manager, &ends, memo)?;
    let mut out = Vec::with_capacity(months.len());
    for (i, (from, to)) in bounds.iter().enumerate() {
        let events = local.period_events(manager, *from, *to)?;
        out.push([
            r2.get(i).copied().unwrap_or(0),
            events.counts_over_limit,
            0,
            events.visits_out_of_range,
            below_minimum.get(i).copied().unwrap_or(0),
        ]);
    }
    Ok(out)
}

/// The district's violations of `months`: the managers' own (from [`of_manager`]) summed,
/// and the complaint clocks breached in each month, counted up to `options.as_of`.
pub fn district<'a>(
    local: &LocalStore,
    months: &[NaiveDate],
    managers: impl IntoIterator<Item = &'a [[usize; 5]]>,
    options: &ReportOptions,
) -> AppResult<Vec<MonthViolations>> {
    let as_of = options.as_of;
    let bounds = bounds(local.calendar(), months, as_of);
    let mut out: Vec<MonthViolations> = months
        .iter()
        .map(|month| MonthViolations {
            month: *month,
            counts: [0; 5],
        })
        .collect();
    for manager in managers {
        for (row, theirs) in out.iter_mut().zip(manager) {
            for (sum, n) in row.counts.iter_mut().zip(theirs) {
                *sum += n;
            }
        }
    }
    for id in local.document_ids(DocKind::Complaint)? {
        // A complaint that cannot be read is named by the report's damaged list.
        let Ok(complaint) = local.complaint(&id) else {
            continue;
        };
        for (_, state) in complaint.clocks(as_of) {
            if let ClockState::Breached { due, .. } = state
                && let Some(i) = bounds.iter().position(|(f, t)| due >= *f && due < *t)
            {
                out[i].counts[2] += 1;
            }
        }
    }
    Ok(out)
}

/// Grouped bars of the kinds `kinds` (indexes into [`KINDS`]), one group per month, on a
/// scale of their own.
fn bars(lang: Lang, months: &[MonthViolations], kinds: &[usize]) -> String {
    let series: Vec<Series> = kinds
        .iter()
        .map(|k| Series {
            name: t(lang, KINDS[*k]).to_owned(),
            points: months
                .iter()
                .map(|m| (m.month.format("%Y-%m").to_string(), m.counts[*k] as f64))
                .collect(),
        })
        .collect();
    let top = months
        .iter()
        .flat_map(|m| kinds.iter().map(|k| m.counts[*k]))
        .max()
        .unwrap_or(0)
        .max(4);
    chart::bars(&series, top.div_ceil(4) as f64 * 4.0, "")
}

/// Two charts (the events, then R9's stores below the minimum, which counts stores and
/// runs to hundreds, on a scale of its own so it does not flatten the others) and, under
/// them, the same figures as a table.
pub fn render(lang: Lang, months: &[MonthViolations]) -> String {
    let mut out = bars(lang, months, &[0, 1, 2, 3]);
    out.push_str(&bars(lang, months, &[4]));
    let mut head = vec![t(lang, "month")];
    head.extend(KINDS.iter().map(|k| t(lang, k)));
    let rows: Vec<Vec<String>> = months
        .iter()
        .map(|m| {
            let mut row = vec![esc(&m.month.format("%Y-%m").to_string())];
            for (k, n) in KINDS.iter().zip(m.counts) {
                row.push(format!("<span data-violation=\"{k}\">{n}</span>"));
            }
            row
        })
        .collect();
    let _ = write!(out, "{}", table("violations", &head, &rows));
    out
}
