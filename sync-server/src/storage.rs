//! The one interface between the sync logic and where it is stored.
//!
//! Methods are blocking; the HTTP layer calls them on tokio's blocking pool. SQLite
//! (`storage::sqlite`) is the default; a PostgreSQL backend shared by several server
//! instances implements the same trait (its own issue). Whatever the backend, `log.seq`
//! must be a cursor that never skips a committed row: see `docs/protocol.md`.

pub mod audit;
pub mod blob_ledger;
pub mod console_sessions;
pub mod device_reports;
pub(crate) mod enrollment;
pub(crate) mod feed;
pub mod fetch;
pub(crate) mod people;
pub mod photo_owners;
pub mod photo_uses;
pub mod postgres;
pub mod postgres_tls;
pub(crate) mod push;
pub mod quota;
pub(crate) mod replica_cache;
pub(crate) mod scope_guard;
pub mod sqlite;
pub mod tokens;

pub use quota::Quotas;

use std::collections::BTreeMap;

use fieldsync_core::protocol::{Accepted, DocChanges, FeedCursor, Rejection};
use fieldsync_core::{DocId, IncomingChange, Role};

use crate::error::AppResult;

/// An enrolled, authenticated device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceInfo {
    pub device_id: String,
    pub user_id: String,
    pub role: Role,
}

/// A user of the district.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub role: Role,
    pub name: String,
}

/// What one feed read returns.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Feed {
    pub changes: Vec<DocChanges>,
    pub removed: Vec<String>,
    pub cursor: FeedCursor,
    pub more: bool,
    /// A first sync's needed part ended in this response (`SyncResponse::first_use`).
    pub first_use: bool,
    /// `SyncResponse::working_since`.
    pub working_since: Option<i64>,
    /// `SyncResponse::let_go`.
    pub let_go: Vec<String>,
    /// `removed` tells the device of every store that left its scope up to this log
    /// position, whatever its cursor: the backend records it as handed to the device
    /// (`feed/left.rs`).
    pub told_upto: Option<i64>,
    /// The mark of the log row at `cursor`'s position, sent with it (see
    /// [`fieldsync_core::protocol::split_mark`]); `None` at the start of the log.
    pub mark: Option<String>,
}

/// The outcome of a push that passed every rule.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Pushed {
    pub accepted: Vec<Accepted>,
    /// Changes newly stored (duplicates of stored changes are not counted).
    pub applied: usize,
}

/// The result of a push: stored, or refused as a whole with every broken rule.
pub type PushResult = Result<Pushed, Vec<Rejection>>;

/// Storage of users, devices, documents and the change feed.
pub trait SyncStorage: Send + Sync + std::fmt::Debug + 'static {
    /// The device holding this token hash, unless unknown or revoked.
    fn authenticate(&self, token_hash: &[u8]) -> AppResult<Option<DeviceInfo>>;

    /// Turns a one-time code into a device with a token (hashes only are given and kept).
    fn enroll(
        &self,
        code_hash: &[u8],
        device_name: &str,
        token_hash: &[u8],
        now: i64,
    ) -> AppResult<DeviceInfo>;

    /// Applies a device's changes, all or nothing: every document's changes must pass the
    /// actor binding and the write rules, or nothing is stored. No quota applies: for the
    /// server's own admin tools; devices push through [`SyncStorage::push_within`].
    fn push(
        &self,
        device: &DeviceInfo,
        docs: Vec<(DocId, Vec<IncomingChange>)>,
        now: i64,
    ) -> AppResult<PushResult> {
        self.push_within(device, docs, now, &Quotas::UNLIMITED)
    }

    /// [`SyncStorage::push`] within `quotas`: a document that would outgrow its limit is
    /// refused (a rejection, as for a write rule); a push over the device's byte budget of
    /// the day ends with [`AppError::Quota`](crate::error::AppError::Quota).
    fn push_within(
        &self,
        device: &DeviceInfo,
        docs: Vec<(DocId, Vec<IncomingChange>)>,
        now: i64,
        quotas: &Quotas,
    ) -> AppResult<PushResult>;

    /// Changes in the device's scope after `cursor`, up to about `max_bytes`, except those
    /// in `just_pushed` (sent in this very request), and the documents that left its scope.
    /// Before it returns, the server records (durably) that the device was told of every
    /// scope event up to the end of the log, when one lies past what it was last told
    /// (see `feed/left.rs`): what a later push of the device is judged on.
    fn feed(
        &self,
        device: &DeviceInfo,
        cursor: &FeedCursor,
        max_bytes: usize,
        just_pushed: &std::collections::HashSet<String>,
    ) -> AppResult<Feed> {
        let told = just_pushed.is_empty();
        self.feed_within(device, (cursor, None), max_bytes, just_pushed, None, told)
    }

    /// [`feed`](Self::feed) for a device that holds `working` of its scope (`None`: all of
    /// it): see docs/protocol.md, "The working set". `outbox_emptied`: the device holds no
    /// edit the server lacks once this request's push is stored (it pushed nothing, or its
    /// report says so): only then is it told of what left its scope, and that recorded
    /// (see `feed/left.rs`).
    fn feed_within(
        &self,
        device: &DeviceInfo,
        cursor: (&FeedCursor, Option<&str>),
        max_bytes: usize,
        just_pushed: &std::collections::HashSet<String>,
        working: Option<fieldsync_core::protocol::WorkingSet>,
        outbox_emptied: bool,
    ) -> AppResult<Feed>;

    /// Documents of the device's scope, whole, by id or from a store's history
    /// (docs/protocol.md, "Fetching on demand").
    fn fetch(
        &self,
        device: &DeviceInfo,
        ask: &fetch::FetchAsk,
        max_bytes: usize,
    ) -> AppResult<fieldsync_core::protocol::FetchResponse>;

    fn add_user(&self, user: &User, now: i64) -> AppResult<()>;
    fn user(&self, id: &str) -> AppResult<Option<User>>;
    fn users(&self) -> AppResult<Vec<User>>;
    /// Stores a one-time enrollment code's hash for `user_id`, valid until `expires_at`.
    fn add_enrollment_code(
        &self,
        user_id: &str,
        code_hash: &[u8],
        now: i64,
        expires_at: i64,
    ) -> AppResult<()>;
    /// Revokes a device; returns false when there is no such device.
    fn revoke_device(&self, device_id: &str, now: i64) -> AppResult<bool>;
    /// Registers a device directly (the server's own admin device), with a token hash.
    fn add_device(
        &self,
        device: &DeviceInfo,
        name: &str,
        token_hash: &[u8],
        now: i64,
    ) -> AppResult<()>;
    /// Every change of a document, oldest first (for the admin tools).
    fn document_changes(&self, doc: &str) -> AppResult<Vec<Vec<u8>>>;
    /// Ids of every document of the district, with their kinds.
    fn documents(&self) -> AppResult<Vec<(String, String)>>;
    /// Every use of each photo used in visits of more than one store or on more than one
    /// day, by photo hash, each photo's uses in order (see `photo_uses.rs`).
    fn reused_photos(&self) -> AppResult<BTreeMap<String, Vec<photo_uses::PhotoUse>>>;
    /// Every enrolled device, revoked ones too, oldest first (for the admin tools).
    fn devices(&self) -> AppResult<Vec<DeviceRecord>>;
    /// The cursor of the newest feed row: every change stored so far is at or before it.
    fn log_position(&self) -> AppResult<u64>;
    /// Records an admin action in the audit trail.
    fn record_audit(&self, entry: &audit::AuditEntry) -> AppResult<()>;
    /// The admin actions recorded at or after `since` (ms), oldest first.
    fn audit(&self, since: i64) -> AppResult<Vec<audit::AuditEntry>>;
    /// Notes that the device synced at `now` (written at most once an hour per device).
    fn touch_device(&self, device_id: &str, now: i64) -> AppResult<()>;
    /// Where the token `token_hash` of the device stands (issued when, the previous one?).
    fn token_status(
        &self,
        device_id: &str,
        token_hash: &[u8],
    ) -> AppResult<Option<tokens::TokenStatus>>;
    /// Forgets the device's previous token, `current` being its current one (see
    /// [`tokens::sqlite_retire_previous`]); whether there was one.
    fn retire_previous_token(&self, device_id: &str, current: &[u8]) -> AppResult<bool>;
    /// Gives the device the token `new_hash` in place of `replacing`, the current token
    /// the request saw when it began, valid until `expires_at` (see
    /// [`tokens::sqlite_rotate`] for what becomes of the one presented, and when nothing
    /// is replaced); whether it did.
    fn rotate_token(
        &self,
        device_id: &str,
        presented: &[u8],
        replacing: &[u8],
        new_hash: &[u8],
        now: i64,
        expires_at: i64,
    ) -> AppResult<bool>;

    /// Stores a one-time console sign-in code's hash for `user_id` (docs/adr/0017).
    fn add_console_code(
        &self,
        user_id: &str,
        code_hash: &[u8],
        now: i64,
        expires_at: i64,
    ) -> AppResult<()>;
    /// Marks the code used and returns its user, unless unknown, used or expired.
    fn take_console_code(&self, code_hash: &[u8], now: i64) -> AppResult<Option<String>>;
    /// Opens a console session (the hash of its cookie) with its CSRF token.
    fn add_console_session(
        &self,
        session_hash: &[u8],
        user_id: &str,
        csrf: &str,
        now: i64,
        expires_at: i64,
    ) -> AppResult<()>;
    /// Trades a code for a session in one transaction: marks the code used and, when its
    /// user's role passes `may_open`, opens the session (a revocation cannot fall between).
    fn open_console_session(
        &self,
        code_hash: &[u8],
        session: console_sessions::NewSession<'_>,
        may_open: fn(Role) -> bool,
    ) -> AppResult<console_sessions::SignIn>;
    /// The live session with this hash, unless unknown, ended or expired.
    fn console_session(
        &self,
        session_hash: &[u8],
        now: i64,
    ) -> AppResult<Option<console_sessions::ConsoleSession>>;
    /// Ends a session (sign-out); false when there was no live one.
    fn end_console_session(&self, session_hash: &[u8], now: i64) -> AppResult<bool>;
    /// Ends every live console session of a user and voids their unused sign-in codes
    /// (`admin console-revoke`).
    fn end_console_access(
        &self,
        user_id: &str,
        now: i64,
    ) -> AppResult<console_sessions::AccessEnded>;
    /// Counts `bytes` of photo uploads against the device's budget of `day` (UTC days
    /// since the epoch): `Ok(total after)`, or `Err(total before)` when that would pass
    /// `limit`, counting nothing ([`blob_ledger`]).
    fn add_blob_bytes(
        &self,
        device_id: &str,
        day: i64,
        bytes: i64,
        limit: i64,
    ) -> AppResult<Result<i64, i64>>;
    /// Records a blob whose bytes were verified against its hash (once per hash).
    fn record_blob(&self, blob: &blob_ledger::BlobRecord) -> AppResult<()>;
    /// Every verified blob, by hash.
    fn blobs(&self) -> AppResult<Vec<blob_ledger::BlobRecord>>;
    /// Forgets a blob whose bytes were removed (retention).
    fn forget_blob(&self, hash: &str) -> AppResult<()>;
    /// The user who owns the photo `hash`: whose push first referenced it (`photo_owners.rs`).
    fn photo_owner(&self, hash: &str) -> AppResult<Option<String>>;

    /// Keeps a device's latest report (docs/protocol.md, "The device report"), leaving
    /// its count of refused documents as it was.
    fn record_device_report(&self, status: &device_reports::DeviceStatus) -> AppResult<()>;
    /// Adds `documents` to the documents the server refused the device, at `now`.
    fn record_refused(
        &self,
        device_id: &str,
        protocol: u32,
        documents: i64,
        now: i64,
    ) -> AppResult<()>;
    /// Counts `bytes` of a refused push against the device's budget of the UTC day of `now`
    /// (`quota.rs`): judging a push costs the server whether or not it is stored.
    fn charge_refused(&self, device_id: &str, bytes: u64, now: i64) -> AppResult<()>;
    /// Every device's latest report, by device id.
    fn device_reports(&self) -> AppResult<Vec<device_reports::DeviceStatus>>;
}

/// An enrolled device as the admin tools list it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceRecord {
    pub device_id: String,
    pub user_id: String,
    pub name: String,
    pub enrolled_at: i64,
    pub revoked_at: Option<i64>,
    /// When it last synced (to the hour), if ever.
    pub last_seen_at: Option<i64>,
}
