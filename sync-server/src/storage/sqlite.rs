//! The embedded SQLite backend: one file in the data folder, WAL, `synchronous=FULL`, its
//! checkpoints on a thread of their own (core's `wal_checkpoint.rs`).
//!
//! All writes go through one connection behind a mutex, so transactions commit one at a
//! time in the order they allocated their `log.seq`: a reader that sees a row sees every
//! row before it, which is what makes the cursor exact. Reads use a small pool of their own
//! connections and never wait for the writer (WAL).

mod feed_tx;
mod fetch_tx;
mod migrate;
mod photo_uses;
mod push_tx;

use feed_tx::{SqliteFeed, read_feed};
use migrate::{backfill_happened_at, backfill_store_held, migrate};
use push_tx::SqlitePush;

use std::collections::HashSet;
use std::path::Path;
use std::sync::Mutex;

use fieldsync_core::protocol::{FeedCursor, FetchResponse, WorkingSet};
use fieldsync_core::wal_checkpoint::{Checkpointer, WRITER_PAGES};
use fieldsync_core::{DocId, IncomingChange};
use rusqlite::{Connection, OpenFlags, TransactionBehavior, params};

use super::fetch::{self, FetchAsk};
use super::push;
use super::quota::{self, Quotas};
use super::replica_cache::ReplicaCache;
use super::{DeviceInfo, Feed, PushResult, SyncStorage, User};
use super::{enrollment, people};
use crate::error::{AppError, AppResult};

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

/// How much of the database file each connection reads through a memory map instead of
/// `read` calls (SQLite's `mmap_size`).
const MMAP_BYTES: i64 = 1 << 30;

impl SqliteStorage {
    /// Opens (creating and migrating) the database at `path`.
    pub fn open(path: &Path) -> AppResult<SqliteStorage> {
        let mut conn = Connection::open(path)?;
        fieldsync_core::sqlite_plans::stable_query_plans(&conn)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "mmap_size", MMAP_BYTES)?;
        migrate(&mut conn)?;
        backfill_store_held(&mut conn)?;
        backfill_happened_at(&mut conn)?;
        photo_uses::backfill(&mut conn)?;
        super::photo_owners::sqlite_backfill(&mut conn)?;
        let checkpointer = Checkpointer::install(
            path,
            &mut conn,
            Box::new(|e| {
                tracing::warn!(
                    error = %e,
                    "background WAL checkpoint failed; the writer checkpoints itself past {WRITER_PAGES} pages"
                );
            }),
        )?;
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
                c.pragma_update(None, "mmap_size", MMAP_BYTES)?;
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

impl SyncStorage for SqliteStorage {
    fn authenticate(&self, token_hash: &[u8]) -> AppResult<Option<DeviceInfo>> {
        self.with_reader(|conn| people::sqlite_authenticate(conn, token_hash))
    }

    fn enroll(
        &self,
        code_hash: &[u8],
        device_name: &str,
        token_hash: &[u8],
        now: i64,
    ) -> AppResult<DeviceInfo> {
        self.with_writer(|w| {
            enrollment::sqlite_enroll(&mut w.conn, code_hash, device_name, token_hash, now)
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
                &mut SqlitePush {
                    tx: &tx,
                    cache,
                    actors: Default::default(),
                },
                device,
                docs,
                now,
                quotas,
            )?;
            if outcome.result.is_ok() {
                tx.commit()?;
                cache.remember_all(outcome.replicas);
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
        outbox_emptied: bool,
    ) -> AppResult<Feed> {
        let feed = self.with_reader(|conn| {
            read_feed(
                conn,
                device,
                cursor,
                (max_bytes, just_pushed, outbox_emptied),
                working,
            )
        })?;
        if let Some(handed) = feed.told_upto {
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
        self.with_writer(|w| people::sqlite_add_user(&w.conn, user, now))
    }

    fn user(&self, id: &str) -> AppResult<Option<User>> {
        self.with_reader(|conn| people::sqlite_user(conn, id))
    }

    fn users(&self) -> AppResult<Vec<User>> {
        self.with_reader(people::sqlite_users)
    }

    fn add_enrollment_code(
        &self,
        user_id: &str,
        code_hash: &[u8],
        now: i64,
        expires_at: i64,
    ) -> AppResult<()> {
        self.with_writer(|w| {
            enrollment::sqlite_add_code(&w.conn, user_id, code_hash, now, expires_at)
        })
    }

    fn revoke_device(&self, device_id: &str, now: i64) -> AppResult<bool> {
        self.with_writer(|w| people::sqlite_revoke_device(&w.conn, device_id, now))
    }

    fn add_device(
        &self,
        device: &DeviceInfo,
        name: &str,
        token_hash: &[u8],
        now: i64,
    ) -> AppResult<()> {
        self.with_writer(|w| people::sqlite_add_device(&w.conn, device, name, token_hash, now))
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
        self.with_reader(people::sqlite_devices)
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

    fn charge_refused(&self, device_id: &str, bytes: u64, now: i64) -> AppResult<()> {
        let bytes = i64::try_from(bytes).unwrap_or(i64::MAX);
        self.with_writer(|w| {
            w.conn
                .prepare_cached(
                    "INSERT INTO device_days (device_id, day, bytes) VALUES (?1, ?2, ?3)
                     ON CONFLICT (device_id, day) DO UPDATE SET bytes = bytes + excluded.bytes",
                )?
                .execute(params![device_id, quota::day_of(now), bytes])?;
            Ok(())
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
        let session = super::console_sessions::NewSession {
            hash: session_hash,
            csrf,
            now,
            expires_at,
        };
        self.with_writer(|w| super::console_sessions::sqlite_add_session(&w.conn, user_id, session))
    }

    fn open_console_session(
        &self,
        code_hash: &[u8],
        session: super::console_sessions::NewSession<'_>,
        may_open: fn(fieldsync_core::Role) -> bool,
    ) -> AppResult<super::console_sessions::SignIn> {
        self.with_writer(|w| {
            super::console_sessions::sqlite_open_session(&mut w.conn, code_hash, session, may_open)
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

    fn end_console_access(
        &self,
        user_id: &str,
        now: i64,
    ) -> AppResult<super::console_sessions::AccessEnded> {
        self.with_writer(|w| super::console_sessions::sqlite_end_access(&mut w.conn, user_id, now))
    }

    fn token_status(
        &self,
        device_id: &str,
        token_hash: &[u8],
    ) -> AppResult<Option<super::tokens::TokenStatus>> {
        self.with_reader(|conn| super::tokens::sqlite_status(conn, device_id, token_hash))
    }

    fn retire_previous_token(&self, device_id: &str, current: &[u8]) -> AppResult<bool> {
        self.with_writer(|w| super::tokens::sqlite_retire_previous(&w.conn, device_id, current))
    }

    fn rotate_token(
        &self,
        device_id: &str,
        presented: &[u8],
        replacing: &[u8],
        new_hash: &[u8],
        now: i64,
        expires_at: i64,
    ) -> AppResult<bool> {
        self.with_writer(|w| {
            super::tokens::sqlite_rotate(
                &w.conn, device_id, presented, replacing, new_hash, now, expires_at,
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

    fn photo_owner(&self, hash: &str) -> AppResult<Option<String>> {
        self.with_reader(|conn| super::photo_owners::sqlite_owner(conn, hash))
    }

    fn log_position(&self) -> AppResult<u64> {
        self.with_reader(|conn| {
            let seq: i64 =
                conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM log", [], |r| r.get(0))?;
            Ok(u64::try_from(seq).unwrap_or(0))
        })
    }
}
