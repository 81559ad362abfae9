//! One account manager's part of the overview (their row of `admin report`, the coverage
//! and trend series, their violations month by month), and the figures kept per manager
//! between overviews ([`ManagerCache`]).
//!
//! A district's overview is mostly these parts: twenty managers' rule queries over their
//! territory's index rows. A push comes from one phone, and what it brings counts for one
//! territory (the replica notes whose: [`Versions`]), so the overview after it computes
//! that manager's part again and takes the others' as they were. The district-wide
//! figures (the month's complaint clocks, the damaged documents) are computed every time.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{Duration, NaiveDate};
use fieldsync_core::{FieldCalendar, LocalStore, PriceTagsOverTime, TerminalRating};

use super::overview::{CACHE_FOR, COVERAGE_WEEKS};
use super::replica::Versions;
use super::violations;
use crate::admin::damaged::Unreadable;
use crate::admin::report::{District, ManagerRow, ReportOptions, manager_row};
use crate::error::AppResult;
use crate::storage::User;

/// One account manager's part of the overview.
#[derive(Debug)]
pub struct ManagerFigures {
    /// Their row, R9's clocks breached and running left at 0 (district-wide, filled in by
    /// the overview).
    pub row: ManagerRow,
    /// Stores R1 covers.
    pub covered: usize,
    /// Stores visited this week among those owed it ([`LocalStore::week_visited`]).
    pub visited_this_week: usize,
    /// R7 follow-ups not done in their period, by rating (excellent, good, qualified,
    /// unqualified).
    pub follow_ups_due: [usize; 4],
    /// (week start, share of the R1-covered stores owed that week that were visited in it,
    /// in percent: [`LocalStore::week_visited`]).
    pub coverage: Vec<(String, f64)>,
    /// (month start, visits made to R1-covered stores).
    pub trend: Vec<(String, f64)>,
    /// Their violations in each month of the trend ([`violations::KINDS`]; clocks 0).
    pub violations: Vec<[usize; 5]>,
    /// Documents their figures could not read.
    pub skipped: Vec<Unreadable>,
}

impl ManagerFigures {
    /// Computes `user`'s part over the replica `local`, for the trend's `months`.
    pub fn compute(
        local: &LocalStore,
        district: &District,
        user: &User,
        options: &ReportOptions,
        months: &[NaiveDate],
        memo: &mut PriceTagsOverTime,
    ) -> AppResult<ManagerFigures> {
        // On the console's threads each part waits for the syncs running (`priority.rs`):
        // a territory with a long history takes tens of milliseconds.
        let step_aside = crate::priority::step_aside;
        let mut skipped = Vec::new();
        let row = manager_row(local, district, user, options, &mut skipped)?;
        step_aside();
        let m = user.id.as_str();
        let covered = local
            .monthly_visits(m, options.day, options.min_visits)?
            .stores
            .len();
        let mut follow_ups_due = [0; 4];
        for f in local.terminal_follow_ups(m, options.day)? {
            if f.done != Some(true) {
                follow_ups_due[match f.rating {
                    TerminalRating::Excellent => 0,
                    TerminalRating::Good => 1,
                    TerminalRating::Qualified => 2,
                    TerminalRating::Unqualified => 3,
                }] += 1;
            }
        }
        // Each week's share over one set: the stores owed that week, and those of them
        // visited in it (as R1's weeks over a month judge them).
        let week = FieldCalendar::week_start(options.day);
        let mut coverage = Vec::new();
        let mut visited_this_week = 0;
        for back in (0..COVERAGE_WEEKS).rev() {
            step_aside();
            let start = week - Duration::weeks(back);
            let visited = local.week_visited(m, start)?;
            visited_this_week = visited.visited;
            coverage.push((start.format("%m-%d").to_string(), visited.percent()));
        }
        let mut trend = Vec::new();
        let mut below_minimum = Vec::new();
        for month in months {
            step_aside();
            let visits = local.monthly_visits(m, *month, options.min_visits)?;
            below_minimum.push(visits.below_minimum().count());
            trend.push((month.format("%Y-%m").to_string(), f64::from(visits.made())));
        }
        step_aside();
        let violations = violations::of_manager(local, m, months, &below_minimum, options, memo)?;
        Ok(ManagerFigures {
            row,
            covered,
            visited_this_week,
            follow_ups_due,
            coverage,
            trend,
            violations,
            skipped,
        })
    }
}

/// What a manager's kept figures were computed for.
#[derive(Debug, PartialEq)]
struct Key {
    version: (u64, u64),
    user: User,
    day: NaiveDate,
    month: NaiveDate,
    min_visits: u32,
}

#[derive(Debug)]
struct Kept {
    key: Key,
    at: Instant,
    figures: Arc<ManagerFigures>,
}

/// Each account manager's last figures, kept while nothing pulled since counts for them
/// ([`Versions::of`]), for the same day and minimum, and for at most [`CACHE_FOR`]: clocks
/// and deadlines move with time alone (as the whole overview's reuse, no longer).
#[derive(Debug, Default)]
pub struct ManagerCache {
    kept: Mutex<HashMap<String, Kept>>,
    computed: AtomicU64,
}

impl ManagerCache {
    /// `user`'s figures: the kept ones if still right, else computed (and kept).
    #[allow(clippy::too_many_arguments)]
    pub fn figures(
        &self,
        local: &LocalStore,
        versions: &Versions,
        district: &District,
        user: &User,
        options: &ReportOptions,
        months: &[NaiveDate],
        memo: &mut PriceTagsOverTime,
    ) -> AppResult<Arc<ManagerFigures>> {
        let key = Key {
            version: versions.of(&user.id),
            user: user.clone(),
            day: options.day,
            month: options.month,
            min_visits: options.min_visits,
        };
        // A poisoned lock: a page panicked while replacing an entry, each entry is whole.
        if let Some(kept) = self
            .kept
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&user.id)
            && kept.key == key
            && kept.at.elapsed() < CACHE_FOR
        {
            return Ok(kept.figures.clone());
        }
        let at = Instant::now();
        self.computed.fetch_add(1, Ordering::Relaxed);
        let figures = Arc::new(ManagerFigures::compute(
            local, district, user, options, months, memo,
        )?);
        self.kept.lock().unwrap_or_else(|p| p.into_inner()).insert(
            user.id.clone(),
            Kept {
                key,
                at,
                figures: figures.clone(),
            },
        );
        Ok(figures)
    }

    /// Managers' figures computed so far (not taken as kept).
    pub fn computed(&self) -> u64 {
        self.computed.load(Ordering::Relaxed)
    }

    /// Forgets the managers not in `managers` (users removed or no longer managers).
    pub fn keep_only(&self, managers: &[&User]) {
        self.kept
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|id, _| managers.iter().any(|m| &m.id == id));
    }
}
