//! A sync's reads of the feed ([`feed::FeedTx`]) in one read transaction of a reader
//! connection: the end of the log and the rows read are one snapshot.

use std::collections::HashSet;

use fieldsync_core::protocol::{FeedCursor, WorkingSet};
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{AppError, AppResult};
use crate::storage::feed::{self, ChangeRow, LogRow, PassPart};
use crate::storage::{DeviceInfo, Feed};

/// [`feed::FeedTx`] over a read transaction of one of the reader connections.
pub(super) struct SqliteFeed<'a> {
    pub(super) conn: &'a Connection,
}

impl feed::FeedTx for SqliteFeed<'_> {
    fn end(&mut self) -> AppResult<i64> {
        Ok(self
            .conn
            .query_row("SELECT COALESCE(MAX(seq), 0) FROM log", [], |r| r.get(0))?)
    }

    fn page(
        &mut self,
        device: &DeviceInfo,
        after: i64,
        upto: i64,
        limit: i64,
        floor: i64,
    ) -> AppResult<Vec<LogRow>> {
        let sql = format!(
            "SELECT l.seq, l.kind, l.doc_id, c.bytes, l.store_id, l.old_territory, l.new_territory, l.old_demo, l.new_demo,
                    l.change_hash, d.store_id
             FROM log l
             LEFT JOIN changes c ON c.seq = l.seq
             LEFT JOIN docs d ON d.id = l.doc_id
             LEFT JOIN stores s ON s.id = d.store_id
             WHERE l.seq > ?1 AND l.seq <= ?2 AND (l.kind = 'scope' OR ({} AND {}))
             ORDER BY l.seq LIMIT ?4",
            feed::scope_condition(device.role, "?3"),
            feed::window_condition("?5")
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt
            .query_map(params![after, upto, device.user_id, limit, floor], |r| {
                let seq = r.get(0)?;
                Ok(if r.get::<_, String>(1)? == "change" {
                    LogRow::Change {
                        seq,
                        doc: r.get(2)?,
                        bytes: r.get(3)?,
                        hash: r.get(9)?,
                        store: r.get(10)?,
                    }
                } else {
                    LogRow::Scope {
                        seq,
                        store: r.get(4)?,
                        old_territory: r.get(5)?,
                        new_territory: r.get(6)?,
                        old_demo: r.get(7)?,
                        new_demo: r.get(8)?,
                    }
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    fn store_changes(
        &mut self,
        store: &str,
        upto: i64,
        floor: i64,
    ) -> AppResult<Vec<(String, String, Vec<u8>)>> {
        let sql = format!(
            "SELECT c.doc_id, c.hash, c.bytes FROM changes c JOIN docs d ON d.id = c.doc_id
             WHERE d.store_id = ?1 AND c.seq <= ?2 AND {} ORDER BY c.seq",
            feed::window_condition("?3")
        );
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_map(params![store, upto, floor], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn left_window(
        &mut self,
        device: &DeviceInfo,
        from: i64,
        floor: i64,
        limit: i64,
    ) -> AppResult<Vec<(String, i64)>> {
        let sql = format!(
            "SELECT d.id, d.happened_at FROM docs d LEFT JOIN stores s ON s.id = d.store_id
             WHERE d.kind IN ('visit', 'inventory_count') AND d.happened_at >= ?1
               AND d.happened_at < ?2 AND {}
             ORDER BY d.happened_at, d.id LIMIT ?4",
            feed::scope_condition(device.role, "?3")
        );
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_map(params![from, floor, device.user_id, limit], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn store_documents(&mut self, store: &str, upto: i64, device: &str) -> AppResult<Vec<String>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT d.id FROM docs d WHERE d.store_id = ?1 AND EXISTS
                 (SELECT 1 FROM changes c JOIN log l ON l.seq = c.seq
                  WHERE c.doc_id = d.id AND (c.seq <= ?2 OR l.device_id = ?3))
                 ORDER BY d.id",
            )?
            .query_map(params![store, upto, device], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn scope_documents(
        &mut self,
        device: &DeviceInfo,
        part: PassPart,
        after: &str,
        limit: i64,
    ) -> AppResult<Vec<(String, i64)>> {
        let sql = format!(
            "SELECT id, bytes FROM ({}) AS p ORDER BY id LIMIT ?2",
            feed::scope_ids(
                device.role,
                "?3",
                &format!(
                    "d.id > ?1 AND {}",
                    feed::part_condition(part.part, "?4", "?5")
                )
            )
        );
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_map(
                params![after, limit, device.user_id, part.since, part.floor_bound()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn documents_changes(&mut self, ids: &[String], upto: i64) -> AppResult<Vec<ChangeRow>> {
        let ids = serde_json::to_string(ids).map_err(AppError::internal)?;
        // No ORDER BY: sorting would copy every change's bytes into a temporary b-tree; the
        // pass puts them in order.
        Ok(self
            .conn
            .prepare_cached(
                "SELECT c.doc_id, c.seq, c.hash, c.bytes FROM json_each(?1) AS j
                 JOIN changes c ON c.doc_id = j.value WHERE c.seq <= ?2",
            )?
            .query_map(params![ids, upto], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn documents_index(&mut self, ids: &[String], upto: i64) -> AppResult<Vec<(String, Vec<u8>)>> {
        let ids = serde_json::to_string(ids).map_err(AppError::internal)?;
        Ok(self
            .conn
            .prepare_cached(
                "SELECT d.id, d.feed_index FROM json_each(?1) AS j JOIN docs d ON d.id = j.value
                 WHERE d.feed_index IS NOT NULL
                   AND NOT EXISTS (SELECT 1 FROM changes c WHERE c.doc_id = d.id AND c.seq > ?2)",
            )?
            .query_map(params![ids, upto], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn handed_before_scope_row(&mut self, device: &str, upto: i64) -> AppResult<Option<i64>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT d.handed FROM devices d WHERE d.id = ?1 AND EXISTS
                 (SELECT 1 FROM log WHERE kind = 'scope' AND seq > d.handed AND seq <= ?2)",
            )?
            .query_row(params![device, upto], |r| r.get(0))
            .optional()?)
    }

    fn log_mark(&mut self, seq: i64) -> AppResult<Option<String>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT kind, doc_id, change_hash, store_id, at FROM log WHERE seq = ?1",
            )?
            .query_row([seq], |r| {
                let fields: [Option<String>; 4] = [r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?];
                Ok(feed::row_mark(
                    seq,
                    fields.each_ref().map(|f| f.as_deref()),
                    r.get(4)?,
                ))
            })
            .optional()?)
    }

    fn scope_rows(&mut self, after: i64, upto: i64) -> AppResult<Vec<LogRow>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT seq, store_id, old_territory, new_territory, old_demo, new_demo FROM log
                 WHERE kind = 'scope' AND seq > ?1 AND seq <= ?2 ORDER BY seq",
            )?
            .query_map([after, upto], |r| {
                Ok(LogRow::Scope {
                    seq: r.get(0)?,
                    store: r.get(1)?,
                    old_territory: r.get(2)?,
                    new_territory: r.get(3)?,
                    old_demo: r.get(4)?,
                    new_demo: r.get(5)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?)
    }
}

/// The feed, and the position to record as handed to the device, if any.
pub(super) fn read_feed(
    conn: &Connection,
    device: &DeviceInfo,
    cursor: (&FeedCursor, Option<&str>),
    (max_bytes, just_pushed, outbox_emptied): (usize, &HashSet<String>, bool),
    working: Option<WorkingSet>,
) -> AppResult<Feed> {
    // One read transaction: the end of the log and the rows read are one snapshot.
    conn.execute_batch("BEGIN DEFERRED")?;
    let mut tx = SqliteFeed { conn };
    let result = feed::read(
        &mut tx,
        device,
        cursor,
        max_bytes,
        (just_pushed, outbox_emptied),
        working,
    );
    let _ = conn.execute_batch("COMMIT");
    result
}
