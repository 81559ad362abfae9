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

/// The violations of `months` over the territories of `managers`, counted up to
/// `options.as_of`; `below_minimum` is R9's stores below the minimum per month, already
/// summed by the caller (the trend chart reads the same monthly visits).
pub fn compute(
    local: &LocalStore,
    managers: &[String],
    months: &[NaiveDate],
    below_minimum: &[usize],
    options: &ReportOptions,
    memo: &mut PriceTagsOverTime,
) -> AppResult<Vec<MonthViolations>> {
    let cal = local.calendar();
    let as_of = options.as_of;
    let bounds = bounds(cal, months, as_of);
    // R2 is read at each month's end, the month in progress at the end of the day judged
    // (not `as_of`, which is now for today): the instants stay the same all day, so the
    // readings kept in `memo` serve every overview of the day.
    let day_end = Timestamp(cal.start_of(options.day + chrono::Duration::days(1)).0 - 1);
    let ends: Vec<Timestamp> = months
        .iter()
        .map(|m| {
            let month_end = cal.start_of(FieldCalendar::next_month_start(*m)).0 - 1;
            Timestamp(month_end.min(day_end.0))
        })
        .collect();
    let mut out: Vec<MonthViolations> = months
        .iter()
        .zip(below_minimum.iter().chain(std::iter::repeat(&0)))
        .map(|(month, below)| MonthViolations {
            month: *month,
            counts: [0, 0, 0, 0, *below],
        })
        .collect();
    for manager in managers {
        let r2 = local.price_tag_breaches_at(manager, &ends, memo)?;
        for ((row, (from, to)), breaking) in out.iter_mut().zip(&bounds).zip(r2) {
            let events = local.period_events(manager, *from, *to)?;
            row.counts[0] += breaking;
            row.counts[1] += events.counts_over_limit;
            row.counts[3] += events.visits_out_of_range;
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
