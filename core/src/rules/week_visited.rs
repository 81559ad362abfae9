//! R1 in one week, as a share: the stores a territory owes the week and how many of them
//! were visited in it, for the console's "visited this week" and its coverage chart.
//!
//! Both numbers are read over one set of stores, the way R1's weeks over a month read them
//! (`month_weeks.rs`, docs/adr/0029): the stores R1 covered that the territory held at the
//! week's middle instant (Thursday noon), and among them those with a visit in the week by
//! a manager who held the store when making it. A store moved away before the week's
//! middle is owed by its new manager, not by the former one, and is not counted visited
//! for anyone who did not visit it. A week in progress counts the visits made so far. The
//! manager page marks each store the same way ([`LocalStore::week_owed`]).

use chrono::{Duration, NaiveDate};
use rusqlite::params;

use super::{ever_held_by, held_at, period_at};
use crate::error::Result;
use crate::ids::DocId;
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
        let owed = self.week_owed(manager, day)?;
        Ok(WeekVisited {
            week_start: FieldCalendar::week_start(day),
            owed: owed.len(),
            visited: owed.iter().filter(|(_, visited)| *visited).count(),
        })
    }

    /// The stores [`LocalStore::week_visited`] counts, each with whether it was visited in
    /// the week (by id).
    pub fn week_owed(&self, manager: &str, day: NaiveDate) -> Result<Vec<(DocId, bool)>> {
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
            "SELECT s.id, EXISTS (SELECT 1 FROM visit_index v WHERE v.store_id = s.id
                                  AND v.check_in_at >= ?2 AND v.check_in_at < ?3
                                  AND {visitor_held} = v.visitor)
             FROM store_index s
             WHERE {ever} AND {owed_by} = ?1 AND {covered} = 1
             ORDER BY s.id"
        );
        let inner = self.lock()?;
        let rows = inner
            .conn
            .prepare_cached(&sql)?
            .query_map(params![manager, from.0, to.0, middle], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(id, visited)| Ok((DocId::parse("id", &id)?, visited)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_week_owing_no_store_shows_no_share_rather_than_none_of_none() {
        let week = |owed, visited| WeekVisited {
            week_start: NaiveDate::from_ymd_opt(2026, 11, 23).expect("a Monday"),
            owed,
            visited,
        };
        // A chart point, never NaN: a manager owing nothing this week has 0%.
        assert_eq!(week(0, 0).percent(), 0.0);
        assert_eq!(week(4, 1).percent(), 25.0);
        assert_eq!(week(2, 2).percent(), 100.0);
    }
}
