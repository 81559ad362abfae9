//! The field rules, answered offline from the index tables (R1, R2, R3, R5, R7, R9; the
//! cadences others keep, R4's spot checks, R5's walks and samples, and R10 in `cadences.rs`).
//!
//! Each query is for one account manager (the territory holder) as of a local day of the
//! district's calendar. The rules about scorecards (R4), rectification tasks and complaint
//! clocks (R9) live beside their documents: a scorecard's outcome in `kinds/scorecard`,
//! open tasks in `store/tasks.rs`, complaint clocks in `kinds/complaint/clocks.rs` and
//! `store/complaints.rs`. R3's error rate is `error_rate.rs`; who may write what (the
//! server's write rules) is `write_rules.rs`.

pub(crate) mod cadences;
pub(crate) mod daily_check;
pub(crate) mod error_rate;
pub(crate) mod month_weeks;
pub(crate) mod over_time;
pub(crate) mod periods;
pub(crate) mod store_history;
pub(crate) mod store_list;
pub(crate) mod training_visits;
pub(crate) mod week_visited;
pub(crate) mod write_rules;

pub(crate) use periods::{credited_at, ever_held_by, held_at, period_at};

use chrono::{Datelike, NaiveDate};
use rusqlite::params;

use crate::error::Result;
use crate::ids::DocId;
use crate::kinds::store::TerminalRating;
use crate::rules::error_rate::ErrorRate;
use crate::store::LocalStore;
use crate::time::{FieldCalendar, Timestamp};

/// R2: a store may have at most this many products missing a price tag.
pub const MAX_MISSING_PRICE_TAGS: usize = 3;
impl crate::ShelfDisplay {
    /// R2: at most 3 missing price tags; 4 or more is a violation.
    pub fn violates_price_tag_rule(&self) -> bool {
        self.missing_price_tags().len() > MAX_MISSING_PRICE_TAGS
    }
}

/// R9: the decided default minimum of visits per R1-covered store per month.
pub const DEFAULT_MIN_MONTHLY_VISITS: u32 = 4;

/// A store and when its account manager last visited it.
#[derive(Clone, Debug, PartialEq)]
pub struct StoreDue {
    pub store_id: DocId,
    pub name: String,
    pub licence: String,
    pub last_visit: Option<Timestamp>,
}

/// A store whose shelf display breaks R2.
#[derive(Clone, Debug, PartialEq)]
pub struct PriceTagFinding {
    pub store_id: DocId,
    pub name: String,
    pub missing: u32,
}

/// A functional terminal whose latest finished count breaks R3 or has no defined rate
/// (book total 0, or nothing counted).
#[derive(Clone, Debug, PartialEq)]
pub struct CountFinding {
    pub store_id: DocId,
    pub name: String,
    pub count_id: DocId,
    pub finished_at: Timestamp,
    pub error_rate: ErrorRate,
}

/// What R7 asks for a functional terminal of a given rating.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FollowUpAction {
    /// Excellent: personalised guidance every month.
    MonthlyGuidance,
    /// Good: in-store service by the account manager every week.
    WeeklyInStoreService,
    /// Qualified: a study visit to an excellent store every quarter.
    QuarterlyStudyVisit,
    /// Unqualified: a rectification notice with a deadline.
    RectificationNotice,
}

/// The R7 follow-up of one functional terminal in the current period.
#[derive(Clone, Debug, PartialEq)]
pub struct FollowUp {
    pub store_id: DocId,
    pub name: String,
    pub rating: TerminalRating,
    pub action: FollowUpAction,
    /// First day of the period the action is due in (month, ISO week or quarter).
    pub period_start: NaiveDate,
    /// Whether the records show it done this period: guidance and in-store service by a
    /// visit of the account manager; the notice by a rectification task that answers the
    /// store's current rating ([`crate::TaskOrigin::Rating`]), has a deadline after its
    /// creation, and was created in the quarter and not after the day asked (any other task
    /// on the store, a bulb replaced, does not count). `None` where the app keeps no record
    /// of the action (a study visit happens in another store), so it is listed as due.
    pub done: Option<bool>,
}

/// R9's monthly visit commitment for one account manager.
#[derive(Clone, Debug, PartialEq)]
pub struct MonthlyVisits {
    pub month_start: NaiveDate,
    pub minimum_per_store: u32,
    /// Every R1-covered store with the visits its account manager made in the month.
    pub stores: Vec<(DocId, String, u32)>,
}

impl MonthlyVisits {
    pub fn required(&self) -> u32 {
        self.minimum_per_store * self.stores.len() as u32
    }

    pub fn made(&self) -> u32 {
        self.stores.iter().map(|s| s.2).sum()
    }

    /// Stores visited fewer times than the minimum.
    pub fn below_minimum(&self) -> impl Iterator<Item = &(DocId, String, u32)> {
        self.stores.iter().filter(|s| s.2 < self.minimum_per_store)
    }
}

/// The rows of a query selecting a store's id, name, licence and the instant of its last
/// visit of the kind the query counts (null: never).
pub(crate) fn store_due_rows(
    stmt: &mut rusqlite::CachedStatement<'_>,
    params: impl rusqlite::Params,
) -> Result<Vec<StoreDue>> {
    let rows = stmt
        .query_map(params, |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get::<_, Option<i64>>(3)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter()
        .map(|(id, name, licence, last)| {
            Ok(StoreDue {
                store_id: DocId::parse("id", &id)?,
                name,
                licence,
                last_visit: last.map(Timestamp),
            })
        })
        .collect()
}

/// SQL for "not a small grocery store" (R1's exemption: format Z, size 3).
pub(crate) const COVERED_BY_R1: &str = "NOT (s.format = 'Z' AND s.size = '3')";

impl LocalStore {
    /// R1: stores of `manager`'s territory with no visit by `manager` in the ISO week of
    /// `day`, small grocery stores (Z3) excepted. Never-visited stores come first. A store
    /// imported after `day` ended is not listed (a past day's list is the list as it was).
    pub fn stores_due_visit(&self, manager: &str, day: NaiveDate) -> Result<Vec<StoreDue>> {
        let cal = self.calendar();
        let week = FieldCalendar::week_start(day);
        let (from, to) = (
            cal.start_of(week),
            cal.start_of(week + chrono::Duration::days(7)),
        );
        let day_end = cal.start_of(day + chrono::Duration::days(1));
        let inner = self.lock()?;
        let sql = format!(
            "SELECT s.id, s.name, s.licence,
                    (SELECT MAX(v.check_in_at) FROM visit_index v WHERE v.store_id = s.id AND v.visitor = ?1)
                    AS last_visit
             FROM store_index s
             WHERE s.territory = ?1 AND {COVERED_BY_R1}
               AND {existed} IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM visit_index v WHERE v.store_id = s.id AND v.visitor = ?1
                               AND v.check_in_at >= ?2 AND v.check_in_at < ?3)
             ORDER BY last_visit IS NOT NULL, last_visit, s.name, s.id",
            existed = held_at("(?4 - 1)"),
        );
        let mut stmt = inner.conn.prepare_cached(&sql)?;
        store_due_rows(&mut stmt, params![manager, from.0, to.0, day_end.0])
    }

    /// R2: stores of `manager`'s territory whose shelf display has more than 3 products
    /// missing a price tag, most missing first.
    pub fn stores_missing_price_tags(&self, manager: &str) -> Result<Vec<PriceTagFinding>> {
        let inner = self.lock()?;
        let mut stmt = inner.conn.prepare_cached(
            "SELECT s.id, s.name, d.missing_tags FROM store_index s JOIN display_index d ON d.store_id = s.id
             WHERE s.territory = ?1 AND d.missing_tags > ?2 ORDER BY d.missing_tags DESC, s.name",
        )?;
        let rows = stmt
            .query_map(params![manager, MAX_MISSING_PRICE_TAGS as i64], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, u32>(2)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(id, name, missing)| {
                Ok(PriceTagFinding {
                    store_id: DocId::parse("id", &id)?,
                    name,
                    missing,
                })
            })
            .collect()
    }

    /// R3: functional terminals of `manager`'s territory whose latest finished count is off
    /// by more than 10%, or has no defined rate, which is reported too: its book total is 0
    /// (with its real difference), or it was finished with nothing counted.
    pub fn count_findings(&self, manager: &str) -> Result<Vec<CountFinding>> {
        self.findings(manager, None)
    }

    /// R3 over a period, for a monthly assessment: as [`LocalStore::count_findings`], of
    /// each terminal's latest count finished in `[from, to)` (a terminal with no count
    /// finished then has no finding for the period).
    pub fn count_findings_finished_in(
        &self,
        manager: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<CountFinding>> {
        self.findings(manager, Some((from, to)))
    }

    /// The stores' latest counts finished in `period` that are R3 findings. Without a
    /// period (today's list): the stores `manager` holds now, functional terminals now. For
    /// a period (a month's report): the counts of stores that were `manager`'s and
    /// functional terminals when the count was finished, so that a store moved or
    /// declassified since keeps its past findings where they were (docs/adr/0034).
    fn findings(
        &self,
        manager: &str,
        period: Option<(Timestamp, Timestamp)>,
    ) -> Result<Vec<CountFinding>> {
        let inner = self.lock()?;
        let whose = match period {
            None => "s.territory = ?1 AND s.functional = 1".to_owned(),
            Some(_) => format!(
                "{} AND {} = ?1 AND {} = 1",
                ever_held_by(1),
                credited_at("c.finished_at"),
                period_at("functional", "c.finished_at")
            ),
        };
        let sql = format!(
            "SELECT s.id, s.name, c.id, c.finished_at, c.abs_diff_total, c.book_total, c.counted_lines
             FROM store_index s JOIN count_index c ON c.store_id = s.id
             WHERE {whose} AND c.finished_at IS NOT NULL
               AND c.id = (SELECT c2.id FROM count_index c2 WHERE c2.store_id = s.id AND c2.finished_at IS NOT NULL
                           AND c2.finished_at >= ?2 AND c2.finished_at < ?3
                           ORDER BY c2.finished_at DESC, c2.id DESC LIMIT 1)
             ORDER BY s.name"
        );
        let mut stmt = inner.conn.prepare_cached(&sql)?;
        let (from, to) = period.map_or((i64::MIN, i64::MAX), |(f, t)| (f.0, t.0));
        let rows = stmt
            .query_map(params![manager, from, to], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, i64>(6)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut findings = Vec::new();
        for (store, name, count, finished_at, abs_diff, book_total, counted) in rows {
            let error_rate =
                ErrorRate::from_totals(usize::try_from(counted).unwrap_or(0), abs_diff, book_total);
            if error_rate.ratio().is_none() || error_rate.exceeds_limit() {
                findings.push(CountFinding {
                    store_id: DocId::parse("id", &store)?,
                    name,
                    count_id: DocId::parse("id", &count)?,
                    finished_at: Timestamp(finished_at),
                    error_rate,
                });
            }
        }
        Ok(findings)
    }

    /// R7: the follow-up each rated functional terminal of `manager`'s territory needs in
    /// the period holding `day`, and whether the records show it done.
    pub fn terminal_follow_ups(&self, manager: &str, day: NaiveDate) -> Result<Vec<FollowUp>> {
        let cal = self.calendar();
        let month = FieldCalendar::month_start(day);
        let week = FieldCalendar::week_start(day);
        let quarter =
            NaiveDate::from_ymd_opt(day.year(), (day.month0() / 3) * 3 + 1, 1).unwrap_or(month);
        let end_of_day = cal.start_of(day + chrono::Duration::days(1));
        let inner = self.lock()?;
        // The stores as they stood at the end of `day`: held by `manager`, functional
        // terminals, rated (a past day's follow-ups are those of the ratings then).
        let at = "(?2 - 1)";
        let sql = format!(
            "SELECT s.id, s.name, {rating}, {rating_at} FROM store_index s
             WHERE {ever} AND {held} = ?1 AND {functional} = 1 AND {rating} IS NOT NULL
             ORDER BY s.name",
            rating = period_at("rating", at),
            rating_at = period_at("rating_at", at),
            ever = ever_held_by(1),
            held = held_at(at),
            functional = period_at("functional", at),
        );
        let mut stores = inner.conn.prepare_cached(&sql)?;
        let rows = stores
            .query_map(params![manager, end_of_day.0], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut visited = inner.conn.prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM visit_index WHERE store_id = ?1 AND visitor = ?2 AND check_in_at >= ?3 AND check_in_at < ?4)",
        )?;
        let mut noticed = inner.conn.prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM task_index WHERE store_id = ?1 AND answers_rating_at = ?2
                            AND created_at >= ?3 AND created_at < ?4 AND deadline > created_at)",
        )?;
        let mut follow_ups = Vec::with_capacity(rows.len());
        for (id, name, rating, rated_at) in rows {
            let rating = TerminalRating::parse(&rating)?;
            let (action, period_start, done) = match rating {
                TerminalRating::Excellent => {
                    let to = FieldCalendar::next_month_start(month);
                    let done: bool = visited.query_row(
                        params![id, manager, cal.start_of(month).0, cal.start_of(to).0],
                        |r| r.get(0),
                    )?;
                    (FollowUpAction::MonthlyGuidance, month, Some(done))
                }
                TerminalRating::Good => {
                    let to = week + chrono::Duration::days(7);
                    let done: bool = visited.query_row(
                        params![id, manager, cal.start_of(week).0, cal.start_of(to).0],
                        |r| r.get(0),
                    )?;
                    (FollowUpAction::WeeklyInStoreService, week, Some(done))
                }
                TerminalRating::Qualified => (FollowUpAction::QuarterlyStudyVisit, quarter, None),
                TerminalRating::Unqualified => {
                    let done: bool = noticed.query_row(
                        params![id, rated_at, cal.start_of(quarter).0, end_of_day.0],
                        |r| r.get(0),
                    )?;
                    (FollowUpAction::RectificationNotice, quarter, Some(done))
                }
            };
            follow_ups.push(FollowUp {
                store_id: DocId::parse("id", &id)?,
                name,
                rating,
                action,
                period_start,
                done,
            });
        }
        Ok(follow_ups)
    }

    /// R9: visits `manager` made in the month holding `day` to each store the territory held,
    /// and R1 covered, at the month's middle, against `minimum_per_store` (decided default [`DEFAULT_MIN_MONTHLY_VISITS`]).
    /// A store counts at most one visit a day (a local day of the district's calendar): two
    /// check-ins on one afternoon are one visit, or a manager could meet the month's
    /// minimum in a single day.
    pub fn monthly_visits(
        &self,
        manager: &str,
        day: NaiveDate,
        minimum_per_store: u32,
    ) -> Result<MonthlyVisits> {
        let cal = self.calendar();
        let month = FieldCalendar::month_start(day);
        let (from, to) = (
            cal.start_of(month),
            cal.start_of(FieldCalendar::next_month_start(month)),
        );
        let inner = self.lock()?;
        // The stores the territory held, and R1 covered, at the month's middle instant: a
        // store moved or imported mid-month is owed by whoever had it for most of the month
        // (as R1's weeks are, docs/adr/0029), and a past month before a store's import owes
        // nothing for it.
        let (ever, held, covered) = (
            ever_held_by(1),
            held_at("?5"),
            period_at("r1_covered", "?5"),
        );
        let sql = format!(
            "SELECT s.id, s.name,
                    (SELECT COUNT(DISTINCT (v.check_in_at + ?4) / 86400000) FROM visit_index v
                     WHERE v.store_id = s.id AND v.visitor = ?1
                     AND v.check_in_at >= ?2 AND v.check_in_at < ?3)
             FROM store_index s WHERE {ever} AND {held} = ?1 AND {covered} = 1 ORDER BY s.name"
        );
        let middle = from.0 + (to.0 - from.0) / 2;
        let offset_ms = i64::from(cal.utc_offset.local_minus_utc()) * 1000;
        let mut stmt = inner.conn.prepare_cached(&sql)?;
        let rows = stmt
            .query_map(params![manager, from.0, to.0, offset_ms, middle], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, u32>(2)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let stores = rows
            .into_iter()
            .map(|(id, name, made)| Ok((DocId::parse("id", &id)?, name, made)))
            .collect::<Result<Vec<_>>>()?;
        Ok(MonthlyVisits {
            month_start: month,
            minimum_per_store,
            stores,
        })
    }
}
