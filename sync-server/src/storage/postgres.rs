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
//! which fits [`SyncStorage`]'s blocking methods. Such a client must not be used on a
//! thread that runs async tasks, so every call is made on a short-lived thread of its own
//! (a few tens of microseconds next to a database round trip).

mod feed_tx;
mod fetch_tx;
mod migrate;
mod push_tx;

use feed_tx::PgFeed;
use migrate::{backfill_happened_at, backfill_store_held, migrate};
use push_tx::{ChangeRows, PgPush};
mod photo_uses;

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use fieldsync_core::protocol::{FeedCursor, FetchResponse, WorkingSet};
use fieldsync_core::{DocId, IncomingChange, Role};
use postgres::IsolationLevel;
use postgres::error::SqlState;
use r2d2_postgres::PostgresConnectionManager;
use rand::Rng;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::feed;
use super::fetch::{self, FetchAsk};
use super::push;
use super::quota::Quotas;
use super::replica_cache::ReplicaCache;
use super::{DeviceInfo, DeviceRecord, Feed, PushResult, SyncStorage, User};
use crate::error::{AppError, AppResult};

type Pool = r2d2::Pool<PostgresConnectionManager<MakeRustlsConnect>>;
type Client = r2d2::PooledConnection<PostgresConnectionManager<MakeRustlsConnect>>;

/// Attempts of one push when the database asks for a retry (a deadlock or, on the
/// distributed engines, a serialization failure).
const PUSH_ATTEMPTS: usize = 5;

/// How a push gets its cursors.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CursorAllocation {
    /// The counter row, locked until commit: exact (the only mode for real use).
    #[default]
    LockedCounter,
    /// `nextval` of a sequence, committed in any order: skips changes. For the test that
    /// shows why the counter is needed; never use it to serve devices.
    #[doc(hidden)]
    NaiveSequence,
}

/// How to connect and behave.
#[derive(Clone, Debug)]
pub struct PostgresOptions {
    /// Most connections this instance holds open.
    pub pool_size: u32,
    #[doc(hidden)]
    pub cursor: CursorAllocation,
    /// Sleeps up to this long (at random) just before each push commits: a test's way of
    /// making transactions commit out of order.
    #[doc(hidden)]
    pub commit_delay: Option<Duration>,
    /// PEM file of the CA certificates that sign the server's certificate (for
    /// `sslmode=verify-ca|verify-full`; the URL's `sslrootcert` says the same).
    pub ca_file: Option<std::path::PathBuf>,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            pool_size: 16,
            cursor: CursorAllocation::LockedCounter,
            commit_delay: None,
            ca_file: None,
        }
    }
}

/// The connection pool, closed on a thread of its own when dropped: closing a blocking
/// client on a thread that drives async tasks would panic.
struct Connections(Option<Pool>);

impl Connections {
    fn get(&self) -> AppResult<Client> {
        match &self.0 {
            Some(pool) => Ok(pool.get()?),
            // Only `drop` takes the pool.
            None => Err(AppError::internal("the PostgreSQL pool is closed")),
        }
    }
}

impl Drop for Connections {
    fn drop(&mut self) {
        if let Some(pool) = self.0.take() {
            let _ = std::thread::Builder::new()
                .name("fieldsync-postgres-close".into())
                .spawn(move || drop(pool));
        }
    }
}

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

impl From<postgres::Error> for AppError {
    fn from(e: postgres::Error) -> Self {
        AppError::Internal(describe(&e))
    }
}

impl From<r2d2::Error> for AppError {
    fn from(e: r2d2::Error) -> Self {
        AppError::Internal(format!("postgres: no connection from the pool: {e}"))
    }
}

/// The server's message and code for a database error, the client's otherwise.
fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("postgres: {} ({})", db.message(), db.code().code()),
        None => match std::error::Error::source(e) {
            Some(source) => format!("postgres: {e}: {source}"),
            None => format!("postgres: {e}"),
        },
    }
}

fn retryable(e: &postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
    )
}

/// `host:port/database` of a URL, without the password.
fn target_of(config: &postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            postgres::config::Host::Tcp(name) => name.clone(),
            postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("postgres");
    format!("{host}:{port}/{db}")
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

    /// One attempt at a push. `Err(e)` with a retryable `e` may be tried again.
    fn try_push(
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
        let mut cache = self.cache();
        for (doc, replica) in outcome.replicas {
            cache.remember(doc, replica);
        }
        Ok(Ok(outcome.result))
    }
}

impl SyncStorage for PostgresStorage {
    fn authenticate(&self, token_hash: &[u8]) -> AppResult<Option<DeviceInfo>> {
        self.with_client(|client| {
            client
                .query_opt(
                    "SELECT d.id, u.id, u.role FROM devices d JOIN users u ON u.id = d.user_id
                         WHERE ((d.token_hash = $1 AND (d.token_expires_at IS NULL OR d.token_expires_at > $2))
                                OR (d.previous_token_hash = $1 AND d.previous_token_expires_at > $2))
                         AND d.revoked_at IS NULL",
                    &[&token_hash, &chrono::Utc::now().timestamp_millis()],
                )?
                .map(|r| {
                    Ok(DeviceInfo {
                        device_id: r.get(0),
                        user_id: r.get(1),
                        role: Role::parse(r.get(2))?,
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
        self.with_client(|client| {
            let mut tx = client.transaction()?;
            // FOR UPDATE: two instances given the same code at once enroll one device.
            let row = tx.query_opt(
                "SELECT c.user_id, u.role, c.expires_at, c.used_at FROM enrollment_codes c
                 JOIN users u ON u.id = c.user_id WHERE c.code_hash = $1 FOR UPDATE OF c",
                &[&code_hash],
            )?;
            let Some(row) = row else {
                return Err(AppError::Unauthorized("unknown enrollment code".into()));
            };
            let (user_id, role, expires_at, used_at): (String, String, i64, Option<i64>) =
                (row.get(0), row.get(1), row.get(2), row.get(3));
            if used_at.is_some() {
                return Err(AppError::Unauthorized(
                    "this enrollment code was used already".into(),
                ));
            }
            if expires_at <= now {
                return Err(AppError::Unauthorized(
                    "this enrollment code has expired".into(),
                ));
            }
            let device_id = DocId::new().to_string();
            // A new device holds no edit from before it existed: it is counted as told of
            // every store that left its user's scope so far (`scope_guard.rs`).
            tx.execute(
                "INSERT INTO devices (id, user_id, name, token_hash, enrolled_at, handed)
                 VALUES ($1, $2, $3, $4, $5, (SELECT COALESCE(MAX(seq), 0)::bigint FROM log))",
                &[&device_id, &user_id, &device_name, &token_hash, &now],
            )?;
            tx.execute(
                "UPDATE enrollment_codes SET used_at = $2, device_id = $3 WHERE code_hash = $1",
                &[&code_hash, &now, &device_id],
            )?;
            tx.commit()?;
            Ok(DeviceInfo {
                device_id,
                user_id,
                role: Role::parse(&role)?,
            })
        })
    }

    fn push_within(
        &self,
        device: &DeviceInfo,
        docs: Vec<(DocId, Vec<IncomingChange>)>,
        now: i64,
        quotas: &Quotas,
    ) -> AppResult<PushResult> {
        self.with_client(|client| {
            let mut last = None;
            for _ in 0..PUSH_ATTEMPTS {
                match self.try_push(client, device, docs.clone(), now, quotas) {
                    Ok(result) => return result,
                    Err(e) if retryable(&e) => {
                        tracing::debug!(error = %describe(&e), "push retried");
                        last = Some(e);
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Err(match last {
                Some(e) => AppError::Internal(format!(
                    "push failed {PUSH_ATTEMPTS} times: {}",
                    describe(&e)
                )),
                None => AppError::internal("push was never attempted"),
            })
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
        self.with_client(|client| {
            let mut tx = client
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()?;
            let mut pg = PgFeed { tx: &mut tx };
            let pushed = (just_pushed, outbox_emptied);
            let feed = feed::read(&mut pg, device, cursor, max_bytes, pushed, working)?;
            tx.commit()?;
            if let Some(handed) = feed.told_upto {
                // Committed before the response leaves: a push judged after it must see it.
                client.execute(
                    "UPDATE devices SET handed = GREATEST(handed, $2) WHERE id = $1",
                    &[&device.device_id, &handed],
                )?;
            }
            Ok(feed)
        })
    }

    fn fetch(
        &self,
        device: &DeviceInfo,
        ask: &FetchAsk,
        max_bytes: usize,
    ) -> AppResult<FetchResponse> {
        self.with_client(|client| {
            // One snapshot: every document is read at the same end of the log.
            let mut tx = client
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()?;
            let answer = fetch::read(&mut PgFeed { tx: &mut tx }, device, ask, max_bytes)?;
            tx.commit()?;
            Ok(answer)
        })
    }

    fn add_user(&self, user: &User, now: i64) -> AppResult<()> {
        self.with_client(|client| {
            let inserted = client.execute(
                "INSERT INTO users (id, role, name, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
                &[&user.id, &user.role.code(), &user.name, &now],
            )?;
            if inserted == 0 {
                return Err(AppError::Conflict(format!(
                    "user `{}` exists already",
                    user.id
                )));
            }
            Ok(())
        })
    }

    fn user(&self, id: &str) -> AppResult<Option<User>> {
        self.with_client(|client| {
            client
                .query_opt("SELECT id, role, name FROM users WHERE id = $1", &[&id])?
                .map(|r| {
                    Ok(User {
                        id: r.get(0),
                        role: Role::parse(r.get(1))?,
                        name: r.get(2),
                    })
                })
                .transpose()
        })
    }

    fn users(&self) -> AppResult<Vec<User>> {
        self.with_client(|client| {
            client
                .query("SELECT id, role, name FROM users ORDER BY id", &[])?
                .iter()
                .map(|r| {
                    Ok(User {
                        id: r.get(0),
                        role: Role::parse(r.get(1))?,
                        name: r.get(2),
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
        self.with_client(|client| {
            let known: bool = client
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)",
                    &[&user_id],
                )?
                .get(0);
            if !known {
                return Err(AppError::NotFound(format!("no user `{user_id}`")));
            }
            client.execute(
                "INSERT INTO enrollment_codes (code_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
                &[&code_hash, &user_id, &now, &expires_at],
            )?;
            Ok(())
        })
    }

    fn revoke_device(&self, device_id: &str, now: i64) -> AppResult<bool> {
        self.with_client(|client| {
            let n = client.execute(
                "UPDATE devices SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1",
                &[&device_id, &now],
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
        self.with_client(|client| {
            client.execute(
                "INSERT INTO devices (id, user_id, name, token_hash, enrolled_at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (id) DO UPDATE SET token_hash = excluded.token_hash, revoked_at = NULL",
                &[&device.device_id, &device.user_id, &name, &token_hash, &now],
            )?;
            Ok(())
        })
    }

    fn document_changes(&self, doc: &str) -> AppResult<Vec<Vec<u8>>> {
        self.with_client(|client| {
            Ok(client
                .query(
                    "SELECT bytes FROM changes WHERE doc_id = $1 ORDER BY seq",
                    &[&doc],
                )?
                .iter()
                .map(|r| r.get(0))
                .collect())
        })
    }

    fn documents(&self) -> AppResult<Vec<(String, String)>> {
        self.with_client(|client| {
            Ok(client
                .query("SELECT id, kind FROM docs ORDER BY id", &[])?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect())
        })
    }

    fn reused_photos(
        &self,
    ) -> AppResult<std::collections::BTreeMap<String, Vec<super::photo_uses::PhotoUse>>> {
        self.with_client(|client| photo_uses::reused(client))
    }

    fn devices(&self) -> AppResult<Vec<DeviceRecord>> {
        self.with_client(|client| {
            Ok(client
                .query(
                    "SELECT id, user_id, name, enrolled_at, revoked_at, last_seen_at FROM devices
                     ORDER BY enrolled_at, id",
                    &[],
                )?
                .iter()
                .map(|r| DeviceRecord {
                    device_id: r.get(0),
                    user_id: r.get(1),
                    name: r.get(2),
                    enrolled_at: r.get(3),
                    revoked_at: r.get(4),
                    last_seen_at: r.get(5),
                })
                .collect())
        })
    }

    fn record_audit(&self, entry: &super::audit::AuditEntry) -> AppResult<()> {
        self.with_client(|client| super::audit::postgres_record(client, entry))
    }

    fn audit(&self, since: i64) -> AppResult<Vec<super::audit::AuditEntry>> {
        self.with_client(|client| super::audit::postgres_since(client, since))
    }

    fn add_console_code(
        &self,
        user_id: &str,
        code_hash: &[u8],
        now: i64,
        expires_at: i64,
    ) -> AppResult<()> {
        self.with_client(|client| {
            super::console_sessions::postgres_add_code(client, user_id, code_hash, now, expires_at)
        })
    }

    fn take_console_code(&self, code_hash: &[u8], now: i64) -> AppResult<Option<String>> {
        self.with_client(|client| {
            super::console_sessions::postgres_take_code(client, code_hash, now)
        })
    }

    fn add_console_session(
        &self,
        session_hash: &[u8],
        user_id: &str,
        csrf: &str,
        now: i64,
        expires_at: i64,
    ) -> AppResult<()> {
        self.with_client(|client| {
            super::console_sessions::postgres_add_session(
                client,
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
        self.with_client(|client| {
            super::console_sessions::postgres_session(client, session_hash, now)
        })
    }

    fn end_console_session(&self, session_hash: &[u8], now: i64) -> AppResult<bool> {
        self.with_client(|client| {
            super::console_sessions::postgres_end_session(client, session_hash, now)
        })
    }

    fn touch_device(&self, device_id: &str, now: i64) -> AppResult<()> {
        self.with_client(|client| super::audit::postgres_touch(client, device_id, now))
    }

    fn record_device_report(&self, status: &super::device_reports::DeviceStatus) -> AppResult<()> {
        self.with_client(|client| super::device_reports::postgres_record(client, status))
    }

    fn record_refused(
        &self,
        device_id: &str,
        protocol: u32,
        documents: i64,
        now: i64,
    ) -> AppResult<()> {
        self.with_client(|client| {
            super::device_reports::postgres_refused(client, device_id, protocol, documents, now)
        })
    }

    fn charge_refused(&self, device_id: &str, bytes: u64, now: i64) -> AppResult<()> {
        let bytes = i64::try_from(bytes).unwrap_or(i64::MAX);
        self.with_client(|client| {
            client.execute(
                "INSERT INTO device_days (device_id, day, bytes) VALUES ($1, $2, $3)
                 ON CONFLICT (device_id, day) DO UPDATE SET bytes = device_days.bytes + excluded.bytes",
                &[&device_id, &super::quota::day_of(now), &bytes],
            )?;
            Ok(())
        })
    }

    fn device_reports(&self) -> AppResult<Vec<super::device_reports::DeviceStatus>> {
        self.with_client(|client| super::device_reports::postgres_all(client))
    }

    fn token_status(
        &self,
        device_id: &str,
        token_hash: &[u8],
    ) -> AppResult<Option<super::tokens::TokenStatus>> {
        self.with_client(|client| super::tokens::postgres_status(client, device_id, token_hash))
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
        self.with_client(|client| {
            super::tokens::postgres_rotate(
                client, device_id, presented, new_hash, now, expires_at, grace,
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
        self.with_client(|client| {
            super::blob_ledger::postgres_add(client, device_id, day, bytes, limit)
        })
    }

    fn record_blob(&self, blob: &super::blob_ledger::BlobRecord) -> AppResult<()> {
        self.with_client(|client| super::blob_ledger::postgres_record(client, blob))
    }

    fn blobs(&self) -> AppResult<Vec<super::blob_ledger::BlobRecord>> {
        self.with_client(|client| super::blob_ledger::postgres_list(client))
    }

    fn forget_blob(&self, hash: &str) -> AppResult<()> {
        self.with_client(|client| super::blob_ledger::postgres_forget(client, hash))
    }

    fn log_position(&self) -> AppResult<u64> {
        self.with_client(|client| {
            let seq: i64 = client
                .query_one("SELECT COALESCE(MAX(seq), 0)::bigint FROM log", &[])?
                .get(0);
            Ok(u64::try_from(seq).unwrap_or(0))
        })
    }
}
