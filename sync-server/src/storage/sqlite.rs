//! The embedded SQLite backend: one file in the data folder, WAL, `synchronous=FULL`.
//!
//! All writes go through one connection behind a mutex, so transactions commit one at a
//! time in the order they allocated their `log.seq`: a reader that sees a row sees every
//! row before it, which is what makes the cursor exact. Reads use a small pool of their own
//! connections and never wait for the writer (WAL).

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::Path;
use std::sync::Mutex;

use fieldsync_core::protocol::{Accepted, DocChanges, Rejection};
use fieldsync_core::{DocId, DocKind, IncomingChange, Replica, Role, Writer, check_write};
use rusqlite::{
    Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior, params,
};
use serde_bytes::ByteBuf;

use super::{DeviceInfo, Feed, PushResult, Pushed, SyncStorage, User};
use crate::error::{AppError, AppResult};

const MIGRATIONS: &[(i64, &str)] = &[(1, include_str!("../../migrations/001_init.sql"))];
const READERS: usize = 4;
const REPLICA_CACHE: usize = 2_000;

/// The SQLite storage of one server.
pub struct SqliteStorage {
    writer: Mutex<WriterState>,
    readers: Mutex<Vec<Connection>>,
    path: std::path::PathBuf,
}

struct WriterState {
    conn: Connection,
    cache: ReplicaCache,
}

/// Replicas of recently written documents, so a push does not reload their history.
#[derive(Default)]
struct ReplicaCache {
    replicas: HashMap<String, Replica>,
    order: VecDeque<String>,
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
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrate(&mut conn)?;
        Ok(SqliteStorage {
            writer: Mutex::new(WriterState {
                conn,
                cache: ReplicaCache::default(),
            }),
            readers: Mutex::new(Vec::new()),
            path: path.to_path_buf(),
        })
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
                guard.cache = ReplicaCache::default();
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

/// Whether a store with these facts is in a device's read scope.
pub(crate) fn store_in_scope(device: &DeviceInfo, territory: &str, demo_street: bool) -> bool {
    match device.role {
        Role::AccountManager => territory == device.user_id,
        Role::MarketTeam => demo_street,
        Role::Supervisor | Role::Admin => true,
    }
}

/// The SQL condition for "the document of row `d` (store `s`) is in scope of user `?3`".
fn scope_sql(role: Role) -> &'static str {
    match role {
        Role::AccountManager => "(s.territory = ?3 OR d.manager = ?3)",
        Role::MarketTeam => "(s.demo_street = 1 AND ?3 IS NOT NULL)",
        Role::Supervisor | Role::Admin => "(?3 IS NOT NULL)",
    }
}

struct Staged {
    doc: String,
    replica: Replica,
    new: Vec<IncomingChange>,
    before: Option<fieldsync_core::DocSummary>,
    after: fieldsync_core::DocSummary,
}

impl ReplicaCache {
    /// The replica of `doc` as the database holds it now. A cached copy is used only if
    /// its heads are the stored heads: another process (the admin tools) may have written.
    fn get(&self, conn: &Connection, doc: &str) -> AppResult<Replica> {
        if let Some(cached) = self.replicas.get(doc) {
            let stored: Option<String> = conn
                .prepare_cached("SELECT heads FROM docs WHERE id = ?1")?
                .query_row([doc], |r| r.get(0))
                .optional()?;
            let mut replica = cached.clone();
            if stored.as_deref() == Some(replica.heads().join(",").as_str()) {
                return Ok(replica);
            }
        }
        let id = DocId::parse("doc", doc)?;
        let mut stmt =
            conn.prepare_cached("SELECT bytes FROM changes WHERE doc_id = ?1 ORDER BY seq")?;
        let stored = stmt
            .query_map([doc], |r| r.get::<_, Vec<u8>>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        if stored.is_empty() {
            return Ok(Replica::empty(&id));
        }
        Ok(Replica::load(&id, stored.iter().map(Vec::as_slice))?)
    }

    fn remember(&mut self, doc: String, replica: Replica) {
        if self.replicas.insert(doc.clone(), replica).is_none() {
            self.order.push_back(doc);
        }
        // Bounded: each pass removes one entry or stops.
        while self.replicas.len() > REPLICA_CACHE {
            match self.order.pop_front() {
                Some(old) => {
                    self.replicas.remove(&old);
                }
                None => break,
            }
        }
    }
}

fn store_facts(tx: &Transaction<'_>, store: &str) -> AppResult<Option<(String, bool)>> {
    Ok(tx
        .prepare_cached("SELECT territory, demo_street FROM stores WHERE id = ?1")?
        .query_row([store], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

impl SyncStorage for SqliteStorage {
    fn authenticate(&self, token_hash: &[u8]) -> AppResult<Option<DeviceInfo>> {
        self.with_reader(|conn| {
            let row: Option<(String, String, String)> = conn
                .prepare_cached(
                    "SELECT d.id, u.id, u.role FROM devices d JOIN users u ON u.id = d.user_id
                     WHERE d.token_hash = ?1 AND d.revoked_at IS NULL",
                )?
                .query_row([token_hash], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
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

    fn push(
        &self,
        device: &DeviceInfo,
        docs: Vec<(DocId, Vec<IncomingChange>)>,
        now: i64,
    ) -> AppResult<PushResult> {
        self.with_writer(|w| {
            let mut staged: Vec<Staged> = Vec::new();
            let mut rejections: Vec<Rejection> = Vec::new();
            let mut accepted: Vec<Accepted> = Vec::new();
            {
                let WriterState { conn, cache } = w;
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                for (doc_id, changes) in docs {
                    let doc = doc_id.to_string();
                    let mut replica = cache.get(&tx, &doc)?;
                    let mut seen = HashSet::new();
                    let new: Vec<IncomingChange> = changes
                        .into_iter()
                        .filter(|c| seen.insert(c.hash()) && !replica.has_change(&c.hash()))
                        .collect();
                    if new.is_empty() {
                        accepted.push(Accepted { doc, heads: replica.heads() });
                        continue;
                    }
                    let mut foreign = None;
                    for actor in new.iter().map(IncomingChange::actor).collect::<HashSet<_>>() {
                        let owner: Option<String> = tx
                            .prepare_cached("SELECT device_id FROM actors WHERE actor = ?1")?
                            .query_row([&actor], |r| r.get(0))
                            .optional()?;
                        if owner.as_ref().is_some_and(|o| o != &device.device_id) {
                            foreign = Some(actor);
                        }
                    }
                    if let Some(actor) = foreign {
                        rejections.push(Rejection {
                            doc,
                            rule: "actor_binding".into(),
                            message: format!("actor `{actor}` belongs to another device"),
                        });
                        continue;
                    }
                    let before = replica.summary()?;
                    let effect = replica.apply(&new).map_err(|e| AppError::BadRequest(format!("document `{doc}`: {e}")))?;
                    let after = replica
                        .summary()?
                        .ok_or_else(|| AppError::BadRequest(format!("document `{doc}` has no content")))?;
                    let scope_store = match after.kind {
                        DocKind::Store => before.as_ref().and_then(|_| after.store_id.clone()),
                        _ => after.store_id.clone(),
                    };
                    let store_in_scope = match &scope_store {
                        Some(store) => {
                            store_facts(&tx, store)?.is_some_and(|(t, d)| store_in_scope(device, &t, d))
                                || left_scope_recently(&tx, device, store, now)?
                        }
                        None => matches!(device.role, Role::Supervisor | Role::Admin),
                    };
                    let writer = Writer { user: &device.user_id, role: device.role, store_in_scope };
                    if let Err(v) = check_write(before.as_ref(), &after, &effect, &writer) {
                        rejections.push(Rejection { doc, rule: v.rule.into(), message: v.message });
                        continue;
                    }
                    staged.push(Staged { doc, replica, new, before, after });
                }
                if !rejections.is_empty() {
                    return Ok(Err(rejections)); // the transaction rolls back on drop
                }
                let mut applied = 0;
                for s in &mut staged {
                    for change in &mut s.new {
                        tx.prepare_cached(
                            "INSERT INTO log (kind, doc_id, change_hash, device_id, at) VALUES ('change', ?1, ?2, ?3, ?4)",
                        )?
                        .execute(params![s.doc, change.hash(), device.device_id, now])?;
                        let seq = tx.last_insert_rowid();
                        tx.prepare_cached("INSERT INTO changes (hash, doc_id, seq, bytes) VALUES (?1, ?2, ?3, ?4)")?
                            .execute(params![change.hash(), s.doc, seq, change.bytes()])?;
                        tx.prepare_cached("INSERT OR IGNORE INTO actors (actor, device_id) VALUES (?1, ?2)")?
                            .execute(params![change.actor(), device.device_id])?;
                        applied += 1;
                    }
                    let heads = s.replica.heads();
                    tx.prepare_cached(
                        "INSERT INTO docs (id, kind, store_id, manager, heads) VALUES (?1, ?2, ?3, ?4, ?5)
                         ON CONFLICT (id) DO UPDATE SET heads = excluded.heads",
                    )?
                    .execute(params![s.doc, s.after.kind.as_str(), s.after.store_id, s.after.manager, heads.join(",")])?;
                    if s.after.kind == DocKind::Store {
                        record_store_scope(&tx, s, now)?;
                    }
                    accepted.push(Accepted { doc: s.doc.clone(), heads });
                }
                tx.commit()?;
                for s in staged {
                    cache.remember(s.doc, s.replica);
                }
                Ok(Ok(Pushed { accepted, applied }))
            }
        })
    }

    fn feed(
        &self,
        device: &DeviceInfo,
        cursor: u64,
        max_bytes: usize,
        just_pushed: &HashSet<String>,
    ) -> AppResult<Feed> {
        self.with_reader(|conn| read_feed(conn, device, cursor, max_bytes, just_pushed))
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

    fn devices(&self) -> AppResult<Vec<super::DeviceRecord>> {
        self.with_reader(|conn| {
            let mut stmt = conn.prepare(
                "SELECT id, user_id, name, enrolled_at, revoked_at FROM devices ORDER BY enrolled_at, id",
            )?;
            Ok(stmt
                .query_map([], |r| {
                    Ok(super::DeviceRecord {
                        device_id: r.get(0)?,
                        user_id: r.get(1)?,
                        name: r.get(2)?,
                        enrolled_at: r.get(3)?,
                        revoked_at: r.get(4)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn log_position(&self) -> AppResult<u64> {
        self.with_reader(|conn| {
            let seq: i64 =
                conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM log", [], |r| r.get(0))?;
            Ok(u64::try_from(seq).unwrap_or(0))
        })
    }
}

/// How long a device may still write documents of a store that left its scope: edits it
/// made offline before the move are accepted, not lost.
pub const SCOPE_GRACE_MS: i64 = 30 * 24 * 3_600_000;

/// Whether the store was in the device's scope before a move made in the last
/// [`SCOPE_GRACE_MS`].
fn left_scope_recently(
    tx: &Transaction<'_>,
    device: &DeviceInfo,
    store: &str,
    now: i64,
) -> AppResult<bool> {
    let mut stmt = tx.prepare_cached(
        "SELECT old_territory, old_demo FROM log WHERE kind = 'scope' AND store_id = ?1 AND at >= ?2",
    )?;
    let moves = stmt
        .query_map(params![store, now - SCOPE_GRACE_MS], |r| {
            Ok((r.get::<_, Option<String>>(0)?, r.get::<_, Option<bool>>(1)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(moves
        .iter()
        .any(|(t, d)| store_in_scope(device, t.as_deref().unwrap_or_default(), d.unwrap_or(false))))
}

/// Upserts a store's scope facts and, when they moved, appends a scope row to the log.
fn record_store_scope(tx: &Transaction<'_>, s: &Staged, now: i64) -> AppResult<()> {
    let (Some(territory), Some(demo)) = (&s.after.territory, s.after.demo_street) else {
        return Ok(());
    };
    tx.prepare_cached(
        "INSERT INTO stores (id, territory, demo_street) VALUES (?1, ?2, ?3)
         ON CONFLICT (id) DO UPDATE SET territory = excluded.territory, demo_street = excluded.demo_street",
    )?
    .execute(params![s.doc, territory, demo])?;
    if let Some(before) = &s.before
        && (before.territory.as_ref() != Some(territory) || before.demo_street != Some(demo))
    {
        tx.prepare_cached(
            "INSERT INTO log (kind, store_id, old_territory, new_territory, old_demo, new_demo, at)
             VALUES ('scope', ?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            s.doc,
            before.territory,
            territory,
            before.demo_street,
            demo,
            now
        ])?;
    }
    Ok(())
}

/// Rows read per query while filling a feed.
const FEED_PAGE: i64 = 2_000;

fn read_feed(
    conn: &Connection,
    device: &DeviceInfo,
    cursor: u64,
    max_bytes: usize,
    just_pushed: &HashSet<String>,
) -> AppResult<Feed> {
    // One read transaction: the end of the log and the rows read are one snapshot, so a
    // feed that reaches the end may move the cursor to it (past rows not in scope).
    conn.execute_batch("BEGIN DEFERRED")?;
    let result = read_feed_in_snapshot(conn, device, cursor, max_bytes, just_pushed);
    let _ = conn.execute_batch("COMMIT");
    result
}

fn read_feed_in_snapshot(
    conn: &Connection,
    device: &DeviceInfo,
    cursor: u64,
    max_bytes: usize,
    just_pushed: &HashSet<String>,
) -> AppResult<Feed> {
    let max_seq: i64 = conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM log", [], |r| r.get(0))?;
    let cursor =
        i64::try_from(cursor).map_err(|_| AppError::BadRequest("cursor is out of range".into()))?;
    if cursor > max_seq {
        return Err(AppError::Conflict(format!(
            "cursor `{cursor}` is ahead of this server (at `{max_seq}`): sync again from the start"
        )));
    }
    let sql = format!(
        "SELECT l.seq, l.kind, l.doc_id, c.bytes, l.store_id, l.old_territory, l.new_territory, l.old_demo, l.new_demo,
                l.change_hash
         FROM log l
         LEFT JOIN changes c ON c.hash = l.change_hash
         LEFT JOIN docs d ON d.id = l.doc_id
         LEFT JOIN stores s ON s.id = d.store_id
         WHERE l.seq > ?1 AND l.seq <= ?2 AND (l.kind = 'scope' OR {})
         ORDER BY l.seq LIMIT ?4",
        scope_sql(device.role)
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut feed = Feed {
        cursor: cursor as u64,
        ..Feed::default()
    };
    let mut bytes = 0usize;
    let mut by_doc: HashMap<String, usize> = HashMap::new();
    let mut position = cursor;
    // Bounded: each page advances `position`, and the loop stops at the end of the log.
    loop {
        type Row = (
            i64,
            String,
            Option<String>,
            Option<Vec<u8>>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<bool>,
            Option<bool>,
            Option<String>,
        );
        let rows: Vec<Row> = stmt
            .query_map(params![position, max_seq, device.user_id, FEED_PAGE], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let page_len = rows.len() as i64;
        for (seq, kind, doc, change, store, old_t, new_t, old_d, new_d, hash) in rows {
            if bytes >= max_bytes && !feed.changes.is_empty() {
                feed.more = true;
                return Ok(feed);
            }
            if kind == "change" {
                // The device's own changes come back only when it lacks them (its cursor
                // is behind them: restored from a backup); never the ones it just sent.
                let sent_now = hash.as_ref().is_some_and(|h| just_pushed.contains(h));
                if let (Some(doc), Some(change), false) = (doc, change, sent_now) {
                    bytes += change.len();
                    push_change(&mut feed.changes, &mut by_doc, doc, change);
                }
            } else if let Some(store) = store {
                let was = store_in_scope(
                    device,
                    old_t.as_deref().unwrap_or_default(),
                    old_d.unwrap_or(false),
                );
                let is = store_in_scope(
                    device,
                    new_t.as_deref().unwrap_or_default(),
                    new_d.unwrap_or(false),
                );
                if is && !was {
                    bytes += send_store_whole(
                        conn,
                        &store,
                        seq,
                        just_pushed,
                        &mut feed.changes,
                        &mut by_doc,
                    )?;
                } else if was && !is {
                    let mut docs =
                        conn.prepare_cached("SELECT id FROM docs WHERE store_id = ?1 ORDER BY id")?;
                    for id in docs.query_map([&store], |r| r.get::<_, String>(0))? {
                        feed.removed.push(id?);
                    }
                }
            }
            feed.cursor = seq as u64;
            position = seq;
        }
        if page_len < FEED_PAGE {
            // Everything up to the end of the snapshot was read: rows not in scope need not
            // be read again by the next sync.
            feed.cursor = max_seq as u64;
            return Ok(feed);
        }
    }
}

/// All changes up to `upto` of every document of a store that entered the device's scope,
/// but those the device sent in this very request.
fn send_store_whole(
    conn: &Connection,
    store: &str,
    upto: i64,
    just_pushed: &HashSet<String>,
    out: &mut Vec<DocChanges>,
    by_doc: &mut HashMap<String, usize>,
) -> AppResult<usize> {
    let mut stmt = conn.prepare_cached(
        "SELECT c.doc_id, c.bytes, c.hash FROM changes c JOIN docs d ON d.id = c.doc_id
         WHERE d.store_id = ?1 AND c.seq <= ?2 ORDER BY c.seq",
    )?;
    let mut bytes = 0;
    for row in stmt.query_map(params![store, upto], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, Vec<u8>>(1)?,
            r.get::<_, String>(2)?,
        ))
    })? {
        let (doc, change, hash) = row?;
        if just_pushed.contains(&hash) {
            continue;
        }
        bytes += change.len();
        push_change(out, by_doc, doc, change);
    }
    Ok(bytes)
}

fn push_change(
    out: &mut Vec<DocChanges>,
    by_doc: &mut HashMap<String, usize>,
    doc: String,
    change: Vec<u8>,
) {
    let index = *by_doc.entry(doc.clone()).or_insert_with(|| {
        out.push(DocChanges {
            doc,
            changes: Vec::new(),
        });
        out.len() - 1
    });
    if let Some(entry) = out.get_mut(index) {
        entry.changes.push(ByteBuf::from(change));
    }
}
