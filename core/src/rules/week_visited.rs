//! R1 in one week, as a share: the stores a territory owes the week and how many of them
//! were visited in it, for the console's "visited this week" and its coverage chart.
//!
//! Both numbers are read over one set of stores, the way R1's weeks over a month read them
//! (`month_weeks.rs`, docs/adr/0029): the stores R1 covered that the territory held at the
//! week's middle instant (Thursday noon), and among them those with a visit in the week by
//! a manager who held the store when making it. A store moved away before the week's
//! middle is owed by its new manager, not by the former one, and is not counted visited
//! for anyone who did not visit it. A week in progress counts the visits made so far.

use chrono::{Duration, NaiveDate};
use rusqlite::params;

use super::{ever_held_by, held_at, period_at};
use crate::error::Result;
use crate::store::LocalStore;
use crate::time::FieldCalendar;

/// The stores a territory owes R1 in one ISO week, and how many of them were visited.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WeekVisited {
    /// The week's Monday.
    pub week_start: NaiveDate,
    /// R1-covered stores the territory held at the week's middle.
    pub owed: usize,
    /// Those of them visited in the week by a manager who held the store then.
    pub visited: usize,
}

impl WeekVisited {
    /// The share of the stores owed that were visited, in percent (0 when none is owed).
    pub fn percent(&self) -> f64 {
        if self.owed == 0 {
            0.0
        } else {
            self.visited as f64 * 100.0 / self.owed as f64
        }
    }
}

impl LocalStore {
    /// R1 in the ISO week holding `day` for `manager`'s territory (see the module).
    pub fn week_visited(&self, manager: &str, day: NaiveDate) -> Result<WeekVisited> {
        let cal = self.calendar();
        let week_start = FieldCalendar::week_start(day);
        let (from, to) = (
            cal.start_of(week_start),
            cal.start_of(week_start + Duration::days(7)),
        );
        let middle = from.0 + (to.0 - from.0) / 2;
        let (ever, owed_by, visitor_held) =
            (ever_held_by(1), held_at("?4"), held_at("v.check_in_at"));
        let covered = period_at("r1_covered", "?4");
        let sql = format!(
            "SELECT COUNT(*), COALESCE(SUM(EXISTS (
                        SELECT 1 FROM visit_index v WHERE v.store_id = s.id
                        AND v.check_in_at >= ?2 AND v.check_in_at < ?3
                        AND {visitor_held} = v.visitor)), 0)
             FROM store_index s
             WHERE {ever} AND {owed_by} = ?1 AND {covered} = 1"
        );
        let inner = self.lock()?;
        let (owed, visited) = inner
            .conn
            .prepare_cached(&sql)?
            .query_row(params![manager, from.0, to.0, middle], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
            })?;
        Ok(WeekVisited {
            week_start,
            owed: usize::try_from(owed).unwrap_or(0),
            visited: usize::try_from(visited).unwrap_or(0),
        })
    }
}
