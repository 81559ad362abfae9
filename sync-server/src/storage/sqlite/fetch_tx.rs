//! The on-demand fetch's reads ([`FetchTx`]) over a SQLite read transaction.

use rusqlite::{OptionalExtension, params};

use super::SqliteFeed;
use crate::error::AppResult;
use crate::storage::DeviceInfo;
use crate::storage::feed::scope_condition;
use crate::storage::fetch::FetchTx;

impl FetchTx for SqliteFeed<'_> {
    fn end(&mut self) -> AppResult<i64> {
        crate::storage::feed::FeedTx::end(self)
    }

    fn scoped(&mut self, device: &DeviceInfo, id: &str) -> AppResult<Option<Option<i64>>> {
        let sql = format!(
            "SELECT d.happened_at FROM docs d LEFT JOIN stores s ON s.id = d.store_id
             WHERE d.id = ?1 AND {}",
            scope_condition(device.role, "?2")
        );
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_row(params![id, device.user_id], |r| r.get(0))
            .optional()?)
    }

    fn history(
        &mut self,
        device: &DeviceInfo,
        store: &str,
        (from, before): (i64, i64),
        after: &str,
        limit: i64,
    ) -> AppResult<Vec<(String, Option<i64>)>> {
        let sql = format!(
            "SELECT d.id, d.happened_at FROM docs d LEFT JOIN stores s ON s.id = d.store_id
             WHERE d.store_id = ?1 AND d.kind IN ('visit', 'inventory_count')
               AND d.happened_at >= ?2 AND d.happened_at < ?3 AND d.id > ?4 AND {}
             ORDER BY d.id LIMIT ?6",
            scope_condition(device.role, "?5")
        );
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_map(
                params![store, from, before, after, device.user_id, limit],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn changes_of(&mut self, doc: &str, upto: i64) -> AppResult<Vec<Vec<u8>>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT bytes FROM changes WHERE doc_id = ?1 AND seq <= ?2 ORDER BY seq",
            )?
            .query_map(params![doc, upto], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?)
    }
}
