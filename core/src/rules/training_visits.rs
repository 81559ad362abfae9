//! R8's candidates: the training-day visits one account manager checked in within a time
//! range, read from the visit index, so that a month's report reads only those visits'
//! documents (whether all four activities are recorded), not every visit of every store
//! the manager held.

use rusqlite::params;

use crate::error::Result;
use crate::ids::DocId;
use crate::kinds::visit::VisitKind;
use crate::store::LocalStore;
use crate::time::Timestamp;

impl LocalStore {
    /// The training-day visits `visitor` checked in within `[from, to)`, as (visit, store),
    /// in check-in order.
    pub fn training_visits(
        &self,
        visitor: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<(DocId, DocId)>> {
        let inner = self.lock()?;
        let rows = inner
            .conn
            .prepare_cached(
                "SELECT id, store_id FROM visit_index
                 WHERE visitor = ?1 AND kind = ?2 AND check_in_at >= ?3 AND check_in_at < ?4
                 ORDER BY check_in_at, id",
            )?
            .query_map(
                params![visitor, VisitKind::TrainingDay.code(), from.0, to.0],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(visit, store)| {
                Ok((
                    DocId::parse("id", &visit)?,
                    DocId::parse("store_id", &store)?,
                ))
            })
            .collect()
    }
}
