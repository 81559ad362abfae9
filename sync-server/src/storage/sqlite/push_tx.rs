//! A push's reads and writes ([`push::PushTx`]) in SQLite's one write transaction.

use fieldsync_core::{DocSummary, HeldValue, IncomingChange};
use rusqlite::{OptionalExtension, Transaction, params};

use super::migrate::add_store_held;
use super::photo_uses;
use crate::error::AppResult;
use crate::storage::photo_uses::VisitPhotos;
use crate::storage::push::{self, ScopeMove, ScopeRow, Stored};
use crate::storage::replica_cache::ReplicaCache;
use crate::storage::scope_guard::DocRow;

/// [`push::PushTx`] over SQLite's write transaction. There is one writer, so rows are
/// appended in cursor order with nothing to reserve.
pub(super) struct SqlitePush<'a, 'c> {
    pub(super) tx: &'a Transaction<'c>,
    pub(super) cache: &'a mut ReplicaCache,
    /// The actors of the push's changes noted already: a push's hundreds of changes
    /// come from one or two actors.
    pub(super) actors: std::collections::HashSet<String>,
}

impl push::PushTx for SqlitePush<'_, '_> {
    fn doc_row(&mut self, doc: &str) -> AppResult<Option<DocRow>> {
        Ok(self
            .tx
            .prepare_cached("SELECT heads, store_id, manager, bytes FROM docs WHERE id = ?1")?
            .query_row([doc], |r| {
                Ok(DocRow {
                    heads: r.get(0)?,
                    store_id: r.get(1)?,
                    manager: r.get(2)?,
                    bytes: r.get(3)?,
                })
            })
            .optional()?)
    }

    fn stored(&mut self, doc: &str, heads: Option<&str>) -> AppResult<Stored> {
        if let Some(replica) = self.cache.take(doc, heads) {
            return Ok(Stored::Cached(Box::new(replica)));
        }
        let changes = self
            .tx
            .prepare_cached("SELECT bytes FROM changes WHERE doc_id = ?1 ORDER BY seq")?
            .query_map([doc], |r| r.get::<_, Vec<u8>>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(Stored::Changes(changes))
    }

    fn actor_owner(&mut self, actor: &str) -> AppResult<Option<String>> {
        Ok(self
            .tx
            .prepare_cached("SELECT device_id FROM actors WHERE actor = ?1")?
            .query_row([actor], |r| r.get(0))
            .optional()?)
    }

    fn store_facts(&mut self, store: &str) -> AppResult<Option<(String, bool)>> {
        Ok(self
            .tx
            .prepare_cached("SELECT territory, demo_street FROM stores WHERE id = ?1")?
            .query_row([store], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    }

    fn scope_moves(&mut self, store: &str) -> AppResult<Vec<ScopeRow>> {
        Ok(self
            .tx
            .prepare_cached(
                "SELECT seq, old_territory, new_territory, old_demo, new_demo, at FROM log
                 WHERE kind = 'scope' AND store_id = ?1",
            )?
            .query_map([store], |r| {
                Ok(ScopeRow {
                    seq: r.get(0)?,
                    old_territory: r.get(1)?,
                    new_territory: r.get(2)?,
                    old_demo: r.get(3)?,
                    new_demo: r.get(4)?,
                    at: r.get(5)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn handed(&mut self, device: &str) -> AppResult<i64> {
        Ok(self
            .tx
            .prepare_cached("SELECT handed FROM devices WHERE id = ?1")?
            .query_row([device], |r| r.get(0))
            .optional()?
            .unwrap_or(0))
    }

    fn hashes_after(&mut self, doc: &str, seq: i64) -> AppResult<Vec<String>> {
        Ok(self
            .tx
            .prepare_cached("SELECT hash FROM changes WHERE doc_id = ?1 AND seq > ?2")?
            .query_map(params![doc, seq], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn bytes_on_day(&mut self, device: &str, day: i64) -> AppResult<i64> {
        Ok(self
            .tx
            .prepare_cached("SELECT bytes FROM device_days WHERE device_id = ?1 AND day = ?2")?
            .query_row(params![device, day], |r| r.get(0))
            .optional()?
            .unwrap_or(0))
    }

    fn add_bytes_on_day(&mut self, device: &str, day: i64, bytes: i64) -> AppResult<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO device_days (device_id, day, bytes) VALUES (?1, ?2, ?3)
                 ON CONFLICT (device_id, day) DO UPDATE SET bytes = bytes + excluded.bytes",
            )?
            .execute(params![device, day, bytes])?;
        Ok(())
    }

    fn reserve(&mut self, _rows: usize) -> AppResult<()> {
        Ok(())
    }

    fn append_change(
        &mut self,
        doc: &str,
        change: &IncomingChange,
        device: &str,
        at: i64,
    ) -> AppResult<()> {
        let hash = change.hash();
        self.tx
            .prepare_cached(
                "INSERT INTO log (kind, doc_id, change_hash, device_id, at) VALUES ('change', ?1, ?2, ?3, ?4)",
            )?
            .execute(params![doc, hash, device, at])?;
        let seq = self.tx.last_insert_rowid();
        self.tx
            .prepare_cached(
                "INSERT INTO changes (seq, doc_id, hash, bytes) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![seq, doc, hash, change.bytes()])?;
        let actor = change.actor();
        if !self.actors.contains(&actor) {
            self.tx
                .prepare_cached("INSERT OR IGNORE INTO actors (actor, device_id) VALUES (?1, ?2)")?
                .execute(params![actor, device])?;
            self.actors.insert(actor);
        }
        Ok(())
    }

    fn upsert_doc(
        &mut self,
        doc: &str,
        summary: &DocSummary,
        heads: &[String],
        feed_index: Option<&[u8]>,
        added_bytes: i64,
    ) -> AppResult<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO docs (id, kind, store_id, manager, heads, bytes, happened_at, feed_index)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (id) DO UPDATE SET heads = excluded.heads, bytes = bytes + excluded.bytes,
                     happened_at = COALESCE(docs.happened_at, excluded.happened_at),
                     feed_index = excluded.feed_index",
            )?
            .execute(params![
                doc,
                summary.kind.as_str(),
                summary.store_id,
                summary.manager,
                heads.join(","),
                added_bytes,
                summary.happened_at,
                feed_index
            ])?;
        Ok(())
    }

    fn upsert_store(&mut self, store: &str, territory: &str, demo_street: bool) -> AppResult<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO stores (id, territory, demo_street) VALUES (?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE SET territory = excluded.territory, demo_street = excluded.demo_street",
            )?
            .execute(params![store, territory, demo_street])?;
        Ok(())
    }

    fn store_held(&mut self, store: &str) -> AppResult<Vec<HeldValue>> {
        Ok(self
            .tx
            .prepare_cached("SELECT field, value FROM store_held WHERE store = ?1")?
            .query_map([store], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn add_store_held(&mut self, store: &str, values: &[HeldValue]) -> AppResult<()> {
        add_store_held(self.tx, store, values)
    }

    fn append_scope(&mut self, m: &ScopeMove, at: i64) -> AppResult<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO log (kind, store_id, old_territory, new_territory, old_demo, new_demo, at)
                 VALUES ('scope', ?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![m.store, m.old_territory, m.new_territory, m.old_demo, m.new_demo, at])?;
        Ok(())
    }

    fn set_photo_uses(&mut self, visit: &str, store: &str, photos: &VisitPhotos) -> AppResult<()> {
        photo_uses::set(self.tx, visit, store, photos)
    }

    fn claim_photos(&mut self, user: &str, hashes: Vec<String>) -> AppResult<()> {
        crate::storage::photo_owners::sqlite_claim(self.tx, user, &hashes)
    }
}
