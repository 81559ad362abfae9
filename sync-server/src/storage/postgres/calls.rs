//! Each [`SyncStorage`] call on PostgreSQL: a pooled connection on a thread of its own
//! (`with_client`) handed to the storage module's shared code for that call. A push is
//! tried again while the database asks for a retry; a feed or a fetch reads one read-only
//! snapshot.

use std::collections::HashSet;

use fieldsync_core::protocol::{FeedCursor, FetchResponse, WorkingSet};
use fieldsync_core::{DocId, IncomingChange};
use postgres::IsolationLevel;

use super::{PgFeed, PostgresStorage, describe, photo_uses, retryable};
use crate::error::{AppError, AppResult};
use crate::storage::fetch::{self, FetchAsk};
use crate::storage::quota::Quotas;
use crate::storage::{self, DeviceInfo, DeviceRecord, Feed, PushResult, SyncStorage, User};
use crate::storage::{enrollment, feed, people};

/// Attempts of one push when the database asks for a retry (a deadlock or, on the
/// distributed engines, a serialization failure).
const PUSH_ATTEMPTS: usize = 5;

impl SyncStorage for PostgresStorage {
    fn authenticate(&self, token_hash: &[u8]) -> AppResult<Option<DeviceInfo>> {
        self.with_client(|client| people::postgres_authenticate(client, token_hash))
    }

    fn enroll(
        &self,
        code_hash: &[u8],
        device_name: &str,
        token_hash: &[u8],
        now: i64,
    ) -> AppResult<DeviceInfo> {
        self.with_client(|client| {
            enrollment::postgres_enroll(client, code_hash, device_name, token_hash, now)
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
        cursor: (&FeedCursor, Option<&str>),
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
        self.with_client(|client| people::postgres_add_user(client, user, now))
    }

    fn user(&self, id: &str) -> AppResult<Option<User>> {
        self.with_client(|client| people::postgres_user(client, id))
    }

    fn users(&self) -> AppResult<Vec<User>> {
        self.with_client(|client| people::postgres_users(client))
    }

    fn add_enrollment_code(
        &self,
        user_id: &str,
        code_hash: &[u8],
        now: i64,
        expires_at: i64,
    ) -> AppResult<()> {
        self.with_client(|client| {
            enrollment::postgres_add_code(client, user_id, code_hash, now, expires_at)
        })
    }

    fn revoke_device(&self, device_id: &str, now: i64) -> AppResult<bool> {
        self.with_client(|client| people::postgres_revoke_device(client, device_id, now))
    }

    fn add_device(
        &self,
        device: &DeviceInfo,
        name: &str,
        token_hash: &[u8],
        now: i64,
    ) -> AppResult<()> {
        self.with_client(|client| {
            people::postgres_add_device(client, device, name, token_hash, now)
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
    ) -> AppResult<std::collections::BTreeMap<String, Vec<storage::photo_uses::PhotoUse>>> {
        self.with_client(|client| photo_uses::reused(client))
    }

    fn devices(&self) -> AppResult<Vec<DeviceRecord>> {
        self.with_client(|client| people::postgres_devices(client))
    }

    fn record_audit(&self, entry: &storage::audit::AuditEntry) -> AppResult<()> {
        self.with_client(|client| storage::audit::postgres_record(client, entry))
    }

    fn audit(&self, since: i64) -> AppResult<Vec<storage::audit::AuditEntry>> {
        self.with_client(|client| storage::audit::postgres_since(client, since))
    }

    fn add_console_code(
        &self,
        user_id: &str,
        code_hash: &[u8],
        now: i64,
        expires_at: i64,
    ) -> AppResult<()> {
        self.with_client(|client| {
            storage::console_sessions::postgres_add_code(
                client, user_id, code_hash, now, expires_at,
            )
        })
    }

    fn take_console_code(&self, code_hash: &[u8], now: i64) -> AppResult<Option<String>> {
        self.with_client(|client| {
            storage::console_sessions::postgres_take_code(&mut **client, code_hash, now)
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
        let session = storage::console_sessions::NewSession {
            hash: session_hash,
            csrf,
            now,
            expires_at,
        };
        self.with_client(|client| {
            storage::console_sessions::postgres_add_session(&mut **client, user_id, session)
        })
    }

    fn open_console_session(
        &self,
        code_hash: &[u8],
        session: storage::console_sessions::NewSession<'_>,
        may_open: fn(fieldsync_core::Role) -> bool,
    ) -> AppResult<storage::console_sessions::SignIn> {
        self.with_client(|client| {
            storage::console_sessions::postgres_open_session(client, code_hash, session, may_open)
        })
    }

    fn console_session(
        &self,
        session_hash: &[u8],
        now: i64,
    ) -> AppResult<Option<storage::console_sessions::ConsoleSession>> {
        self.with_client(|client| {
            storage::console_sessions::postgres_session(client, session_hash, now)
        })
    }

    fn end_console_session(&self, session_hash: &[u8], now: i64) -> AppResult<bool> {
        self.with_client(|client| {
            storage::console_sessions::postgres_end_session(client, session_hash, now)
        })
    }

    fn end_console_access(
        &self,
        user_id: &str,
        now: i64,
    ) -> AppResult<storage::console_sessions::AccessEnded> {
        self.with_client(|client| {
            storage::console_sessions::postgres_end_access(client, user_id, now)
        })
    }

    fn touch_device(&self, device_id: &str, now: i64) -> AppResult<()> {
        self.with_client(|client| storage::audit::postgres_touch(client, device_id, now))
    }

    fn record_device_report(
        &self,
        status: &storage::device_reports::DeviceStatus,
    ) -> AppResult<()> {
        self.with_client(|client| storage::device_reports::postgres_record(client, status))
    }

    fn record_refused(
        &self,
        device_id: &str,
        protocol: u32,
        documents: i64,
        now: i64,
    ) -> AppResult<()> {
        self.with_client(|client| {
            storage::device_reports::postgres_refused(client, device_id, protocol, documents, now)
        })
    }

    fn charge_refused(&self, device_id: &str, bytes: u64, now: i64) -> AppResult<()> {
        let bytes = i64::try_from(bytes).unwrap_or(i64::MAX);
        self.with_client(|client| {
            client.execute(
                "INSERT INTO device_days (device_id, day, bytes) VALUES ($1, $2, $3)
                 ON CONFLICT (device_id, day) DO UPDATE SET bytes = device_days.bytes + excluded.bytes",
                &[&device_id, &storage::quota::day_of(now), &bytes],
            )?;
            Ok(())
        })
    }

    fn device_reports(&self) -> AppResult<Vec<storage::device_reports::DeviceStatus>> {
        self.with_client(|client| storage::device_reports::postgres_all(client))
    }

    fn token_status(
        &self,
        device_id: &str,
        token_hash: &[u8],
    ) -> AppResult<Option<storage::tokens::TokenStatus>> {
        self.with_client(|client| storage::tokens::postgres_status(client, device_id, token_hash))
    }

    fn retire_previous_token(&self, device_id: &str, current: &[u8]) -> AppResult<bool> {
        self.with_client(|client| {
            storage::tokens::postgres_retire_previous(client, device_id, current)
        })
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
        self.with_client(|client| {
            storage::tokens::postgres_rotate(
                client, device_id, presented, replacing, new_hash, now, expires_at,
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
            storage::blob_ledger::postgres_add(client, device_id, day, bytes, limit)
        })
    }

    fn record_blob(&self, blob: &storage::blob_ledger::BlobRecord) -> AppResult<()> {
        self.with_client(|client| storage::blob_ledger::postgres_record(client, blob))
    }

    fn blobs(&self) -> AppResult<Vec<storage::blob_ledger::BlobRecord>> {
        self.with_client(|client| storage::blob_ledger::postgres_list(client))
    }

    fn forget_blob(&self, hash: &str) -> AppResult<()> {
        self.with_client(|client| storage::blob_ledger::postgres_forget(client, hash))
    }

    fn photo_owner(&self, hash: &str) -> AppResult<Option<String>> {
        self.with_client(|client| storage::photo_owners::postgres_owner(client, hash))
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
