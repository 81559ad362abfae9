//! The PostgreSQL backend: one database shared by any number of server instances.
//!
//! Nothing that matters lives in an instance's memory. The replica cache is only a cache:
//! an entry is used when its heads are the heads the database holds, read under the
//! document's lock. What makes it work across instances:
//!
//! - **Documents**: a push locks the rows of its documents in `doc_locks`, in id order,
//!   before it reads them, so two pushes of one document (through two instances) take
//!   turns and each judges the document as the other left it.
//! - **The cursor**: a push reserves its log rows by incrementing the single row of
//!   `log_counter`, as the last thing before it commits, and holds that row's lock until
//!   it commits. Pushes therefore commit in the order of their cursors, and a snapshot that
//!   sees row N sees every row before it: the feed never skips a change that committed
//!   late (docs/protocol.md, "The cursor"). A plain sequence does not give that; the
//!   [`CursorAllocation::NaiveSequence`] mode exists only so a test can show it fails.
//! - **Migrations** run on start under a transaction-scoped advisory lock, so instances
//!   that start together apply each migration once.
//!
//! The `postgres` client is blocking (it drives its connection on a runtime of its own),
//! which fits [`SyncStorage`](super::SyncStorage)'s blocking methods. Such a client must
//! not be used on a thread that runs async tasks, so every call is made on a short-lived
//! thread of its own (a few tens of microseconds next to a database round trip); each call
//! is in `postgres/calls.rs`.

mod calls;
mod connect;
mod feed_tx;
mod fetch_tx;
mod migrate;
mod photo_uses;
mod push_tx;

use connect::{Client, Connections, describe, retryable, target_of};
pub use connect::{CursorAllocation, PostgresOptions};
use feed_tx::PgFeed;
use migrate::{backfill_happened_at, backfill_store_held, migrate};

use std::sync::Mutex;
use std::time::Duration;

use r2d2_postgres::PostgresConnectionManager;

use super::replica_cache::ReplicaCache;
use crate::error::{AppError, AppResult};

/// The storage of one server instance on a shared PostgreSQL database.
pub struct PostgresStorage {
    pool: Connections,
    cache: Mutex<ReplicaCache>,
    options: PostgresOptions,
    target: String,
}

impl std::fmt::Debug for PostgresStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStorage")
            .field("target", &self.target)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl PostgresStorage {
    /// Connects to `url` (`postgres://user:password@host:port/database`), runs the
    /// migrations this database lacks, and returns the storage.
    pub fn open(url: &str, options: PostgresOptions) -> AppResult<PostgresStorage> {
        let (config, tls) = super::postgres_tls::connector(url, options.ca_file.as_deref())?;
        let target = target_of(&config);
        let manager = PostgresConnectionManager::new(config, tls);
        let pool = r2d2::Pool::builder()
            .max_size(options.pool_size.max(1))
            .min_idle(Some(0))
            .connection_timeout(Duration::from_secs(10))
            .build_unchecked(manager);
        let storage = PostgresStorage {
            pool: Connections(Some(pool)),
            cache: Mutex::new(ReplicaCache::default()),
            options,
            target,
        };
        storage.on_own_thread(|storage| {
            let mut client = storage.pool.get().map_err(|e| {
                AppError::Internal(format!(
                    "cannot connect to PostgreSQL at {}: {e}",
                    storage.target
                ))
            })?;

            migrate(&mut client)?;
            backfill_store_held(&mut client)?;
            backfill_happened_at(&mut client)?;
            photo_uses::backfill(&mut client)?;
            super::photo_owners::postgres_backfill(&mut client)?;
            if storage.options.cursor == CursorAllocation::NaiveSequence {
                // Numbered on from whatever the counter handed out before.
                client.batch_execute(
                    "CREATE SEQUENCE IF NOT EXISTS fieldsync_naive_seq;
                     SELECT setval('fieldsync_naive_seq', GREATEST(
                         (SELECT last FROM log_counter WHERE id = 1),
                         (SELECT COALESCE(MAX(seq), 0) FROM log),
                         nextval('fieldsync_naive_seq')))",
                )?;
            }
            Ok(())
        })?;
        Ok(storage)
    }

    /// Runs `f` on a thread of its own (see the module's notes), and waits for it.
    fn on_own_thread<T: Send>(
        &self,
        f: impl FnOnce(&PostgresStorage) -> AppResult<T> + Send,
    ) -> AppResult<T> {
        std::thread::scope(|scope| {
            std::thread::Builder::new()
                .name("fieldsync-postgres".into())
                .spawn_scoped(scope, || f(self))
                .map_err(AppError::internal)?
                .join()
                .map_err(|_| AppError::internal("a PostgreSQL call panicked"))?
        })
    }

    /// Runs `f` with a pooled connection, on a thread of its own.
    fn with_client<T: Send>(
        &self,
        f: impl FnOnce(&mut Client) -> AppResult<T> + Send,
    ) -> AppResult<T> {
        self.on_own_thread(|storage| {
            let mut client = storage.pool.get()?;
            f(&mut client)
        })
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, ReplicaCache> {
        // The cache holds only copies checked against the database before use.
        self.cache.lock().unwrap_or_else(|poisoned| {
            self.cache.clear_poison();
            let mut guard = poisoned.into_inner();
            guard.clear();
            guard
        })
    }
}
