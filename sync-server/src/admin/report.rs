//! `admin report`: the district's compliance report (R1–R10), one row per account manager.
//!
//! Every figure comes from core's rule queries run on the admin device's local store after
//! a pull: the same code the phones run, over the whole district. Where core has a query
//! for one rule (R1, R2, R3, R4's spot checks, R5, R7, R9's visits and open clocks, R10,
//! tasks) the report counts its answer; R4, R6, R8 and the month's complaint clocks are read from the
//! documents with core's own verdicts (`Scorecard::outcome`, `ShelfDisplay::failed_standards`,
//! `Complaint::clocks`). The columns are described in [`HELP`].

use std::collections::BTreeMap;
use std::io::Write;

use chrono::{Duration, NaiveDate};
use fieldsync_core::{FieldCalendar, LocalStore, Timestamp};

mod columns;
mod row;

pub use columns::{COLUMNS, HELP};
pub use row::{District, manager_row};

use super::AdminDevice;
use super::blobs::PhotoUse;
use super::damaged::{self, Unreadable};
use crate::error::{AppError, AppResult};

/// The period a report covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportOptions {
    /// The first day of the month reported.
    pub month: NaiveDate,
    /// The day R1, R5 and R7 are judged on (R5's walk on its ISO week).
    pub day: NaiveDate,
    /// The instant clocks and deadlines are judged at.
    pub as_of: Timestamp,
    /// R9's minimum of visits per R1-covered store.
    pub min_visits: u32,
    /// When the report is made: the weeks of the month judged whole (R1 and R5's walk
    /// over the month) are those ended by then, so a past month's last week, which may end
    /// in the next month, is judged once it is over.
    pub now: Timestamp,
    /// The district's local date at `now`: the last day a report may be asked for.
    pub today: NaiveDate,
}

/// The days of the month reported, local dates as days since 1970-01-01, for the reused
/// photos (whose days are local dates: `storage::photo_uses::local_day`).
pub fn month_days(options: &ReportOptions) -> std::ops::Range<i64> {
    let epoch = chrono::DateTime::UNIX_EPOCH.date_naive();
    let day = |d: NaiveDate| d.signed_duration_since(epoch).num_days();
    let next = FieldCalendar::next_month_start(options.month);
    day(options.month)..day(next)
}

/// Photo hashes used more than once, with every use of each, as
/// [`reused`](super::blobs::reused) reads them from the server's storage.
pub type Reused = BTreeMap<String, Vec<PhotoUse>>;

/// The photos of `reused` with a use in `days` (the month's: [`month_days`]), each with
/// every use, in the order the report lists them.
pub fn reused_in<'a>(
    reused: &'a Reused,
    days: &std::ops::Range<i64>,
) -> Vec<(&'a String, &'a Vec<PhotoUse>)> {
    reused
        .iter()
        .filter(|(_, uses)| uses.iter().any(|u| days.contains(&u.day)))
        .collect()
}

/// Writes the reused photos' section (see [`HELP`]) when a photo of the month was reused.
pub fn write_reuse_section(
    reused: &Reused,
    days: std::ops::Range<i64>,
    mut out: impl Write,
) -> AppResult<()> {
    let of_month = reused_in(reused, &days);
    if of_month.is_empty() {
        return Ok(());
    }
    writeln!(out).map_err(|e| AppError::Internal(format!("cannot write the report: {e}")))?;
    super::blobs::write_reuse(of_month, &super::blobs::REUSE_SECTION_COLUMNS, out)
}

/// Writes the whole report as `admin report` gives it (see [`HELP`]): the rows under the
/// [`COLUMNS`] header, then the documents that cannot be read
/// ([`damaged::write_section`]), then the month's reused photos ([`write_reuse_section`]);
/// a section with nothing to list is left out. The console's `GET
/// /console/assessment.csv` writes the same after a byte-order mark.
pub fn write_report(
    rows: &[ManagerRow],
    unreadable: &[Unreadable],
    reused: &Reused,
    options: &ReportOptions,
    mut out: impl Write,
) -> AppResult<()> {
    write_csv(rows, &mut out)?;
    damaged::write_section(unreadable, &mut out)?;
    write_reuse_section(reused, month_days(options), &mut out)
}

/// Parses `YYYY-MM` into the month's first day (clap's value parser for `--month`).
pub fn parse_month(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(&format!("{}-01", text.trim()), "%Y-%m-%d")
        .map_err(|_| format!("`{text}` is not a month written `YYYY-MM`"))
}

impl ReportOptions {
    /// Fills in what the command line left out (see [`HELP`]); `now` is the current instant.
    pub fn resolve(
        month: Option<NaiveDate>,
        day: Option<NaiveDate>,
        min_visits: u32,
        calendar: &FieldCalendar,
        now: Timestamp,
    ) -> AppResult<ReportOptions> {
        let today = calendar.date(now);
        // A month or day to come has no records to judge: every figure would read as owed.
        if let Some(later) = day.filter(|d| *d > today) {
            return Err(AppError::BadRequest(format!(
                "`--day` {later} is after today ({today}): a report covers days that have begun"
            )));
        }
        if let Some(later) = month.filter(|m| *m > today) {
            return Err(AppError::BadRequest(format!(
                "`--month` {} has not begun (today is {today})",
                later.format("%Y-%m")
            )));
        }
        let month = FieldCalendar::month_start(month.or(day).unwrap_or(today));
        let next = FieldCalendar::next_month_start(month);
        let day = match day {
            Some(d) if FieldCalendar::month_start(d) != month => {
                return Err(AppError::BadRequest(format!(
                    "`--day` {d} is not in `--month` {}",
                    month.format("%Y-%m")
                )));
            }
            Some(d) => d,
            None if today >= month && today < next => today,
            None => next - Duration::days(1),
        };
        let end_of_day = Timestamp(calendar.start_of(day + Duration::days(1)).0 - 1);
        Ok(ReportOptions {
            month,
            day,
            as_of: end_of_day.min(now),
            min_visits,
            now,
            today,
        })
    }
}

/// One account manager's line of the report.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ManagerRow {
    pub manager: String,
    pub name: String,
    pub stores: usize,
    pub r1_due_this_week: usize,
    pub r1_weeks_judged: usize,
    pub r1_store_weeks_missed: usize,
    pub r2_price_tag_violations: usize,
    pub r3_count_findings: usize,
    /// `YYYY-MM`.
    pub month: String,
    pub r4_total: Option<f64>,
    pub r4_passes: Option<bool>,
    pub r4_bonus: Option<bool>,
    pub r4_scorecards: usize,
    pub r4_stores_spot_checked: u32,
    pub r5_demo_street_unchecked: usize,
    pub r5_demo_street_unwalked: usize,
    pub r5_store_weeks_unwalked: usize,
    pub r5_demo_street_stores: u32,
    pub r5_demo_street_sampled: u32,
    pub r6_demo_street_failing: usize,
    pub r7_follow_ups: usize,
    pub r7_not_done: usize,
    pub r8_training_days: usize,
    pub r9_visits_made: u32,
    pub r9_visits_required: u32,
    pub r9_stores_below_minimum: usize,
    pub r9_clocks_breached: usize,
    pub r9_clocks_running: usize,
    pub r10_requests_received: u32,
    pub r10_requests_unanswered: usize,
    pub tasks_open: usize,
    pub tasks_overdue: usize,
}

impl ManagerRow {
    /// The row's fields in [`COLUMNS`] order.
    pub fn record(&self) -> Vec<String> {
        let yes_no = |b: Option<bool>| match b {
            Some(true) => "yes".to_owned(),
            Some(false) => "no".to_owned(),
            None => String::new(),
        };
        vec![
            self.manager.clone(),
            self.name.clone(),
            self.month.clone(),
            self.stores.to_string(),
            self.r1_due_this_week.to_string(),
            self.r1_weeks_judged.to_string(),
            self.r1_store_weeks_missed.to_string(),
            self.r2_price_tag_violations.to_string(),
            self.r3_count_findings.to_string(),
            self.r4_total.map(|t| format!("{t:.1}")).unwrap_or_default(),
            yes_no(self.r4_passes),
            yes_no(self.r4_bonus),
            self.r4_scorecards.to_string(),
            self.r4_stores_spot_checked.to_string(),
            self.r5_demo_street_unchecked.to_string(),
            self.r5_demo_street_unwalked.to_string(),
            self.r5_store_weeks_unwalked.to_string(),
            self.r5_demo_street_stores.to_string(),
            self.r5_demo_street_sampled.to_string(),
            self.r6_demo_street_failing.to_string(),
            self.r7_follow_ups.to_string(),
            self.r7_not_done.to_string(),
            self.r8_training_days.to_string(),
            self.r9_visits_made.to_string(),
            self.r9_visits_required.to_string(),
            self.r9_stores_below_minimum.to_string(),
            self.r9_clocks_breached.to_string(),
            self.r9_clocks_running.to_string(),
            self.r10_requests_received.to_string(),
            self.r10_requests_unanswered.to_string(),
            self.tasks_open.to_string(),
            self.tasks_overdue.to_string(),
        ]
    }
}

/// Computes the report from the admin device's local store (pull first).
pub fn compliance_report(
    admin: &AdminDevice<'_>,
    options: &ReportOptions,
) -> AppResult<Vec<ManagerRow>> {
    Ok(compliance_report_naming(admin, options)?.0)
}

/// As [`compliance_report`], with the documents left out because they cannot be read.
pub fn compliance_report_naming(
    admin: &AdminDevice<'_>,
    options: &ReportOptions,
) -> AppResult<(Vec<ManagerRow>, Vec<Unreadable>)> {
    report_over(&admin.local, admin.storage().users()?, options)
}

/// The report computed over `local`, a store holding the whole district (the admin
/// device's, or the console's replica), for the account managers among `users`.
pub fn report_over(
    local: &LocalStore,
    users: Vec<crate::storage::User>,
    options: &ReportOptions,
) -> AppResult<(Vec<ManagerRow>, Vec<Unreadable>)> {
    let mut skipped = Vec::new();
    set_roles(local, &users)?;
    let district = District::read(local, options, &mut skipped)?;
    let mut rows = Vec::new();
    for user in users
        .iter()
        .filter(|u| u.role == fieldsync_core::Role::AccountManager)
    {
        let mut row = manager_row(local, &district, user, options, &mut skipped)?;
        district.fill_clocks(&mut row);
        rows.push(row);
    }
    let mut unreadable = damaged::damaged(local)?;
    damaged::merge(&mut unreadable, skipped);
    Ok((rows, unreadable))
}

/// Tells `local` every user's role, so that the cadences count a visit only from the role
/// its kind needs (`LocalStore::set_user_roles`): a visit stored before the server bound
/// kinds to roles does not pass for another role's.
pub fn set_roles(local: &LocalStore, users: &[crate::storage::User]) -> AppResult<()> {
    let roles: Vec<(String, fieldsync_core::Role)> =
        users.iter().map(|u| (u.id.clone(), u.role)).collect();
    local.set_user_roles(&roles)?;
    Ok(())
}

/// Writes the report as CSV with the [`COLUMNS`] header.
pub fn write_csv(rows: &[ManagerRow], out: impl Write) -> AppResult<()> {
    let mut writer = csv::Writer::from_writer(out);
    let io = |e: csv::Error| AppError::Internal(format!("cannot write the report: {e}"));
    writer.write_record(COLUMNS).map_err(io)?;
    for row in rows {
        writer.write_record(row.record()).map_err(io)?;
    }
    writer
        .flush()
        .map_err(|e| AppError::Internal(format!("cannot write the report: {e}")))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("test date")
    }

    #[test]
    fn a_past_month_is_judged_on_its_last_day_and_the_current_month_on_today() {
        let cal = FieldCalendar::default();
        let now = fieldsync_core::fixtures::at("2026-11-18T10:00:00+08:00");
        let past =
            ReportOptions::resolve(Some(day("2026-10-01")), None, 4, &cal, now).expect("options");
        assert_eq!(past.day, day("2026-10-31"));
        assert_eq!(
            past.as_of,
            fieldsync_core::fixtures::at("2026-10-31T23:59:59.999+08:00")
        );
        let current = ReportOptions::resolve(None, None, 4, &cal, now).expect("options");
        assert_eq!(
            (current.month, current.day, current.as_of),
            (day("2026-11-01"), day("2026-11-18"), now)
        );
        assert!(
            ReportOptions::resolve(
                Some(day("2026-11-01")),
                Some(day("2026-10-30")),
                4,
                &cal,
                now
            )
            .is_err(),
            "a day outside the month is refused"
        );
        for (month, d) in [
            (None, Some(day("2026-11-19"))),
            (Some(day("2026-12-01")), None),
        ] {
            let err = ReportOptions::resolve(month, d, 4, &cal, now).expect_err("to come");
            assert!(err.to_string().contains("2026-11-18"), "{err}");
        }
        assert_eq!(parse_month("2026-11"), Ok(day("2026-11-01")));
        assert!(parse_month("2026-13").is_err());
    }
}
