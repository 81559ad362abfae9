//! R5's daily check: account managers check every demo-street store of their territory
//! each day, and every check writes its checker's mark on the store's shelf display
//! (`checked.<user>`). Today's stores are read from the index of each checker's latest
//! check; a past day's, where a later check hid that day's, from the display's history of
//! the mark (docs/adr/0034).

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

    /// Whether `checker`'s mark on the shelf display of `store` was ever written with a
    /// stamp in `[from, to)` (every check writes it: `checked.<user>`).
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
        let key = crate::kinds::shelf_display::checked_key(checker);
        let hit = doc
            .root_writes(&[key.as_str()])
            .iter()
            .any(|(_, w)| (from.0..to.0).contains(&w.at.millis()));
        inner.cache.put(doc);
        Ok(hit)
    }
}
