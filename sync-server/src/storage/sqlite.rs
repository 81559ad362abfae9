//! The embedded SQLite backend: one file in the data folder, WAL, `synchronous=FULL`, its
//! checkpoints on a thread of their own (core's `wal_checkpoint.rs`).
//!
//! All writes go through one connection behind a mutex, so transactions commit one at a
//! time in the order they allocated their `log.seq`: a reader that sees a row sees every
//! row before it, which is what makes the cursor exact. Reads use a small pool of their own
//! connections and never wait for the writer (WAL). Each call is in `sqlite/calls.rs`.

mod calls;
mod feed_tx;
mod fetch_tx;
mod migrate;
mod photo_uses;
mod push_tx;

use feed_tx::{SqliteFeed, read_feed};
use migrate::{backfill_happened_at, backfill_store_held, migrate};
use push_tx::SqlitePush;

use std::path::Path;
use std::sync::Mutex;

use fieldsync_core::wal_checkpoint::{Checkpointer, WRITER_PAGES};
use rusqlite::{Connection, OpenFlags};

use super::replica_cache::ReplicaCache;
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
