//! The account manager's home screen: every store of a territory with what is due today
//! (R1 this week, R5 today, R7 this period), the manager's latest visit, missing price
//! tags (R2), open rectification tasks and where the store's edits stand on their way to
//! the server, filtered, sorted and a page at a time. One query over the index tables (no
//! document is loaded), which answers as the single-rule queries of `rules.rs` do; a test
//! holds them together.

use chrono::{Datelike, NaiveDate};
use rusqlite::params;

use crate::error::Result;
use crate::ids::DocId;
use crate::kinds::store::{MarketType, StoreFormat, StoreSize, TerminalRating, ValueTier};
use crate::rules::{FollowUpAction, MAX_MISSING_PRICE_TAGS};
use crate::store::lists::UploadState;
use crate::store::{LocalStore, Topics};
use crate::time::{FieldCalendar, Timestamp};

/// The order of a store list; every order ends with the name, then the id.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StoreSort {
    #[default]
    Name,
    /// Stores with something due first, then the longest unvisited (never visited first).
    DueFirst,
    /// The longest unvisited first (never visited first).
    LastVisit,
    /// Most missing price tags first (stores without a display last).
    MissingTags,
    /// Most open tasks first.
    OpenTasks,
}

impl StoreSort {
    fn code(self) -> &'static str {
        match self {
            StoreSort::Name => "name",
            StoreSort::DueFirst => "due",
            StoreSort::LastVisit => "last_visit",
            StoreSort::MissingTags => "missing_tags",
            StoreSort::OpenTasks => "open_tasks",
        }
    }
}

/// Which stores of a territory to list, in which order, which page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreListQuery {
    /// The territory, named by its account manager's user id (whose visits count).
    pub territory: String,
    /// The day "due" is judged on (the district's calendar).
    pub day: NaiveDate,
    /// Part of the name or the licence number; empty or `None` lists every store.
    pub search: Option<String>,
    /// Only stores with a visit (R1), a demo-street check (R5) or a follow-up (R7) due.
    pub only_due: bool,
    pub only_demo_street: bool,
    pub only_functional_terminals: bool,
    /// Only stores breaking R2 (more than 3 products missing a price tag).
    pub only_missing_tags: bool,
    pub only_with_open_tasks: bool,
    /// Only stores with edits the server has not confirmed (or refused).
    pub only_not_on_server: bool,
    pub sort: StoreSort,
    pub offset: u32,
    /// Rows of the page; 0 is taken as 1.
    pub limit: u32,
}

impl StoreListQuery {
    /// Every store of `territory` by name, judged on `day`, the first `limit`.
    pub fn new(territory: impl Into<String>, day: NaiveDate, limit: u32) -> Self {
        StoreListQuery {
            territory: territory.into(),
            day,
            search: None,
            only_due: false,
            only_demo_street: false,
            only_functional_terminals: false,
            only_missing_tags: false,
            only_with_open_tasks: false,
            only_not_on_server: false,
            sort: StoreSort::Name,
            offset: 0,
            limit,
        }
    }
}

/// One store as the list shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct StoreListRow {
    pub store_id: DocId,
    pub name: String,
    pub licence: String,
    pub format: StoreFormat,
    pub market: MarketType,
    pub size: StoreSize,
    pub tier: ValueTier,
    pub demo_street: bool,
    pub functional_terminal: bool,
    pub rating: Option<TerminalRating>,
    /// The account manager's latest check-in at the store.
    pub last_visit: Option<Timestamp>,
    /// R1: no visit by the account manager this ISO week (never for a small grocery).
    pub visit_due: bool,
    /// R5: a demo-street store the account manager has not checked today.
    pub demo_check_due: bool,
    /// R7: the follow-up this rated functional terminal still needs this period.
    pub follow_up_due: Option<FollowUpAction>,
    /// Products on the shelf display missing a price tag; `None` without a display.
    pub missing_price_tags: Option<u32>,
    /// Rectification tasks on the store not yet verified.
    pub open_tasks: u32,
    /// Where the edits of the store's documents stand.
    pub upload: UploadState,
    /// Documents of the store with edits the server has not confirmed.
    pub documents_not_on_server: u32,
}

impl StoreListRow {
    /// Whether anything is due: a visit, a demo-street check or a follow-up.
    pub fn anything_due(&self) -> bool {
        self.visit_due || self.demo_check_due || self.follow_up_due.is_some()
    }

    /// R2: more than 3 missing price tags.
    pub fn breaks_price_tag_rule(&self) -> bool {
        self.missing_price_tags
            .is_some_and(|n| n as usize > MAX_MISSING_PRICE_TAGS)
    }
}

/// A page of a store list and how many stores the whole list holds.
#[derive(Clone, Debug, PartialEq)]
pub struct StorePage {
    pub rows: Vec<StoreListRow>,
    /// Stores matching the query, on every page together.
    pub total: u32,
    pub offset: u32,
}

// `pending` starts from the outbox's pending index (a day's work, not every document) and
// `listed` is materialized, so each store's subqueries run once, not once per use below.
const STORE_LIST: &str = "WITH pending AS (
    SELECT d.store_id AS store_id, COUNT(*) AS docs,
           MAX(o.rejected IS NOT NULL) AS rejected, MAX(o.uploading) AS uploading
    FROM outbox o CROSS JOIN documents d ON d.id = o.doc_id
    WHERE o.local_edits > o.confirmed_edits
    GROUP BY d.store_id
), listed AS MATERIALIZED (
    SELECT s.id, s.name, s.licence, s.format, s.market, s.size, s.tier, s.demo_street,
        s.functional, s.rating,
        (SELECT MAX(v.check_in_at) FROM visit_index v WHERE v.store_id = s.id AND v.visitor = ?1)
            AS last_visit,
        (NOT (s.format = 'Z' AND s.size = '3') AND NOT EXISTS (SELECT 1 FROM visit_index v
            WHERE v.store_id = s.id AND v.visitor = ?1 AND v.check_in_at >= ?2 AND v.check_in_at < ?3))
            AS visit_due,
        (s.demo_street = 1 AND NOT EXISTS (SELECT 1 FROM display_index d
            JOIN display_check_index c ON c.display_id = d.id
            WHERE d.store_id = s.id AND c.checker = ?1 AND c.last_at >= ?6 AND c.last_at < ?7))
            AS check_due,
        CASE WHEN s.functional = 1 THEN CASE s.rating
            WHEN 'excellent' THEN CASE WHEN EXISTS (SELECT 1 FROM visit_index v WHERE v.store_id = s.id
                AND v.visitor = ?1 AND v.check_in_at >= ?4 AND v.check_in_at < ?5) THEN NULL ELSE 'excellent' END
            WHEN 'good' THEN CASE WHEN EXISTS (SELECT 1 FROM visit_index v WHERE v.store_id = s.id
                AND v.visitor = ?1 AND v.check_in_at >= ?2 AND v.check_in_at < ?3) THEN NULL ELSE 'good' END
            WHEN 'qualified' THEN 'qualified'
            WHEN 'unqualified' THEN CASE WHEN EXISTS (SELECT 1 FROM task_index t WHERE t.store_id = s.id
                AND t.answers_rating_at = s.rating_at AND t.created_at >= ?8 AND t.created_at < ?7
                AND t.deadline > t.created_at) THEN NULL ELSE 'unqualified' END
            END END AS follow_up,
        (SELECT MAX(d.missing_tags) FROM display_index d WHERE d.store_id = s.id) AS missing_tags,
        (SELECT COUNT(*) FROM task_index t WHERE t.store_id = s.id AND t.state != 'verified')
            AS open_tasks,
        COALESCE(p.docs, 0) AS pending_docs, COALESCE(p.rejected, 0) AS rejected,
        COALESCE(p.uploading, 0) AS uploading
    FROM store_index s LEFT JOIN pending p ON p.store_id = s.id
    WHERE s.territory = ?1
)
SELECT id, name, licence, format, market, size, tier, demo_street, functional, rating,
       last_visit, visit_due, check_due, follow_up, missing_tags, open_tasks, pending_docs,
       rejected, uploading, COUNT(*) OVER ()
FROM listed
WHERE (?9 IS NULL OR name LIKE ?9 ESCAPE '\\' OR licence LIKE ?9 ESCAPE '\\')
  AND (?10 = 0 OR visit_due OR check_due OR follow_up IS NOT NULL)
  AND (?11 = 0 OR demo_street = 1) AND (?12 = 0 OR functional = 1)
  AND (?13 = 0 OR missing_tags > ?17) AND (?14 = 0 OR open_tasks > 0)
  AND (?15 = 0 OR pending_docs > 0)
ORDER BY
  CASE WHEN ?16 = 'due' THEN (visit_due OR check_due OR follow_up IS NOT NULL) END DESC,
  CASE WHEN ?16 IN ('due', 'last_visit') THEN last_visit IS NOT NULL END,
  CASE WHEN ?16 IN ('due', 'last_visit') THEN last_visit END,
  CASE WHEN ?16 = 'missing_tags' THEN COALESCE(missing_tags, -1) END DESC,
  CASE WHEN ?16 = 'open_tasks' THEN open_tasks END DESC,
  name, id
LIMIT ?18 OFFSET ?19";

/// `text` as a LIKE pattern that matches it anywhere, its wildcards taken literally.
fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

impl LocalStore {
    /// What [`store_list`](Self::store_list) reads: read it again when one changes.
    pub const STORE_LIST_TOPICS: Topics = Topics::STORES
        .union(Topics::VISITS)
        .union(Topics::SHELF_DISPLAYS)
        .union(Topics::TASKS)
        .union(Topics::UPLOADS)
        // A display check that changed no product or standard rewrites only the checker's
        // row (a table the change hook cannot see) and the document's row.
        .union(Topics::DOCUMENTS);

    /// A page of the stores of a territory with what is due (see [`StoreListRow`]).
    pub fn store_list(&self, query: &StoreListQuery) -> Result<StorePage> {
        let cal = self.calendar();
        let day = query.day;
        let week = FieldCalendar::week_start(day);
        let month = FieldCalendar::month_start(day);
        let quarter =
            NaiveDate::from_ymd_opt(day.year(), (day.month0() / 3) * 3 + 1, 1).unwrap_or(month);
        let search = query
            .search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(contains_pattern);
        let mut total = 0u32;
        let rows = self.read(|conn| {
            let mut stmt = conn.prepare_cached(STORE_LIST)?;
            let rows = stmt
                .query_map(
                    params![
                        query.territory,
                        cal.start_of(week).0,
                        cal.start_of(week + chrono::Duration::days(7)).0,
                        cal.start_of(month).0,
                        cal.start_of(FieldCalendar::next_month_start(month)).0,
                        cal.start_of(day).0,
                        cal.start_of(day + chrono::Duration::days(1)).0,
                        cal.start_of(quarter).0,
                        search,
                        query.only_due,
                        query.only_demo_street,
                        query.only_functional_terminals,
                        query.only_missing_tags,
                        query.only_with_open_tasks,
                        query.only_not_on_server,
                        query.sort.code(),
                        MAX_MISSING_PRICE_TAGS as i64,
                        i64::from(query.limit.max(1)),
                        i64::from(query.offset),
                    ],
                    |r| {
                        Ok(RawRow {
                            id: r.get(0)?,
                            name: r.get(1)?,
                            licence: r.get(2)?,
                            codes: [r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?],
                            demo_street: r.get(7)?,
                            functional: r.get(8)?,
                            rating: r.get(9)?,
                            last_visit: r.get(10)?,
                            visit_due: r.get(11)?,
                            check_due: r.get(12)?,
                            follow_up: r.get(13)?,
                            missing_tags: r.get(14)?,
                            open_tasks: r.get(15)?,
                            pending: r.get(16)?,
                            rejected: r.get(17)?,
                            uploading: r.get(18)?,
                            total: r.get(19)?,
                        })
                    },
                )?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })?;
        let rows = rows
            .into_iter()
            .map(|raw| {
                total = raw.total;
                raw.into_row()
            })
            .collect::<Result<Vec<_>>>()?;
        if rows.is_empty() && query.offset > 0 {
            // Past the end: the total still tells a pager where the end is.
            let mut first = query.clone();
            first.offset = 0;
            first.limit = 1;
            total = self.store_list(&first)?.total;
        }
        Ok(StorePage {
            rows,
            total,
            offset: query.offset,
        })
    }
}

struct RawRow {
    id: String,
    name: String,
    licence: String,
    codes: [String; 4],
    demo_street: bool,
    functional: bool,
    rating: Option<String>,
    last_visit: Option<i64>,
    visit_due: bool,
    check_due: bool,
    follow_up: Option<String>,
    missing_tags: Option<u32>,
    open_tasks: u32,
    pending: u32,
    rejected: bool,
    uploading: bool,
    total: u32,
}

impl RawRow {
    fn into_row(self) -> Result<StoreListRow> {
        let [format, market, size, tier] = &self.codes;
        let follow_up_due = match self.follow_up.as_deref() {
            None => None,
            Some(rating) => Some(match TerminalRating::parse(rating)? {
                TerminalRating::Excellent => FollowUpAction::MonthlyGuidance,
                TerminalRating::Good => FollowUpAction::WeeklyInStoreService,
                TerminalRating::Qualified => FollowUpAction::QuarterlyStudyVisit,
                TerminalRating::Unqualified => FollowUpAction::RectificationNotice,
            }),
        };
        Ok(StoreListRow {
            store_id: DocId::parse("id", &self.id)?,
            name: self.name,
            licence: self.licence,
            format: StoreFormat::parse(format)?,
            market: MarketType::parse(market)?,
            size: StoreSize::parse(size)?,
            tier: ValueTier::parse(tier)?,
            demo_street: self.demo_street,
            functional_terminal: self.functional,
            rating: self
                .rating
                .as_deref()
                .map(TerminalRating::parse)
                .transpose()?,
            last_visit: self.last_visit.map(Timestamp),
            visit_due: self.visit_due,
            demo_check_due: self.check_due,
            follow_up_due,
            missing_price_tags: self.missing_tags,
            open_tasks: self.open_tasks,
            upload: UploadState::of(i64::from(self.pending), self.rejected, self.uploading),
            documents_not_on_server: self.pending,
        })
    }
}

#[cfg(test)]
mod tests;
