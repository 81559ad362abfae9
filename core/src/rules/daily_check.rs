//! R5's daily check: account managers check every demo-street store of their territory
//! each day. A check is any entry of the store's shelf display its checker stamped that
//! day (a standard, a product, the new-product zone or the mark `checked.<user>`, which
//! core writes with every check but the protocol does not require). Today's stores are
//! read from the index of each checker's latest check; a past day's, where a later check
//! hid that day's, from the display's history of those same entries (docs/adr/0034).

use chrono::NaiveDate;
use rusqlite::params;

use crate::error::Result;
use crate::ids::DocId;
use crate::rules::{ever_held_by, held_at, period_at};
use crate::store::LocalStore;
use crate::time::Timestamp;

impl LocalStore {
    /// R5: demo-street stores of `manager`'s territory whose shelf display `manager` has
    /// not checked on `day`: the stores that were `manager`'s and on the demo street at the
    /// day's end. A display's index keeps each checker's latest check; a store checked again
    /// after `day` is judged from the display's history of its checker's marks.
    pub fn demo_street_unchecked(
        &self,
        manager: &str,
        day: NaiveDate,
    ) -> Result<Vec<(DocId, String)>> {
        let cal = self.calendar();
        let (from, to) = (
            cal.start_of(day),
            cal.start_of(day + chrono::Duration::days(1)),
        );
        let rows = {
            let inner = self.lock()?;
            let at = "(?3 - 1)";
            let sql = format!(
                "SELECT s.id, s.name,
                        (SELECT MAX(c.last_at) FROM display_index d JOIN display_check_index c
                         ON c.display_id = d.id WHERE d.store_id = s.id AND c.checker = ?1)
                 FROM store_index s
                 WHERE {ever} AND {held} = ?1 AND {demo} = 1
                   AND NOT EXISTS (SELECT 1 FROM display_index d JOIN display_check_index c ON c.display_id = d.id
                                   WHERE d.store_id = s.id AND c.checker = ?1 AND c.last_at >= ?2 AND c.last_at < ?3)
                 ORDER BY s.name",
                ever = ever_held_by(1),
                held = held_at(at),
                demo = period_at("demo_street", at),
            );
            let mut stmt = inner.conn.prepare_cached(&sql)?;
            stmt.query_map(params![manager, from.0, to.0], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?
        };
        let mut unchecked = Vec::with_capacity(rows.len());
        for (id, name, last) in rows {
            let id = DocId::parse("id", &id)?;
            // Checked again after the day: did one of its marks fall on the day?
            if last.is_some_and(|last| last >= to.0)
                && self.checked_between(&id, manager, from, to)?
            {
                continue;
            }
            unchecked.push((id, name));
        }
        Ok(unchecked)
    }

    /// Whether `checker` stamped an entry of the shelf display of `store` in `[from, to)`:
    /// a standard, a product, the new-product zone or the checker's mark, overwritten since
    /// or not. The display's index counts the same stamps as a check, so a day reads the
    /// same before and after a later check hides it from the index.
    fn checked_between(
        &self,
        store: &DocId,
        checker: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<bool> {
        let display = LocalStore::shelf_display_id(store);
        let mut inner = self.lock()?;
        let mut doc = inner.take_doc(&display, crate::ids::DocKind::ShelfDisplay)?;
        let hit = doc
            .root_writes(crate::kinds::shelf_display::is_check_entry)
            .iter()
            .any(|(_, w)| w.by == checker && (from.0..to.0).contains(&w.at.millis()));
        inner.cache.put(doc);
        Ok(hit)
    }
}
