//! R1 and R5's walk over a month: the weekly visit and the market team's weekly walk judged
//! in every week of a month, for the monthly assessment, where `stores_due_visit` and
//! `demo_street_unwalked` answer one week (this week's to-do list).
//!
//! Decided (docs/adr/0028-supervision-cadences.md):
//! - a month's weeks are the ISO weeks whose Thursday falls in the month, as ISO 8601 gives
//!   weeks to years; so each week belongs to exactly one month, and a month has 4 or 5;
//! - a week is judged once it has ended (by the instant asked, `ended_by`): the week in
//!   progress is this week's list, not a miss, even on its Sunday; a past month's last
//!   week, which may end in the next month, is judged once it is over;
//! - a store is owed a week by the manager whose territory held it at the week's middle
//!   instant (Thursday noon: for a store that moved once that week, whoever held it for
//!   most of the week; `store_period`, every territory it has been in: docs/adr/0029),
//!   so a store imported or moved mid-month is not missed in the weeks before it arrived,
//!   and a store moved away is still owed by its former manager for the weeks it was
//!   theirs;
//! - the week is met by a visit in it by a manager who held the store when they made it:
//!   a visit the former manager made on the Monday of the week a store moved counts for
//!   its new manager, who owes that week;
//! - whether R1 covers a store (not Z3) and whether it is on the demo street are read as
//!   they were at the week's middle too: a store that joined the demo street on a Friday
//!   is owed walks from the next week on, and one reclassified as a small grocery on a
//!   Friday is still owed its visit that week.

use chrono::{Duration, NaiveDate};
use rusqlite::{CachedStatement, params};

use super::cadences::by_its_role;
use super::{ever_held_by, held_at, period_at};
use crate::error::Result;
use crate::ids::DocId;
use crate::kinds::visit::VisitKind;
use crate::store::LocalStore;
use crate::time::{FieldCalendar, Timestamp};

/// One ended ISO week of a month and the stores R1 covers that the account manager did not
/// visit in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WeekMissed {
    /// The week's Monday.
    pub week_start: NaiveDate,
    /// By name.
    pub stores: Vec<DocId>,
}

/// The Mondays of the ISO weeks that belong to the month holding `day` (see the module).
pub fn weeks_of_month(day: NaiveDate) -> Vec<NaiveDate> {
    let month = FieldCalendar::month_start(day);
    let next = FieldCalendar::next_month_start(month);
    let thursday = |monday: NaiveDate| monday + Duration::days(3);
    let mut monday = FieldCalendar::week_start(month);
    if thursday(monday) < month {
        monday += Duration::days(7);
    }
    // At most 5 Thursdays fall in a month.
    (0..5)
        .map(|i| monday + Duration::days(7 * i))
        .filter(|m| thursday(*m) < next)
        .collect()
}

impl LocalStore {
    /// R1 in each week of the month holding `day` that ended by `ended_by`: the stores R1
    /// covers that `manager`'s territory held at the week's middle, with no visit in it by
    /// a manager who held the store then (see the module).
    pub fn weeks_missed(
        &self,
        manager: &str,
        day: NaiveDate,
        ended_by: Timestamp,
    ) -> Result<Vec<WeekMissed>> {
        let (ever, owed_by, visitor_held) =
            (ever_held_by(1), held_at("?4"), held_at("v.check_in_at"));
        let covered = period_at("r1_covered", "?4");
        let sql = format!(
            "SELECT s.id FROM store_index s
             WHERE {ever} AND {owed_by} = ?1 AND {covered} = 1
               AND NOT EXISTS (SELECT 1 FROM visit_index v WHERE v.store_id = s.id
                               AND v.check_in_at >= ?2 AND v.check_in_at < ?3
                               AND {visitor_held} = v.visitor)
             ORDER BY s.name, s.id"
        );
        self.per_ended_week(day, ended_by, &sql, |stmt, [from, to, middle]| {
            stmt.query_map(params![manager, from, to, middle], |r| r.get(0))?
                .collect()
        })
    }

    /// R5's walk in each week of the month holding `day` that ended by `ended_by`:
    /// the demo-street stores `territory` held at the week's middle that the market team did not
    /// walk in it (a `market_walkthrough` visit from its role, as
    /// [`LocalStore::demo_street_unwalked`] counts them).
    pub fn walks_missed(
        &self,
        territory: &str,
        day: NaiveDate,
        ended_by: Timestamp,
    ) -> Result<Vec<WeekMissed>> {
        let (by_role, ever, held) = (by_its_role(5), ever_held_by(1), held_at("?6"));
        let demo_street = period_at("demo_street", "?6");
        let sql = format!(
            "SELECT s.id FROM store_index s
             WHERE {ever} AND {held} = ?1 AND {demo_street} = 1
               AND NOT EXISTS (SELECT 1 FROM visit_index v WHERE v.store_id = s.id AND v.kind = ?4
                               AND v.check_in_at >= ?2 AND v.check_in_at < ?3 AND {by_role})
             ORDER BY s.name, s.id"
        );
        let walk = VisitKind::MarketWalkthrough;
        let role = walk.recorded_by().code();
        self.per_ended_week(day, ended_by, &sql, |stmt, [from, to, middle]| {
            stmt.query_map(
                params![territory, from, to, walk.code(), role, middle],
                |r| r.get(0),
            )?
            .collect()
        })
    }

    /// Runs `sql` once per week of the month holding `day` ended by `ended_by` (`ids`
    /// binds the week's first instant, the next Monday's and the week's middle, Thursday
    /// noon); each week with the store ids it answered.
    fn per_ended_week(
        &self,
        day: NaiveDate,
        ended_by: Timestamp,
        sql: &str,
        ids: impl Fn(&mut CachedStatement<'_>, [i64; 3]) -> rusqlite::Result<Vec<String>>,
    ) -> Result<Vec<WeekMissed>> {
        let cal = self.calendar();
        let inner = self.lock()?;
        let mut stmt = inner.conn.prepare_cached(sql)?;
        let mut weeks = Vec::new();
        for monday in weeks_of_month(day) {
            let (from, to) = (
                cal.start_of(monday),
                cal.start_of(monday + Duration::days(7)),
            );
            // Ended: `ended_by` is at or after the week's last instant.
            if ended_by.0 < to.0 - 1 {
                break;
            }
            let middle = from.0 + (to.0 - from.0) / 2;
            let found = ids(&mut stmt, [from.0, to.0, middle])?;
            let stores = found
                .iter()
                .map(|id| DocId::parse("id", id))
                .collect::<Result<Vec<_>>>()?;
            weeks.push(WeekMissed {
                week_start: monday,
                stores,
            });
        }
        Ok(weeks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    #[test]
    fn a_month_holds_the_iso_weeks_whose_thursday_falls_in_it() {
        // November 2026 begins on a Sunday; the week of 30 November is December's.
        let november = ["2026-11-02", "2026-11-09", "2026-11-16", "2026-11-23"];
        assert_eq!(weeks_of_month(day("2026-11-30")), november.map(day));
        // October 2026 begins on a Thursday: the week of 28 September is October's.
        let october = [
            "2026-09-28",
            "2026-10-05",
            "2026-10-12",
            "2026-10-19",
            "2026-10-26",
        ];
        assert_eq!(weeks_of_month(day("2026-10-01")), october.map(day));
        // The week of New Year 2027 (Thursday 31 December) is December's.
        assert_eq!(
            weeks_of_month(day("2026-12-15")).last(),
            Some(&day("2026-12-28"))
        );
        assert_eq!(weeks_of_month(day("2027-01-01"))[0], day("2027-01-04"));
        // Every week of a year in exactly one month.
        let mut all: Vec<NaiveDate> = (1..=12)
            .flat_map(|m| weeks_of_month(NaiveDate::from_ymd_opt(2026, m, 1).expect("month")))
            .collect();
        all.dedup();
        assert_eq!(all.len(), 53, "2026 has 53 ISO weeks");
    }
}
