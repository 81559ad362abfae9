//! Rule violations over time, for the charts a supervisor reads: how many of R2, R3 and the
//! geofence were broken in a past period of one account manager's territory, from the same
//! index tables and documents as the rule queries of "now" in `rules.rs`.
//!
//! R3 and the geofence are events with a time (a count finished, a visit checked in), so a
//! period's figure is a count of index rows. R2 is a state (a shelf display's missing price
//! tags), so a period's figure is the displays that broke it at the period's end: read from
//! the index when nothing has been stamped on the display since, and otherwise from the
//! display as it was then. Those past readings are kept in a [`PriceTagsOverTime`] by the
//! display's heads, so a display that has not changed is never read again, and one that has
//! is read again only at the instants from its earliest new change on.

use std::collections::{HashMap, HashSet};

use automerge::ChangeHash;
use rusqlite::params;

use crate::doc::DOC_ROOT;
use crate::error::Result;
use crate::ids::{DocId, DocKind};
use crate::kinds::shelf_display::read;
use crate::rules::error_rate::ErrorRate;
use crate::rules::{MAX_MISSING_PRICE_TAGS, credited_at, ever_held_by, period_at};
use crate::store::LocalStore;
use crate::time::Timestamp;

/// What R3 and the geofence saw in one period of a territory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PeriodEvents {
    /// R3: counts of functional terminals finished in the period whose error rate exceeds
    /// the limit (counts with no defined rate are not counted here).
    pub counts_over_limit: usize,
    /// Visits to the territory's stores checked in during the period outside the geofence.
    pub visits_out_of_range: usize,
}

/// R2 verdicts of displays at past instants, remembered by each display's heads.
#[derive(Debug, Default)]
pub struct PriceTagsOverTime {
    ends: Vec<Timestamp>,
    known: HashMap<String, (Vec<u8>, Vec<bool>)>,
    /// The displays the last call counted at each of its instants, by id, sorted.
    counted: Vec<Vec<String>>,
    /// Displays read as they were (not answered from the index or from memory): for
    /// benchmarks and tests.
    pub past_reads: usize,
}

impl PriceTagsOverTime {
    /// The displays the last [`LocalStore::price_tag_breaches_at`] counted at its
    /// `index`th instant, by id, sorted: those of the manager's stores then that broke R2.
    pub fn breaking_at(&self, index: usize) -> Vec<String> {
        self.counted.get(index).cloned().unwrap_or_default()
    }
}

impl LocalStore {
    /// The earliest author's time among display `id`'s changes not reachable from `heads`
    /// (the 32-byte hashes of the documents table, concatenated).
    fn earliest_change_since(&self, id: &DocId, heads: &[u8]) -> Result<Option<i64>> {
        let heads: Vec<ChangeHash> = heads
            .chunks(32)
            .filter_map(|c| ChangeHash::try_from(c).ok())
            .collect();
        let mut inner = self.lock()?;
        let mut doc = inner.take_doc(id, DocKind::ShelfDisplay)?;
        let earliest = doc.earliest_change_since(&heads);
        inner.cache.put(doc);
        Ok(earliest)
    }

    /// R3 and the geofence in `[from, to)` for the stores of `manager`'s territory. R3
    /// reads each count's store as it was when the count was finished, as the monthly
    /// report's findings do (`count_findings_finished_in`, docs/adr/0034): the counts of
    /// stores that were `manager`'s (credited as ADR 0029 says) and functional terminals
    /// then.
    pub fn period_events(
        &self,
        manager: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<PeriodEvents> {
        let inner = self.lock()?;
        let mut counts = inner.conn.prepare_cached(&format!(
            "SELECT c.counted_lines, c.abs_diff_total, c.book_total
             FROM count_index c JOIN store_index s ON s.id = c.store_id
             WHERE {} AND {} = ?1 AND {} = 1
               AND c.finished_at >= ?2 AND c.finished_at < ?3",
            ever_held_by(1),
            credited_at("c.finished_at"),
            period_at("functional", "c.finished_at")
        ))?;
        let counts_over_limit = counts
            .query_map(params![manager, from.0, to.0], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?
            .into_iter()
            .filter(|(counted, abs_diff, book)| {
                ErrorRate::from_totals(usize::try_from(*counted).unwrap_or(0), *abs_diff, *book)
                    .exceeds_limit()
            })
            .count();
        let visits_out_of_range = inner
            .conn
            .prepare_cached(
                "SELECT COUNT(*) FROM visit_index v JOIN store_index s ON s.id = v.store_id
                 WHERE s.territory = ?1 AND v.in_range = 0
                   AND v.check_in_at >= ?2 AND v.check_in_at < ?3",
            )?
            .query_row(params![manager, from.0, to.0], |r| r.get::<_, i64>(0))?;
        Ok(PeriodEvents {
            counts_over_limit,
            visits_out_of_range: usize::try_from(visits_out_of_range).unwrap_or(0),
        })
    }

    /// R2 at each instant of `ends`: how many shelf displays of `manager`'s territory had
    /// more than 3 products missing a price tag then (as [`crate::ShelfDisplay`]'s
    /// `violates_price_tag_rule` reads them). `memo` keeps past readings between calls.
    /// Each instant reads the display and the territory as they were then (docs/adr/0034):
    /// a display counts for the manager whose store it was at that instant (credited as
    /// ADR 0029 says), so a store moved since keeps its past breaches where they were.
    pub fn price_tag_breaches_at(
        &self,
        manager: &str,
        ends: &[Timestamp],
        memo: &mut PriceTagsOverTime,
    ) -> Result<Vec<usize>> {
        if memo.ends != ends {
            memo.ends = ends.to_vec();
            memo.known.clear();
        }
        // The displays of every store the territory ever held, and at each instant of
        // `ends` those of the stores it held then.
        let (rows, held) = {
            let inner = self.lock()?;
            let mut stmt = inner.conn.prepare_cached(&format!(
                "SELECT d.id, d.missing_tags, d.last_checked_at, docs.heads
                 FROM display_index d JOIN store_index s ON s.id = d.store_id
                 JOIN documents docs ON docs.id = d.id
                 WHERE {} ORDER BY d.id",
                ever_held_by(1)
            ))?;
            let rows = stmt
                .query_map([manager], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, Option<i64>>(2)?,
                        r.get::<_, Vec<u8>>(3)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut held_then = inner.conn.prepare_cached(&format!(
                "SELECT d.id FROM display_index d JOIN store_index s ON s.id = d.store_id
                 WHERE {} AND {} = ?1",
                ever_held_by(1),
                credited_at("?2")
            ))?;
            let held = ends
                .iter()
                .map(|end| {
                    held_then
                        .query_map(params![manager, end.0], |r| r.get::<_, String>(0))?
                        .collect::<rusqlite::Result<HashSet<_>>>()
                })
                .collect::<rusqlite::Result<Vec<_>>>()?;
            (rows, held)
        };
        let mut breaches = vec![0; ends.len()];
        let mut counted = vec![Vec::new(); ends.len()];
        for (id, missing, last_checked, heads) in rows {
            let now_breaks = usize::try_from(missing).unwrap_or(0) > MAX_MISSING_PRICE_TAGS;
            let known = memo.known.get(&id).cloned();
            let verdicts = match known {
                Some((h, v)) if h == heads => v,
                known => {
                    let display = DocId::parse("id", &id)?;
                    // Readings before the earliest change since they were made still hold.
                    let (kept, since) = match known {
                        Some((old_heads, old)) => {
                            (old, self.earliest_change_since(&display, &old_heads)?)
                        }
                        None => (Vec::new(), None),
                    };
                    let mut verdicts = Vec::with_capacity(ends.len());
                    for (i, end) in ends.iter().enumerate() {
                        if let Some(old) = kept.get(i).filter(|_| since.is_some_and(|t| t > end.0))
                        {
                            verdicts.push(*old);
                        // Nothing stamped on the display after `end`: it was then as it is.
                        } else if last_checked.is_none_or(|last| last <= end.0) {
                            verdicts.push(now_breaks);
                        } else {
                            memo.past_reads += 1;
                            verdicts.push(self.read_doc_as_of(
                                &display,
                                DocKind::ShelfDisplay,
                                *end,
                                |then| {
                                    // Nothing written yet then: no display to break R2.
                                    if then.keys(&DOC_ROOT).is_empty() {
                                        return Ok(false);
                                    }
                                    Ok(read(then)?.violates_price_tag_rule())
                                },
                            )?);
                        }
                    }
                    memo.known.insert(id.clone(), (heads, verdicts.clone()));
                    verdicts
                }
            };
            for (i, breaks) in verdicts.into_iter().enumerate() {
                if breaks && held.get(i).is_some_and(|ids| ids.contains(&id)) {
                    breaches[i] += 1;
                    counted[i].push(id.clone());
                }
            }
        }
        // `rows` came in id order.
        memo.counted = counted;
        Ok(breaches)
    }
}
