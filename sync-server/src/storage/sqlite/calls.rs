//! Each [`SyncStorage`] call on SQLite: writes on the one writer connection
//! (`with_writer`), reads on a pooled reader (`with_reader`), each handed to the storage
//! module's shared code for that call. A push commits only when it passed, and a feed
//! records what it handed on the writer before the response leaves.

use std::collections::HashSet;

use fieldsync_core::protocol::{FeedCursor, FetchResponse, WorkingSet};
use fieldsync_core::{DocId, IncomingChange};
use rusqlite::{TransactionBehavior, params};

use super::{SqliteFeed, SqlitePush, SqliteStorage, WriterState, photo_uses, read_feed};
use crate::error::AppResult;
use crate::storage::fetch::{self, FetchAsk};
use crate::storage::push;
use crate::storage::quota::{self, Quotas};
use crate::storage::{self, DeviceInfo, Feed, PushResult, SyncStorage, User};
use crate::storage::{enrollment, people};

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
        cursor: (&FeedCursor, Option<&str>),
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
    ) -> AppResult<std::collections::BTreeMap<String, Vec<storage::photo_uses::PhotoUse>>> {
        self.with_reader(photo_uses::reused)
    }

    fn devices(&self) -> AppResult<Vec<storage::DeviceRecord>> {
        self.with_reader(people::sqlite_devices)
    }

    fn record_audit(&self, entry: &storage::audit::AuditEntry) -> AppResult<()> {
        self.with_writer(|w| storage::audit::sqlite_record(&w.conn, entry))
    }

    fn audit(&self, since: i64) -> AppResult<Vec<storage::audit::AuditEntry>> {
        self.with_reader(|conn| storage::audit::sqlite_since(conn, since))
    }

    fn touch_device(&self, device_id: &str, now: i64) -> AppResult<()> {
        self.with_writer(|w| storage::audit::sqlite_touch(&w.conn, device_id, now))
    }

    fn record_device_report(
        &self,
        status: &storage::device_reports::DeviceStatus,
    ) -> AppResult<()> {
        self.with_writer(|w| storage::device_reports::sqlite_record(&w.conn, status))
    }

    fn record_refused(
        &self,
        device_id: &str,
        protocol: u32,
        documents: i64,
        now: i64,
    ) -> AppResult<()> {
        self.with_writer(|w| {
            storage::device_reports::sqlite_refused(&w.conn, device_id, protocol, documents, now)
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

    fn device_reports(&self) -> AppResult<Vec<storage::device_reports::DeviceStatus>> {
        self.with_reader(storage::device_reports::sqlite_all)
    }

    fn add_console_code(
        &self,
        user_id: &str,
        code_hash: &[u8],
        now: i64,
        expires_at: i64,
    ) -> AppResult<()> {
        self.with_writer(|w| {
            storage::console_sessions::sqlite_add_code(&w.conn, user_id, code_hash, now, expires_at)
        })
    }

    fn take_console_code(&self, code_hash: &[u8], now: i64) -> AppResult<Option<String>> {
        self.with_writer(|w| storage::console_sessions::sqlite_take_code(&w.conn, code_hash, now))
    }

    fn add_console_session(
        &self,
        session_hash: &[u8],
        user_id: &str,
        csrf: &str,
        now: i64,
        expires_at: i64,
    ) -> AppResult<()> {
        let session = storage::console_sessions::NewSession {
            hash: session_hash,
            csrf,
            now,
            expires_at,
        };
        self.with_writer(|w| {
            storage::console_sessions::sqlite_add_session(&w.conn, user_id, session)
        })
    }

    fn open_console_session(
        &self,
        code_hash: &[u8],
        session: storage::console_sessions::NewSession<'_>,
        may_open: fn(fieldsync_core::Role) -> bool,
    ) -> AppResult<storage::console_sessions::SignIn> {
        self.with_writer(|w| {
            storage::console_sessions::sqlite_open_session(
                &mut w.conn,
                code_hash,
                session,
                may_open,
            )
        })
    }

    fn console_session(
        &self,
        session_hash: &[u8],
        now: i64,
    ) -> AppResult<Option<storage::console_sessions::ConsoleSession>> {
        self.with_reader(|conn| storage::console_sessions::sqlite_session(conn, session_hash, now))
    }

    fn end_console_session(&self, session_hash: &[u8], now: i64) -> AppResult<bool> {
        self.with_writer(|w| {
            storage::console_sessions::sqlite_end_session(&w.conn, session_hash, now)
        })
    }

    fn end_console_access(
        &self,
        user_id: &str,
        now: i64,
    ) -> AppResult<storage::console_sessions::AccessEnded> {
        self.with_writer(|w| {
            storage::console_sessions::sqlite_end_access(&mut w.conn, user_id, now)
        })
    }

    fn token_status(
        &self,
        device_id: &str,
        token_hash: &[u8],
    ) -> AppResult<Option<storage::tokens::TokenStatus>> {
        self.with_reader(|conn| storage::tokens::sqlite_status(conn, device_id, token_hash))
    }

    fn retire_previous_token(&self, device_id: &str, current: &[u8]) -> AppResult<bool> {
        self.with_writer(|w| storage::tokens::sqlite_retire_previous(&w.conn, device_id, current))
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
            storage::tokens::sqlite_rotate(
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
        self.with_writer(|w| {
            storage::blob_ledger::sqlite_add(&w.conn, device_id, day, bytes, limit)
        })
    }

    fn record_blob(&self, blob: &storage::blob_ledger::BlobRecord) -> AppResult<()> {
        self.with_writer(|w| storage::blob_ledger::sqlite_record(&w.conn, blob))
    }

    fn blobs(&self) -> AppResult<Vec<storage::blob_ledger::BlobRecord>> {
        self.with_reader(storage::blob_ledger::sqlite_list)
    }

    fn forget_blob(&self, hash: &str) -> AppResult<()> {
        self.with_writer(|w| storage::blob_ledger::sqlite_forget(&w.conn, hash))
    }

    fn photo_owner(&self, hash: &str) -> AppResult<Option<String>> {
        self.with_reader(|conn| storage::photo_owners::sqlite_owner(conn, hash))
    }

    fn log_position(&self) -> AppResult<u64> {
        self.with_reader(|conn| {
            let seq: i64 =
                conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM log", [], |r| r.get(0))?;
            Ok(u64::try_from(seq).unwrap_or(0))
        })
    }
}
