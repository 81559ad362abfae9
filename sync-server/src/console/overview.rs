//! The district overview's figures, per account manager, this week and this month, and the
//! series its charts draw (the page is [`super::overview_page`]).
//!
//! The table's figures are `admin report`'s rows ([`crate::admin::report::report_over`]): core's rule queries
//! over the console's replica, the same answers an account manager's phone gives for the
//! same day. The last overview is kept a short while ([`OverviewCache`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{Duration, NaiveDate};
use fieldsync_core::{FieldCalendar, LocalStore, PriceTagsOverTime, Role, Timestamp};
use serde::Deserialize;

use super::ConsoleConfig;
use super::chart::Series;
use super::manager_figures::{ManagerCache, ManagerFigures};
use super::replica::Versions;
use super::session::{Refused, Signed};
use super::violations::{self, MonthViolations};
use crate::AppState;
use crate::admin::damaged;
use crate::admin::report::{District, ManagerRow, ReportOptions};
use crate::error::{AppError, AppResult};
use crate::storage::{SyncStorage, User};

/// Weeks the coverage chart shows, ending with the week of the day judged.
pub const COVERAGE_WEEKS: i64 = 8;
/// Months the trend chart shows, ending with the month judged.
pub const TREND_MONTHS: usize = 6;

/// `?day=YYYY-MM-DD`: the day judged (default today).
#[derive(Debug, Default, Deserialize)]
pub struct DayQuery {
    pub day: Option<String>,
}

impl DayQuery {
    /// The day asked for; a malformed one is refused with what was wrong.
    pub fn day(&self) -> Result<Option<NaiveDate>, Refused> {
        parse_day("day", self.day.as_deref())
    }
}

/// A `YYYY-MM-DD` query parameter, if given.
pub fn parse_day(name: &str, text: Option<&str>) -> Result<Option<NaiveDate>, Refused> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => NaiveDate::parse_from_str(t, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| {
                Refused::Internal(AppError::BadRequest(format!(
                    "`{name}` must be a date written `YYYY-MM-DD`, not `{t}`"
                )))
            }),
    }
}

/// Everything the overview shows.
#[derive(Debug)]
pub struct Overview {
    pub options: ReportOptions,
    /// The month shown is over (its last instant is at or before `options.as_of`): its
    /// monthly cadences owed and not kept are breaches, not yet to do.
    pub month_ended: bool,
    pub rows: Vec<ManagerRow>,
    /// Per account manager: stores R1 covers.
    pub covered: HashMap<String, usize>,
    /// Per account manager: stores visited this week among those owed it
    /// (`LocalStore::week_visited`).
    pub visited_this_week: HashMap<String, usize>,
    /// Per account manager: clocks met whose deadline fell in the month.
    pub clocks_met: HashMap<String, usize>,
    /// Per account manager: R7 follow-ups not done in their period, by rating
    /// (excellent, good, qualified, unqualified).
    pub follow_ups_due: HashMap<String, [usize; 4]>,
    /// Per account manager: (week start, share of the R1-covered stores owed that week that
    /// were visited in it).
    pub coverage: Vec<Series>,
    /// Per account manager: (month start, visits made to R1-covered stores).
    pub trend: Vec<Series>,
    /// The district's violations in each month of the trend.
    pub violations: Vec<MonthViolations>,
    /// The documents left out because they cannot be read, as `admin report` names them
    /// after its rows (the replica holds the whole district, as the admin device does).
    pub unreadable: Vec<damaged::Unreadable>,
}

/// Resolves the day judged into report options (the current month when no day is given).
pub fn options_for(
    day: Option<NaiveDate>,
    min_visits: u32,
    calendar: &FieldCalendar,
) -> AppResult<ReportOptions> {
    let now = Timestamp::now();
    refuse_future("day", day, calendar, now)?;
    ReportOptions::resolve(None, day, min_visits, calendar, now)
}

/// Refuses a day after today in the district, naming the query parameter `name`.
pub fn refuse_future(
    name: &str,
    day: Option<NaiveDate>,
    calendar: &FieldCalendar,
    now: Timestamp,
) -> AppResult<()> {
    let today = calendar.date(now);
    match day.filter(|d| *d > today) {
        Some(later) => Err(AppError::BadRequest(format!(
            "`{name}` {later} is after today ({today}): the console shows days that have begun"
        ))),
        None => Ok(()),
    }
}

impl Overview {
    /// Computes the overview over the replica `local` for the account managers in `users`,
    /// every manager's part afresh.
    pub fn compute(
        local: &LocalStore,
        users: Vec<User>,
        options: ReportOptions,
        memo: &mut PriceTagsOverTime,
    ) -> AppResult<Overview> {
        Overview::compute_with(local, users, options, memo, None)
    }

    /// As [`Overview::compute`], taking each manager's part from `kept` while nothing
    /// pulled since counts for them (`versions`: see [`ManagerCache`]).
    pub fn compute_reusing(
        local: &LocalStore,
        users: Vec<User>,
        options: ReportOptions,
        memo: &mut PriceTagsOverTime,
        (versions, kept): (&Versions, &ManagerCache),
    ) -> AppResult<Overview> {
        Overview::compute_with(local, users, options, memo, Some((versions, kept)))
    }

    fn compute_with(
        local: &LocalStore,
        users: Vec<User>,
        options: ReportOptions,
        memo: &mut PriceTagsOverTime,
        reuse: Option<(&Versions, &ManagerCache)>,
    ) -> AppResult<Overview> {
        let managers: Vec<&User> = users
            .iter()
            .filter(|u| u.role == Role::AccountManager)
            .collect();
        let months = trend_months(options.day);
        let mut skipped = Vec::new();
        // On the console's threads, each step waits for the syncs running (`priority.rs`).
        crate::priority::step_aside();
        crate::admin::report::set_roles(local, &users)?;
        let district = District::read(local, &options, &mut skipped)?;
        let mut parts = Vec::with_capacity(managers.len());
        for m in &managers {
            crate::priority::step_aside();
            parts.push(match reuse {
                Some((versions, kept)) => {
                    kept.figures(local, versions, &district, m, &options, &months, memo)?
                }
                None => Arc::new(ManagerFigures::compute(
                    local, &district, m, &options, &months, memo,
                )?),
            });
        }
        if let Some((_, kept)) = reuse {
            kept.keep_only(&managers);
        }
        crate::priority::step_aside();
        let mut overview = Overview {
            rows: Vec::with_capacity(managers.len()),
            covered: HashMap::new(),
            visited_this_week: HashMap::new(),
            clocks_met: district.met.clone(),
            follow_ups_due: HashMap::new(),
            coverage: Vec::new(),
            trend: Vec::new(),
            violations: violations::district(
                local,
                &months,
                parts.iter().map(|p| p.violations.as_slice()),
                &options,
            )?,
            unreadable: Vec::new(),
            month_ended: options.as_of.0 + 1
                >= local
                    .calendar()
                    .start_of(FieldCalendar::next_month_start(options.month))
                    .0,
            options,
        };
        for (m, part) in managers.iter().zip(&parts) {
            let mut row = part.row.clone();
            district.fill_clocks(&mut row);
            overview.rows.push(row);
            overview.covered.insert(m.id.clone(), part.covered);
            overview
                .visited_this_week
                .insert(m.id.clone(), part.visited_this_week);
            overview
                .follow_ups_due
                .insert(m.id.clone(), part.follow_ups_due);
            overview.coverage.push(Series {
                name: m.name.clone(),
                points: part.coverage.clone(),
            });
            overview.trend.push(Series {
                name: m.name.clone(),
                points: part.trend.clone(),
            });
            skipped.extend(part.skipped.iter().cloned());
        }
        crate::priority::step_aside();
        let mut unreadable = damaged::damaged(local)?;
        damaged::merge(&mut unreadable, skipped);
        overview.unreadable = unreadable;
        Ok(overview)
    }
}

/// The first days of the [`TREND_MONTHS`] months ending with the month of `day`, oldest
/// first.
pub fn trend_months(day: NaiveDate) -> Vec<NaiveDate> {
    let mut months = vec![FieldCalendar::month_start(day)];
    while months.len() < TREND_MONTHS {
        let Some(last) = months.last().copied() else {
            break;
        };
        months.push(FieldCalendar::month_start(last - Duration::days(1)));
    }
    months.reverse();
    months
}

/// How long a computed overview is shown again while nothing new has been pushed: clocks
/// and deadlines move with time alone, so not for long.
pub const CACHE_FOR: std::time::Duration = std::time::Duration::from_secs(30);

/// The last overview computed, with the log position read before the replica's pull: a
/// request that finds the log still there, for the same day, within [`CACHE_FOR`], is
/// answered with it. A push after that read moves the log, so no change is ever hidden.
#[derive(Debug, Default)]
pub struct OverviewCache(Mutex<Option<Cached>>);

#[derive(Debug)]
struct Cached {
    position: u64,
    day: Option<NaiveDate>,
    at: Instant,
    overview: Arc<Overview>,
}

impl OverviewCache {
    fn get(&self, position: u64, day: Option<NaiveDate>) -> Option<Arc<Overview>> {
        let cached = self.0.lock().unwrap_or_else(|p| p.into_inner());
        cached
            .as_ref()
            .filter(|c| c.position == position && c.day == day && c.at.elapsed() < CACHE_FOR)
            .map(|c| c.overview.clone())
    }

    fn put(&self, position: u64, day: Option<NaiveDate>, overview: Arc<Overview>) {
        let mut cached = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *cached = Some(Cached {
            position,
            day,
            at: Instant::now(),
            overview,
        });
    }
}

fn lock(memo: &Mutex<PriceTagsOverTime>) -> std::sync::MutexGuard<'_, PriceTagsOverTime> {
    // A poisoned lock means an overview panicked mid-way; readings are kept per display
    // whole, so what is there is still right.
    memo.lock().unwrap_or_else(|p| p.into_inner())
}

/// Computes today's overview once and throws it away, so that R2's past readings are in
/// memory before the first page: the first overview after a start reads every display
/// changed since each past month's end (seconds at the district's size). Blocking: for
/// the thread that warms the replica at start.
pub fn warm(config: &ConsoleConfig, storage: &dyn SyncStorage) -> AppResult<usize> {
    config.replica.with(storage, |local| {
        let options = options_for(None, config.min_visits, local.calendar())?;
        let mut memo = lock(&config.price_tags);
        Overview::compute(local, storage.users()?, options, &mut memo)?;
        Ok(memo.past_reads)
    })
}

/// Computes the overview on a console thread (or takes the cached one), with the time it
/// took.
pub async fn load(
    state: &AppState,
    signed: &Signed,
    day: Option<NaiveDate>,
) -> Result<(Arc<Overview>, std::time::Duration), Refused> {
    let storage = state.storage.clone();
    let console = signed.console.clone();
    let computed = super::background::run(move || {
        let started = Instant::now();
        let position = storage.log_position()?;
        if let Some(overview) = console.overviews.get(position, day) {
            return Ok((overview, started.elapsed()));
        }
        let overview = console
            .replica
            .with_versions(storage.as_ref(), |local, versions| {
                let options = options_for(day, console.config.min_visits, local.calendar())?;
                // Pages wait for the replica's lock first, so this one is never contended.
                let mut memo = lock(&console.config.price_tags);
                let users = storage.users()?;
                let reuse = (versions, &console.manager_figures);
                Overview::compute_reusing(local, users, options, &mut memo, reuse)
            })?;
        let overview = Arc::new(overview);
        console.overviews.put(position, day, overview.clone());
        Ok::<_, AppError>((overview, started.elapsed()))
    })
    .await?;
    Ok(computed)
}
