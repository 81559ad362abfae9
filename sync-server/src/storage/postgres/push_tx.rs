//! A push on PostgreSQL: one attempt ([`PostgresStorage::try_push`]) in a transaction that
//! first locks its documents, in id order; its reads and writes ([`push::PushTx`]) over
//! that transaction; its change rows written in one statement per table when it is about
//! to commit.

use std::collections::VecDeque;
use std::time::Duration;

use fieldsync_core::{DocId, DocSummary, HeldValue, IncomingChange};
use postgres::Transaction;
use rand::Rng;

use super::migrate::add_store_held;
use super::{Client, CursorAllocation, PostgresStorage, describe, photo_uses};
use crate::error::{AppError, AppResult};
use crate::storage::push::{self, ScopeMove, ScopeRow, Stored};
use crate::storage::quota::Quotas;
use crate::storage::scope_guard::DocRow;
use crate::storage::{DeviceInfo, PushResult};

/// Change rows of a push, written in one statement per table when it is about to commit.
#[derive(Default)]
pub(super) struct ChangeRows {
    seq: Vec<i64>,
    doc: Vec<String>,
    hash: Vec<String>,
    device: Vec<String>,
    at: Vec<i64>,
    bytes: Vec<Vec<u8>>,
    actors: Vec<String>,
}

/// [`push::PushTx`] over a PostgreSQL transaction that holds its documents' locks.
pub(super) struct PgPush<'a, 't> {
    pub(super) tx: &'a mut Transaction<'t>,
    pub(super) storage: &'a PostgresStorage,
    pub(super) mode: CursorAllocation,
    /// Cursors reserved and not used yet, in order.
    pub(super) seqs: VecDeque<i64>,
    pub(super) rows: ChangeRows,
    pub(super) photos: photo_uses::PhotoRows,
    /// The database error that failed the push, kept so a retryable one can be retried.
    pub(super) failed: Option<postgres::Error>,
}

impl PostgresStorage {
    /// One attempt at a push. `Err(e)` with a retryable `e` may be tried again.
    pub(super) fn try_push(
        &self,
        client: &mut Client,
        device: &DeviceInfo,
        docs: Vec<(DocId, Vec<IncomingChange>)>,
        now: i64,
        quotas: &Quotas,
    ) -> Result<AppResult<PushResult>, postgres::Error> {
        let mut tx = client.transaction()?;
        let mut ids: Vec<String> = docs.iter().map(|(id, _)| id.to_string()).collect();
        ids.sort();
        ids.dedup();
        // In id order, so that two pushes sharing documents cannot deadlock.
        tx.execute(
            "INSERT INTO doc_locks (id) SELECT id FROM unnest($1::text[]) WITH ORDINALITY AS t (id, n)
             ORDER BY n ON CONFLICT (id) DO UPDATE SET id = excluded.id",
            &[&ids],
        )?;
        let mut pg = PgPush {
            tx: &mut tx,
            storage: self,
            mode: self.options.cursor,
            seqs: VecDeque::new(),
            rows: ChangeRows::default(),
            photos: photo_uses::PhotoRows::default(),
            failed: None,
        };
        let outcome = push::run(&mut pg, device, docs, now, quotas);
        let outcome = match (outcome, pg.failed.take()) {
            (_, Some(e)) => return Err(e),
            (Err(e), None) => return Ok(Err(e)),
            (Ok(outcome), None) => outcome,
        };
        if outcome.result.is_ok() {
            pg.flush()?;
        }
        drop(pg);
        if outcome.result.is_err() {
            tx.rollback()?;
            return Ok(Ok(outcome.result));
        }
        if let Some(max) = self.options.commit_delay {
            let ms = rand::rng().random_range(0..=max.as_millis() as u64);
            std::thread::sleep(Duration::from_millis(ms));
        }
        tx.commit()?;
        self.cache().remember_all(outcome.replicas);
        Ok(Ok(outcome.result))
    }
}

impl PgPush<'_, '_> {
    fn check<T>(&mut self, result: Result<T, postgres::Error>) -> AppResult<T> {
        result.map_err(|e| {
            let app = AppError::from(&e);
            self.failed = Some(e);
            app
        })
    }

    fn next_seq(&mut self) -> AppResult<i64> {
        self.seqs
            .pop_front()
            .ok_or_else(|| AppError::internal("a push wrote more log rows than it reserved"))
    }

    pub(super) fn flush(&mut self) -> Result<(), postgres::Error> {
        std::mem::take(&mut self.photos).flush(self.tx)?;
        let r = std::mem::take(&mut self.rows);
        if r.seq.is_empty() {
            return Ok(());
        }
        self.tx.execute(
            "INSERT INTO log (seq, kind, doc_id, change_hash, device_id, at)
             SELECT seq, 'change', doc, hash, device, at
             FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[])
                  AS t (seq, doc, hash, device, at)",
            &[&r.seq, &r.doc, &r.hash, &r.device, &r.at],
        )?;
        self.tx.execute(
            "INSERT INTO changes (hash, doc_id, seq, bytes)
             SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bytea[])",
            &[&r.hash, &r.doc, &r.seq, &r.bytes],
        )?;
        let mut actors = r.actors;
        actors.sort();
        actors.dedup();
        let device = r.device.first().cloned().unwrap_or_default();
        self.tx.execute(
            "INSERT INTO actors (actor, device_id) SELECT actor, $2 FROM unnest($1::text[]) AS t (actor)
             ON CONFLICT (actor) DO NOTHING",
            &[&actors, &device],
        )?;
        Ok(())
    }
}

impl From<&postgres::Error> for AppError {
    fn from(e: &postgres::Error) -> Self {
        AppError::Internal(describe(e))
    }
}

impl push::PushTx for PgPush<'_, '_> {
    fn doc_row(&mut self, doc: &str) -> AppResult<Option<DocRow>> {
        let row = self.tx.query_opt(
            "SELECT heads, store_id, manager, bytes FROM docs WHERE id = $1",
            &[&doc],
        );
        Ok(self.check(row)?.map(|r| DocRow {
            heads: r.get(0),
            store_id: r.get(1),
            manager: r.get(2),
            bytes: r.get(3),
        }))
    }

    fn stored(&mut self, doc: &str, heads: Option<&str>) -> AppResult<Stored> {
        if let Some(replica) = self.storage.cache().take(doc, heads) {
            return Ok(Stored::Cached(Box::new(replica)));
        }
        let rows = self.tx.query(
            "SELECT bytes FROM changes WHERE doc_id = $1 ORDER BY seq",
            &[&doc],
        );
        let changes: Vec<Vec<u8>> = self.check(rows)?.iter().map(|r| r.get(0)).collect();
        Ok(Stored::Changes(changes))
    }

    fn actor_owner(&mut self, actor: &str) -> AppResult<Option<String>> {
        let row = self
            .tx
            .query_opt("SELECT device_id FROM actors WHERE actor = $1", &[&actor]);
        Ok(self.check(row)?.map(|r| r.get(0)))
    }

    fn store_facts(&mut self, store: &str) -> AppResult<Option<(String, bool)>> {
        let row = self.tx.query_opt(
            "SELECT territory, demo_street FROM stores WHERE id = $1",
            &[&store],
        );
        Ok(self.check(row)?.map(|r| (r.get(0), r.get(1))))
    }

    fn scope_moves(&mut self, store: &str) -> AppResult<Vec<ScopeRow>> {
        let rows = self.tx.query(
            "SELECT seq, old_territory, new_territory, old_demo, new_demo, at FROM log
             WHERE kind = 'scope' AND store_id = $1",
            &[&store],
        );
        Ok(self
            .check(rows)?
            .iter()
            .map(|r| ScopeRow {
                seq: r.get(0),
                old_territory: r.get(1),
                new_territory: r.get(2),
                old_demo: r.get(3),
                new_demo: r.get(4),
                at: r.get(5),
            })
            .collect())
    }

    fn handed(&mut self, device: &str) -> AppResult<i64> {
        let row = self
            .tx
            .query_opt("SELECT handed FROM devices WHERE id = $1", &[&device]);
        Ok(self.check(row)?.map_or(0, |r| r.get(0)))
    }

    fn hashes_after(&mut self, doc: &str, seq: i64) -> AppResult<Vec<String>> {
        let rows = self.tx.query(
            "SELECT hash FROM changes WHERE doc_id = $1 AND seq > $2",
            &[&doc, &seq],
        );
        Ok(self.check(rows)?.iter().map(|r| r.get(0)).collect())
    }

    fn bytes_on_day(&mut self, device: &str, day: i64) -> AppResult<i64> {
        // Locks the device's row of the day until commit (after the documents' locks, before
        // the counter's): two pushes of one device through two instances take turns here,
        // so they cannot both pass on the same headroom.
        let row = self.tx.query_one(
            "INSERT INTO device_days (device_id, day, bytes) VALUES ($1, $2, 0)
             ON CONFLICT (device_id, day) DO UPDATE SET bytes = device_days.bytes
             RETURNING bytes",
            &[&device, &day],
        );
        Ok(self.check(row)?.get(0))
    }

    fn add_bytes_on_day(&mut self, device: &str, day: i64, bytes: i64) -> AppResult<()> {
        let result = self.tx.execute(
            "INSERT INTO device_days (device_id, day, bytes) VALUES ($1, $2, $3)
             ON CONFLICT (device_id, day) DO UPDATE SET bytes = device_days.bytes + excluded.bytes",
            &[&device, &day, &bytes],
        );
        self.check(result).map(|_| ())
    }

    fn reserve(&mut self, rows: usize) -> AppResult<()> {
        let n = i64::try_from(rows).map_err(AppError::internal)?;
        let seqs: VecDeque<i64> = match self.mode {
            CursorAllocation::LockedCounter => {
                let row = self.tx.query_one(
                    "UPDATE log_counter SET last = last + $1 WHERE id = 1 RETURNING last",
                    &[&n],
                );
                let last: i64 = self.check(row)?.get(0);
                (last - n + 1..=last).collect()
            }
            CursorAllocation::NaiveSequence => {
                let rows = self.tx.query(
                    "SELECT nextval('fieldsync_naive_seq') FROM generate_series(1, $1::bigint)",
                    &[&n],
                );
                self.check(rows)?.iter().map(|r| r.get(0)).collect()
            }
        };
        self.seqs = seqs;
        Ok(())
    }

    fn append_change(
        &mut self,
        doc: &str,
        change: &IncomingChange,
        device: &str,
        at: i64,
    ) -> AppResult<()> {
        let seq = self.next_seq()?;
        let rows = &mut self.rows;
        rows.seq.push(seq);
        rows.doc.push(doc.to_owned());
        rows.hash.push(change.hash());
        rows.device.push(device.to_owned());
        rows.at.push(at);
        rows.bytes.push(change.bytes());
        rows.actors.push(change.actor());
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
        let result = self.tx.execute(
            "INSERT INTO docs (id, kind, store_id, manager, heads, bytes, happened_at, feed_index)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (id) DO UPDATE SET heads = excluded.heads, bytes = docs.bytes + excluded.bytes,
                 happened_at = COALESCE(docs.happened_at, excluded.happened_at),
                 feed_index = excluded.feed_index",
            &[
                &doc,
                &summary.kind.as_str(),
                &summary.store_id,
                &summary.manager,
                &heads.join(","),
                &added_bytes,
                &summary.happened_at,
                &feed_index,
            ],
        );
        self.check(result).map(|_| ())
    }

    fn upsert_store(&mut self, store: &str, territory: &str, demo_street: bool) -> AppResult<()> {
        let result = self.tx.execute(
            "INSERT INTO stores (id, territory, demo_street) VALUES ($1, $2, $3)
             ON CONFLICT (id) DO UPDATE SET territory = excluded.territory, demo_street = excluded.demo_street",
            &[&store, &territory, &demo_street],
        );
        self.check(result).map(|_| ())
    }

    fn store_held(&mut self, store: &str) -> AppResult<Vec<HeldValue>> {
        let rows = self.tx.query(
            "SELECT field, value FROM store_held WHERE store = $1",
            &[&store],
        );
        Ok(self
            .check(rows)?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    fn add_store_held(&mut self, store: &str, values: &[HeldValue]) -> AppResult<()> {
        let result = add_store_held(&mut *self.tx, store, values);
        self.check(result)
    }

    fn append_scope(&mut self, m: &ScopeMove, at: i64) -> AppResult<()> {
        let seq = self.next_seq()?;
        let result = self.tx.execute(
            "INSERT INTO log (seq, kind, store_id, old_territory, new_territory, old_demo, new_demo, at)
             VALUES ($1, 'scope', $2, $3, $4, $5, $6, $7)",
            &[
                &seq,
                &m.store,
                &m.old_territory,
                &m.new_territory,
                &m.old_demo,
                &m.new_demo,
                &at,
            ],
        );
        self.check(result).map(|_| ())
    }

    fn set_photo_uses(
        &mut self,
        visit: &str,
        store: &str,
        photos: &crate::storage::photo_uses::VisitPhotos,
    ) -> AppResult<()> {
        self.photos.set(visit, store, photos);
        Ok(())
    }

    fn claim_photos(&mut self, user: &str, hashes: Vec<String>) -> AppResult<()> {
        self.photos.claim(user, hashes);
        Ok(())
    }
}
