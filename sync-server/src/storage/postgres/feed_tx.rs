//! A sync's reads of the feed ([`feed::FeedTx`]) over a read-only repeatable-read
//! transaction: one snapshot.

use postgres::Transaction;

use crate::error::AppResult;
use crate::storage::DeviceInfo;
use crate::storage::feed::{self, ChangeRow, LogRow, PassPart};

/// [`feed::FeedTx`] over a read-only repeatable-read transaction: one snapshot.
pub(super) struct PgFeed<'a, 't> {
    pub(super) tx: &'a mut Transaction<'t>,
}

impl feed::FeedTx for PgFeed<'_, '_> {
    fn end(&mut self) -> AppResult<i64> {
        Ok(self
            .tx
            .query_one("SELECT COALESCE(MAX(seq), 0)::bigint FROM log", &[])?
            .get(0))
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
            "SELECT l.seq, l.kind, l.doc_id, c.bytes, l.store_id, l.old_territory, l.new_territory,
                    l.old_demo, l.new_demo, l.change_hash, d.store_id
             FROM log l
             LEFT JOIN changes c ON c.hash = l.change_hash
             LEFT JOIN docs d ON d.id = l.doc_id
             LEFT JOIN stores s ON s.id = d.store_id
             WHERE l.seq > $1 AND l.seq <= $2 AND (l.kind = 'scope' OR ({} AND {}))
             ORDER BY l.seq LIMIT $4",
            feed::scope_condition(device.role, "$3::text"),
            feed::window_condition("$5::bigint")
        );
        let rows = self
            .tx
            .query(&sql, &[&after, &upto, &device.user_id, &limit, &floor])?;
        Ok(rows
            .iter()
            .map(|r| {
                let seq = r.get(0);
                if r.get::<_, String>(1) == "change" {
                    LogRow::Change {
                        seq,
                        doc: r.get(2),
                        bytes: r.get(3),
                        hash: r.get(9),
                        store: r.get(10),
                    }
                } else {
                    LogRow::Scope {
                        seq,
                        store: r.get(4),
                        old_territory: r.get(5),
                        new_territory: r.get(6),
                        old_demo: r.get(7),
                        new_demo: r.get(8),
                    }
                }
            })
            .collect())
    }

    fn store_changes(
        &mut self,
        store: &str,
        upto: i64,
        floor: i64,
    ) -> AppResult<Vec<(String, String, Vec<u8>)>> {
        let sql = format!(
            "SELECT c.doc_id, c.hash, c.bytes FROM changes c JOIN docs d ON d.id = c.doc_id
             WHERE d.store_id = $1 AND c.seq <= $2 AND {} ORDER BY c.seq",
            feed::window_condition("$3::bigint")
        );
        Ok(self
            .tx
            .query(&sql, &[&store, &upto, &floor])?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect())
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
             WHERE d.kind IN ('visit', 'inventory_count') AND d.happened_at >= $1
               AND d.happened_at < $2 AND {}
             ORDER BY d.happened_at, d.id LIMIT $4",
            feed::scope_condition(device.role, "$3::text")
        );
        Ok(self
            .tx
            .query(&sql, &[&from, &floor, &device.user_id, &limit])?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    fn store_documents(&mut self, store: &str, upto: i64, device: &str) -> AppResult<Vec<String>> {
        Ok(self
            .tx
            .query(
                "SELECT d.id FROM docs d WHERE d.store_id = $1 AND EXISTS
                 (SELECT 1 FROM changes c JOIN log l ON l.seq = c.seq
                  WHERE c.doc_id = d.id AND (c.seq <= $2 OR l.device_id = $3))
                 ORDER BY d.id",
                &[&store, &upto, &device],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect())
    }

    fn scope_documents(
        &mut self,
        device: &DeviceInfo,
        part: PassPart,
        after: &str,
        limit: i64,
    ) -> AppResult<Vec<(String, i64)>> {
        let sql = format!(
            "SELECT id, bytes FROM ({}) AS p ORDER BY id LIMIT $2",
            feed::scope_ids(
                device.role,
                "$3::text",
                &format!(
                    "d.id > $1 AND {}",
                    feed::part_condition(part.part, "$4::bigint", "$5::bigint")
                )
            )
        );
        Ok(self
            .tx
            .query(
                &sql,
                &[
                    &after,
                    &limit,
                    &device.user_id,
                    &part.since,
                    &part.floor_bound(),
                ],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    fn documents_changes(&mut self, ids: &[String], upto: i64) -> AppResult<Vec<ChangeRow>> {
        Ok(self
            .tx
            .query(
                "SELECT c.doc_id, c.seq, c.hash, c.bytes FROM changes c
                 WHERE c.doc_id = ANY($1) AND c.seq <= $2",
                &[&ids, &upto],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect())
    }

    fn documents_index(&mut self, ids: &[String], upto: i64) -> AppResult<Vec<(String, Vec<u8>)>> {
        Ok(self
            .tx
            .query(
                "SELECT d.id, d.feed_index FROM docs d
                 WHERE d.id = ANY($1) AND d.feed_index IS NOT NULL
                   AND NOT EXISTS (SELECT 1 FROM changes c WHERE c.doc_id = d.id AND c.seq > $2)",
                &[&ids, &upto],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    fn handed_before_scope_row(&mut self, device: &str, upto: i64) -> AppResult<Option<i64>> {
        Ok(self
            .tx
            .query_opt(
                "SELECT d.handed FROM devices d WHERE d.id = $1 AND EXISTS
                 (SELECT 1 FROM log WHERE kind = 'scope' AND seq > d.handed AND seq <= $2)",
                &[&device, &upto],
            )?
            .map(|r| r.get(0)))
    }

    fn log_mark(&mut self, seq: i64) -> AppResult<Option<String>> {
        Ok(self
            .tx
            .query_opt(
                "SELECT kind, doc_id, change_hash, store_id, at FROM log WHERE seq = $1",
                &[&seq],
            )?
            .map(|r| {
                let fields: [Option<String>; 4] = [r.get(0), r.get(1), r.get(2), r.get(3)];
                feed::row_mark(seq, fields.each_ref().map(|f| f.as_deref()), r.get(4))
            }))
    }

    fn scope_rows(&mut self, after: i64, upto: i64) -> AppResult<Vec<LogRow>> {
        Ok(self
            .tx
            .query(
                "SELECT seq, store_id, old_territory, new_territory, old_demo, new_demo FROM log
                 WHERE kind = 'scope' AND seq > $1 AND seq <= $2 ORDER BY seq",
                &[&after, &upto],
            )?
            .iter()
            .map(|r| LogRow::Scope {
                seq: r.get(0),
                store: r.get(1),
                old_territory: r.get(2),
                new_territory: r.get(3),
                old_demo: r.get(4),
                new_demo: r.get(5),
            })
            .collect())
    }
}
