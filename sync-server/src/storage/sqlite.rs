//! The embedded SQLite backend: one file in the data folder, WAL, `synchronous=FULL`, its
//! checkpoints on a thread of their own (`wal_checkpoint.rs`).
//!
//! All writes go through one connection behind a mutex, so transactions commit one at a
//! time in the order they allocated their `log.seq`: a reader that sees a row sees every
//! row before it, which is what makes the cursor exact. Reads use a small pool of their own
//! connections and never wait for the writer (WAL).

mod fetch_tx;
mod photo_uses;

use std::collections::HashSet;
use std::path::Path;
use std::sync::Mutex;

use fieldsync_core::protocol::{FeedCursor, FetchResponse, WorkingSet};
use fieldsync_core::{DocId, DocSummary, HeldValue, IncomingChange, Role};
use rusqlite::{
    Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior, params,
};

use super::feed::{self, LogRow, PassPart};
use super::fetch::{self, FetchAsk};
use super::photo_uses::VisitPhotos;
use super::push::{self, ScopeMove, ScopeRow, Stored};
use super::quota::Quotas;
use super::replica_cache::ReplicaCache;
use super::scope_guard::DocRow;
use super::wal_checkpoint::Checkpointer;
use super::{DeviceInfo, Feed, PushResult, SyncStorage, User};
use crate::error::{AppError, AppResult};

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/001_init.sql")),
    (2, include_str!("../../migrations/002_changes_by_seq.sql")),
    (
        3,
        include_str!("../../migrations/003_handed_and_quotas.sql"),
    ),
    (
        4,
        include_str!("../../migrations/004_audit_and_last_seen.sql"),
    ),
    (5, include_str!("../../migrations/005_token_rotation.sql")),
    (6, include_str!("../../migrations/006_blobs.sql")),
    (7, include_str!("../../migrations/007_console_sessions.sql")),
    (8, include_str!("../../migrations/008_store_held.sql")),
    (9, include_str!("../../migrations/009_device_reports.sql")),
    (10, include_str!("../../migrations/010_happened_at.sql")),
    (11, include_str!("../../migrations/011_happened_index.sql")),
    (12, include_str!("../../migrations/012_photo_uses.sql")),
];
const READERS: usize = 4;

/// The SQLite storage of one server.
pub struct SqliteStorage {
    writer: Mutex<WriterState>,
    readers: Mutex<Vec<Connection>>,
    checkpointer: Checkpointer,
    path: std::path::PathBuf,
}

struct WriterState {
    conn: Connection,
    cache: ReplicaCache,
}

impl std::fmt::Debug for SqliteStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStorage")
            .field("path", &self.path)
            .finish()
    }
}

impl SqliteStorage {
    /// Opens (creating and migrating) the database at `path`.
    pub fn open(path: &Path) -> AppResult<SqliteStorage> {
        let mut conn = Connection::open(path)?;
        fieldsync_core::sqlite_plans::stable_query_plans(&conn)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrate(&mut conn)?;
        backfill_store_held(&mut conn)?;
        backfill_happened_at(&mut conn)?;
        photo_uses::backfill(&mut conn)?;
        let checkpointer = Checkpointer::start(path, &mut conn)?;
        Ok(SqliteStorage {
            writer: Mutex::new(WriterState {
                conn,
                cache: ReplicaCache::default(),
            }),
            readers: Mutex::new(Vec::new()),
            checkpointer,
            path: path.to_path_buf(),
        })
    }

    /// WAL checkpoints run by the background thread so far (see [`Checkpointer`]).
    pub fn background_checkpoints(&self) -> u64 {
        self.checkpointer.checkpoints()
    }

    fn with_writer<T>(&self, f: impl FnOnce(&mut WriterState) -> AppResult<T>) -> AppResult<T> {
        // A panic while writing rolled its SQLite transaction back (dropped), and replicas
        // are cached only after a commit, so the state behind a poisoned lock is sound:
        // recover it rather than refuse every write until a restart.
        let mut guard = match self.writer.lock() {
            Ok(guard) => guard,
            Err(poisoned) => {
                self.writer.clear_poison();
                let mut guard = poisoned.into_inner();
                guard.cache.clear();
                guard
            }
        };
        f(&mut guard)
    }

    fn with_reader<T>(&self, f: impl FnOnce(&Connection) -> AppResult<T>) -> AppResult<T> {
        let pooled = self
            .readers
            .lock()
            .map_err(|_| AppError::internal("reader pool poisoned"))?
            .pop();
        let conn = match pooled {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(&self.path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
                fieldsync_core::sqlite_plans::stable_query_plans(&c)?;
                c.busy_timeout(std::time::Duration::from_secs(5))?;
                c
            }
        };
        let result = f(&conn);
        if let Ok(mut pool) = self.readers.lock()
            && pool.len() < READERS
        {
            pool.push(conn);
        }
        result
    }
}

fn add_store_held(tx: &Connection, store: &str, values: &[HeldValue]) -> AppResult<()> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO store_held (store, field, value) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
    )?;
    for (field, value) in values {
        insert.execute(params![store, field, value])?;
    }
    Ok(())
}

/// Fills in the values held by stores stored before the server kept them (schema 8), from
/// their stored changes, in one transaction.
fn backfill_store_held(conn: &mut Connection) -> AppResult<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let stores: Vec<String> = tx
        .prepare(
            "SELECT id FROM stores s WHERE NOT EXISTS (SELECT 1 FROM store_held h WHERE h.store = s.id)",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for store in &stores {
        let changes = tx
            .prepare_cached("SELECT bytes FROM changes WHERE doc_id = ?1 ORDER BY seq")?
            .query_map([store], |r| r.get::<_, Vec<u8>>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        add_store_held(&tx, store, &push::held_by_stored(store, &changes)?)?;
    }
    tx.commit()?;
    Ok(())
}

/// Fills in when the visits and counts stored before the server recorded it (schema 10)
/// happened, from their stored changes, in one transaction.
fn backfill_happened_at(conn: &mut Connection) -> AppResult<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let docs: Vec<String> = tx
        .prepare(
            "SELECT id FROM docs WHERE kind IN ('visit', 'inventory_count') AND happened_at IS NULL",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for doc in &docs {
        let changes = tx
            .prepare_cached("SELECT bytes FROM changes WHERE doc_id = ?1 ORDER BY seq")?
            .query_map([doc], |r| r.get::<_, Vec<u8>>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        if let Some(at) = push::happened_at_of_stored(doc, &changes)? {
            tx.prepare_cached("UPDATE docs SET happened_at = ?2 WHERE id = ?1")?
                .execute(params![doc, at])?;
        }
    }
    tx.commit()?;
    Ok(())
}

fn migrate(conn: &mut Connection) -> AppResult<()> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let latest = MIGRATIONS.last().map(|m| m.0).unwrap_or(0);
    if current > latest {
        return Err(AppError::Internal(format!(
            "the database has schema {current}, newer than this server's {latest}"
        )));
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        tx.execute_batch(&format!("PRAGMA user_version = {version}"))?;
        tx.commit()?;
    }
    Ok(())
}

/// [`push::PushTx`] over SQLite's write transaction. There is one writer, so rows are
/// appended in cursor order with nothing to reserve.
struct SqlitePush<'a, 'c> {
    tx: &'a Transaction<'c>,
    cache: &'a mut ReplicaCache,
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
                "SELECT seq, old_territory, new_territory, old_demo, new_demo FROM log
                 WHERE kind = 'scope' AND store_id = ?1",
            )?
            .query_map([store], |r| {
                Ok(ScopeRow {
                    seq: r.get(0)?,
                    old_territory: r.get(1)?,
                    new_territory: r.get(2)?,
                    old_demo: r.get(3)?,
                    new_demo: r.get(4)?,
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
        self.tx
            .prepare_cached("INSERT OR IGNORE INTO actors (actor, device_id) VALUES (?1, ?2)")?
            .execute(params![change.actor(), device])?;
        Ok(())
    }

    fn upsert_doc(
        &mut self,
        doc: &str,
        summary: &DocSummary,
        heads: &[String],
        added_bytes: i64,
    ) -> AppResult<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO docs (id, kind, store_id, manager, heads, bytes, happened_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (id) DO UPDATE SET heads = excluded.heads, bytes = bytes + excluded.bytes,
                     happened_at = COALESCE(docs.happened_at, excluded.happened_at)",
            )?
            .execute(params![
                doc,
                summary.kind.as_str(),
                summary.store_id,
                summary.manager,
                heads.join(","),
                added_bytes,
                summary.happened_at
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
}

impl SyncStorage for SqliteStorage {
    fn authenticate(&self, token_hash: &[u8]) -> AppResult<Option<DeviceInfo>> {
        self.with_reader(|conn| {
            let row: Option<(String, String, String)> = conn
                .prepare_cached("SELECT d.id, u.id, u.role FROM devices d JOIN users u ON u.id = d.user_id
                         WHERE ((d.token_hash = ?1 AND (d.token_expires_at IS NULL OR d.token_expires_at > ?2))
                                OR (d.previous_token_hash = ?1 AND d.previous_token_expires_at > ?2))
                         AND d.revoked_at IS NULL")?
                .query_row(
                    params![token_hash, chrono::Utc::now().timestamp_millis()],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            row.map(|(device_id, user_id, role)| {
                Ok(DeviceInfo {
                    device_id,
                    user_id,
                    role: Role::parse(&role)?,
                })
            })
            .transpose()
        })
    }

    fn enroll(
        &self,
        code_hash: &[u8],
        device_name: &str,
        token_hash: &[u8],
        now: i64,
    ) -> AppResult<DeviceInfo> {
        self.with_writer(|w| {
            let tx = w.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let row: Option<(String, String, i64, Option<i64>)> = tx
                .query_row(
                    "SELECT c.user_id, u.role, c.expires_at, c.used_at FROM enrollment_codes c
                     JOIN users u ON u.id = c.user_id WHERE c.code_hash = ?1",
                    [code_hash],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()?;
            let Some((user_id, role, expires_at, used_at)) = row else {
                return Err(AppError::Unauthorized("unknown enrollment code".into()));
            };
            if used_at.is_some() {
                return Err(AppError::Unauthorized("this enrollment code was used already".into()));
            }
            if expires_at <= now {
                return Err(AppError::Unauthorized("this enrollment code has expired".into()));
            }
            let device_id = DocId::new().to_string();
            tx.execute(
                "INSERT INTO devices (id, user_id, name, token_hash, enrolled_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![device_id, user_id, device_name, token_hash, now],
            )?;
            tx.execute(
                "UPDATE enrollment_codes SET used_at = ?2, device_id = ?3 WHERE code_hash = ?1",
                params![code_hash, now, device_id],
            )?;
            tx.commit()?;
            Ok(DeviceInfo { device_id, user_id, role: Role::parse(&role)? })
        })
    }

    fn push_within(
        &self,
        device: &DeviceInfo,
        docs: Vec<(DocId, Vec<IncomingChange>)>,
        now: i64,
        quotas: &Quotas,
    ) -> AppResult<PushResult> {
        self.with_writer(|w| {
            let WriterState { conn, cache } = w;
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let outcome = push::run(
                &mut SqlitePush { tx: &tx, cache },
                device,
                docs,
                now,
                quotas,
            )?;
            if outcome.result.is_ok() {
                tx.commit()?;
                for (doc, replica) in outcome.replicas {
                    cache.remember(doc, replica);
                }
            } // a refused push rolls back when `tx` drops
            Ok(outcome.result)
        })
    }

    fn feed_within(
        &self,
        device: &DeviceInfo,
        cursor: &FeedCursor,
        max_bytes: usize,
        just_pushed: &HashSet<String>,
        working: Option<WorkingSet>,
    ) -> AppResult<Feed> {
        let (feed, handed) = self.with_reader(|conn| {
            read_feed(conn, device, cursor, (max_bytes, just_pushed), working)
        })?;
        if let Some(handed) = handed {
            // Durable before the response leaves: a push judged after it must see it.
            self.with_writer(|w| {
                w.conn
                    .prepare_cached("UPDATE devices SET handed = MAX(handed, ?2) WHERE id = ?1")?
                    .execute(params![device.device_id, handed])?;
                Ok(())
            })?;
        }
        Ok(feed)
    }

    fn fetch(
        &self,
        device: &DeviceInfo,
        ask: &FetchAsk,
        max_bytes: usize,
    ) -> AppResult<FetchResponse> {
        self.with_reader(|conn| {
            // One read transaction: every document is read at the same end of the log.
            conn.execute_batch("BEGIN DEFERRED")?;
            let result = fetch::read(&mut SqliteFeed { conn }, device, ask, max_bytes);
            let _ = conn.execute_batch("COMMIT");
            result
        })
    }

    fn add_user(&self, user: &User, now: i64) -> AppResult<()> {
        self.with_writer(|w| {
            let inserted = w.conn.execute(
                "INSERT INTO users (id, role, name, created_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (id) DO NOTHING",
                params![user.id, user.role.code(), user.name, now],
            )?;
            if inserted == 0 {
                return Err(AppError::Conflict(format!("user `{}` exists already", user.id)));
            }
            Ok(())
        })
    }

    fn user(&self, id: &str) -> AppResult<Option<User>> {
        self.with_reader(|conn| {
            let row: Option<(String, String, String)> = conn
                .query_row(
                    "SELECT id, role, name FROM users WHERE id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            row.map(|(id, role, name)| {
                Ok(User {
                    id,
                    role: Role::parse(&role)?,
                    name,
                })
            })
            .transpose()
        })
    }

    fn users(&self) -> AppResult<Vec<User>> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare("SELECT id, role, name FROM users ORDER BY id")?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows.into_iter()
                .map(|(id, role, name)| {
                    Ok(User {
                        id,
                        role: Role::parse(&role)?,
                        name,
                    })
                })
                .collect()
        })
    }

    fn add_enrollment_code(
        &self,
        user_id: &str,
        code_hash: &[u8],
        now: i64,
        expires_at: i64,
    ) -> AppResult<()> {
        self.with_writer(|w| {
            let known: bool =
                w.conn.query_row("SELECT EXISTS (SELECT 1 FROM users WHERE id = ?1)", [user_id], |r| r.get(0))?;
            if !known {
                return Err(AppError::NotFound(format!("no user `{user_id}`")));
            }
            w.conn.execute(
                "INSERT INTO enrollment_codes (code_hash, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
                params![code_hash, user_id, now, expires_at],
            )?;
            Ok(())
        })
    }

    fn revoke_device(&self, device_id: &str, now: i64) -> AppResult<bool> {
        self.with_writer(|w| {
            let n = w.conn.execute(
                "UPDATE devices SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1",
                params![device_id, now],
            )?;
            Ok(n > 0)
        })
    }

    fn add_device(
        &self,
        device: &DeviceInfo,
        name: &str,
        token_hash: &[u8],
        now: i64,
    ) -> AppResult<()> {
        self.with_writer(|w| {
            w.conn.execute(
                "INSERT INTO devices (id, user_id, name, token_hash, enrolled_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (id) DO UPDATE SET token_hash = excluded.token_hash, revoked_at = NULL",
                params![device.device_id, device.user_id, name, token_hash, now],
            )?;
            Ok(())
        })
    }

    fn document_changes(&self, doc: &str) -> AppResult<Vec<Vec<u8>>> {
        self.with_reader(|conn| {
            let mut stmt =
                conn.prepare_cached("SELECT bytes FROM changes WHERE doc_id = ?1 ORDER BY seq")?;
            Ok(stmt
                .query_map([doc], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<Vec<u8>>>>()?)
        })
    }

    fn documents(&self) -> AppResult<Vec<(String, String)>> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare("SELECT id, kind FROM docs ORDER BY id")?;
            Ok(stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn reused_photos(
        &self,
    ) -> AppResult<std::collections::BTreeMap<String, Vec<super::photo_uses::PhotoUse>>> {
        self.with_reader(photo_uses::reused)
    }

    fn devices(&self) -> AppResult<Vec<super::DeviceRecord>> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare(
                "SELECT id, user_id, name, enrolled_at, revoked_at, last_seen_at FROM devices
                 ORDER BY enrolled_at, id",
            )?;
            Ok(stmt
                .query_map([], |r| {
                    Ok(super::DeviceRecord {
                        device_id: r.get(0)?,
                        user_id: r.get(1)?,
                        name: r.get(2)?,
                        enrolled_at: r.get(3)?,
                        revoked_at: r.get(4)?,
                        last_seen_at: r.get(5)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn record_audit(&self, entry: &super::audit::AuditEntry) -> AppResult<()> {
        self.with_writer(|w| super::audit::sqlite_record(&w.conn, entry))
    }

    fn audit(&self, since: i64) -> AppResult<Vec<super::audit::AuditEntry>> {
        self.with_reader(|conn| super::audit::sqlite_since(conn, since))
    }

    fn touch_device(&self, device_id: &str, now: i64) -> AppResult<()> {
        self.with_writer(|w| super::audit::sqlite_touch(&w.conn, device_id, now))
    }

    fn record_device_report(&self, status: &super::device_reports::DeviceStatus) -> AppResult<()> {
        self.with_writer(|w| super::device_reports::sqlite_record(&w.conn, status))
    }

    fn record_refused(
        &self,
        device_id: &str,
        protocol: u32,
        documents: i64,
        now: i64,
    ) -> AppResult<()> {
        self.with_writer(|w| {
            super::device_reports::sqlite_refused(&w.conn, device_id, protocol, documents, now)
        })
    }

    fn device_reports(&self) -> AppResult<Vec<super::device_reports::DeviceStatus>> {
        self.with_reader(super::device_reports::sqlite_all)
    }

    fn add_console_code(
        &self,
        user_id: &str,
        code_hash: &[u8],
        now: i64,
        expires_at: i64,
    ) -> AppResult<()> {
        self.with_writer(|w| {
            super::console_sessions::sqlite_add_code(&w.conn, user_id, code_hash, now, expires_at)
        })
    }

    fn take_console_code(&self, code_hash: &[u8], now: i64) -> AppResult<Option<String>> {
        self.with_writer(|w| super::console_sessions::sqlite_take_code(&w.conn, code_hash, now))
    }

    fn add_console_session(
        &self,
        session_hash: &[u8],
        user_id: &str,
        csrf: &str,
        now: i64,
        expires_at: i64,
    ) -> AppResult<()> {
        self.with_writer(|w| {
            super::console_sessions::sqlite_add_session(
                &w.conn,
                session_hash,
                user_id,
                csrf,
                now,
                expires_at,
            )
        })
    }

    fn console_session(
        &self,
        session_hash: &[u8],
        now: i64,
    ) -> AppResult<Option<super::console_sessions::ConsoleSession>> {
        self.with_reader(|conn| super::console_sessions::sqlite_session(conn, session_hash, now))
    }

    fn end_console_session(&self, session_hash: &[u8], now: i64) -> AppResult<bool> {
        self.with_writer(|w| {
            super::console_sessions::sqlite_end_session(&w.conn, session_hash, now)
        })
    }

    fn token_status(
        &self,
        device_id: &str,
        token_hash: &[u8],
    ) -> AppResult<Option<super::tokens::TokenStatus>> {
        self.with_reader(|conn| super::tokens::sqlite_status(conn, device_id, token_hash))
    }

    fn rotate_token(
        &self,
        device_id: &str,
        presented: &[u8],
        new_hash: &[u8],
        now: i64,
        expires_at: i64,
    ) -> AppResult<()> {
        let grace = expires_at - now;
        self.with_writer(|w| {
            super::tokens::sqlite_rotate(
                &w.conn, device_id, presented, new_hash, now, expires_at, grace,
            )
        })
    }

    fn add_blob_bytes(
        &self,
        device_id: &str,
        day: i64,
        bytes: i64,
        limit: i64,
    ) -> AppResult<Result<i64, i64>> {
        self.with_writer(|w| super::blob_ledger::sqlite_add(&w.conn, device_id, day, bytes, limit))
    }

    fn record_blob(&self, blob: &super::blob_ledger::BlobRecord) -> AppResult<()> {
        self.with_writer(|w| super::blob_ledger::sqlite_record(&w.conn, blob))
    }

    fn blobs(&self) -> AppResult<Vec<super::blob_ledger::BlobRecord>> {
        self.with_reader(super::blob_ledger::sqlite_list)
    }

    fn forget_blob(&self, hash: &str) -> AppResult<()> {
        self.with_writer(|w| super::blob_ledger::sqlite_forget(&w.conn, hash))
    }

    fn log_position(&self) -> AppResult<u64> {
        self.with_reader(|conn| {
            let seq: i64 =
                conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM log", [], |r| r.get(0))?;
            Ok(u64::try_from(seq).unwrap_or(0))
        })
    }
}

/// [`feed::FeedTx`] over a read transaction of one of the reader connections.
struct SqliteFeed<'a> {
    conn: &'a Connection,
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
                    l.change_hash
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

    fn store_documents(&mut self, store: &str) -> AppResult<Vec<String>> {
        Ok(self
            .conn
            .prepare_cached("SELECT id FROM docs WHERE store_id = ?1 ORDER BY id")?
            .query_map([store], |r| r.get(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn scope_documents(
        &mut self,
        device: &DeviceInfo,
        part: PassPart,
        after: &str,
        limit: i64,
    ) -> AppResult<Vec<String>> {
        let sql = format!(
            "SELECT id FROM ({}) AS p ORDER BY id LIMIT ?2",
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
                |r| r.get(0),
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn documents_changes(
        &mut self,
        device: &DeviceInfo,
        part: PassPart,
        after: &str,
        last: &str,
        upto: i64,
    ) -> AppResult<Vec<(String, String, Vec<u8>)>> {
        let sql = format!(
            "SELECT p.id, c.hash, c.bytes FROM ({}) AS p JOIN changes c ON c.doc_id = p.id
             WHERE c.seq <= ?4 ORDER BY p.id, c.seq",
            feed::scope_ids(
                device.role,
                "?3",
                &format!(
                    "d.id > ?1 AND d.id <= ?2 AND {}",
                    feed::part_condition(part.part, "?5", "?6")
                )
            )
        );
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_map(
                params![
                    after,
                    last,
                    device.user_id,
                    upto,
                    part.since,
                    part.floor_bound()
                ],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?)
    }

    fn passes_scope_row(&mut self, device: &str, upto: i64) -> AppResult<bool> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM log WHERE kind = 'scope' AND seq > d.handed AND seq <= ?2)
                 FROM devices d WHERE d.id = ?1",
            )?
            .query_row(params![device, upto], |r| r.get(0))
            .optional()?
            .unwrap_or(false))
    }

    fn scope_rows(&mut self, upto: i64) -> AppResult<Vec<LogRow>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT seq, store_id, old_territory, new_territory, old_demo, new_demo FROM log
                 WHERE kind = 'scope' AND seq <= ?1 ORDER BY seq",
            )?
            .query_map([upto], |r| {
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
fn read_feed(
    conn: &Connection,
    device: &DeviceInfo,
    cursor: &FeedCursor,
    (max_bytes, just_pushed): (usize, &HashSet<String>),
    working: Option<WorkingSet>,
) -> AppResult<(Feed, Option<i64>)> {
    // One read transaction: the end of the log and the rows read are one snapshot.
    conn.execute_batch("BEGIN DEFERRED")?;
    let mut tx = SqliteFeed { conn };
    let result =
        feed::read(&mut tx, device, cursor, max_bytes, just_pushed, working).and_then(|feed| {
            let handed = feed::handed_to_record(&mut tx, device, &feed)?;
            Ok((feed, handed))
        });
    let _ = conn.execute_batch("COMMIT");
    result
}
