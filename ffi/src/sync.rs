//! [`FieldSync`]: one device's connection to its sync server. `sync` is `async` on the
//! tokio runtime (a Kotlin `suspend fun`, a Swift `async func`), reports progress to a
//! [`SyncProgressListener`], retries transient failures inside the call, and tells the
//! store's documents listeners when it is done.
//!
//! HTTPS verifies the server with rustls (ring) against the Mozilla roots bundled in the
//! library (`docs/android.md`, ADR 0004): nothing to initialise from the app. A district
//! that serves from a private CA adds its root with `SyncSettings.extra_root_pem`.

use std::sync::Arc;
use std::time::Duration;

use fieldsync_core as fc;

use crate::changes::DocumentsChanged;
use crate::error::FieldError;
use crate::store::FieldStore;

/// How a device reaches its server. `default_sync_settings` fills in the defaults. `Debug`
/// hides the token.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncSettings {
    /// `https://sync.example.org` (plain `http://` only for loopback tests).
    pub server_url: String,
    /// The device token from enrollment (Kotlin: a `DeviceToken`, whose `toString()`
    /// hides it).
    pub token: DeviceToken,
    /// Attempts per round trip before a transient failure ends the call.
    pub max_attempts: u32,
    /// First backoff between attempts; it doubles up to `max_backoff_ms`, with jitter.
    pub initial_backoff_ms: u64,
    pub max_backoff_ms: u64,
    /// Time allowed for one round trip.
    pub request_timeout_ms: u64,
    /// PEM root certificate(s) of a district's private CA, trusted in addition to the
    /// bundled Mozilla roots; null for the bundled roots only. A malformed one makes
    /// `FieldSync` construction fail with `InvalidInput` on field `extra_root_pem`.
    pub extra_root_pem: Option<String>,
    /// The app's version (`2.4.1 (381)`, 1 to 64 characters), reported with every sync
    /// for the server's fleet page; null reports none. An invalid one makes `FieldSync`
    /// construction fail with `InvalidInput` on field `device.app_version`.
    #[uniffi(default = None)]
    pub app_version: Option<String>,
    /// The weeks of visits and counts this phone holds of its scope (docs/protocol.md,
    /// "The working set"; 5 suits a supervisor's or admin's phone); null: the whole scope.
    /// Older documents are fetched on demand (`FieldSync.fetchDocuments`,
    /// `fetchStoreHistory`).
    #[uniffi(default = None)]
    pub working_weeks: Option<u32>,
    /// How long documents fetched on demand stay on the phone after their fetch (unless an
    /// edit of theirs waits for the server).
    #[uniffi(default = 86400000)]
    pub keep_fetched_ms: u64,
}

impl std::fmt::Debug for SyncSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncSettings")
            .field("server_url", &self.server_url)
            .field("token", &self.token)
            .field("max_attempts", &self.max_attempts)
            .field("request_timeout_ms", &self.request_timeout_ms)
            .field("extra_root_pem", &self.extra_root_pem.is_some())
            .field("app_version", &self.app_version)
            .field("working_weeks", &self.working_weeks)
            .finish_non_exhaustive()
    }
}

/// A device's bearer token: a secret. Kotlin sees it as `org.fieldsync.android.DeviceToken`
/// (its `toString()` hides the value); other languages as a string.
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceToken(pub String);
uniffi::custom_newtype!(DeviceToken, String);

impl std::fmt::Debug for DeviceToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeviceToken(hidden)")
    }
}

/// Where a sync stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum SyncPhase {
    Pushing,
    Pulling,
    Done,
}

/// A progress event, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct SyncProgressRecord {
    pub phase: SyncPhase,
    pub docs_pushed: u64,
    pub docs_to_push: u64,
    pub docs_pulled: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// In a first sync: the phone now holds what it needs to be used (stores, displays,
    /// scorecards, tasks, complaints, this week's visits and counts); history may follow.
    pub first_use_ready: bool,
}

/// A document the server refused in this sync.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RejectedInSync {
    pub id: String,
    pub rule: String,
    pub message: String,
}

/// What one sync did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncReportRecord {
    pub round_trips: u32,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub docs_pushed: u64,
    pub docs_pulled: u64,
    pub docs_removed: u64,
    pub rejected: Vec<RejectedInSync>,
    /// Ids of documents received in this sync that cannot be read: kept aside (see
    /// `FieldStore.damaged_documents`); the sync and every other document went on.
    pub damaged: Vec<String>,
    /// Ids of damaged documents this sync repaired: they read again.
    pub repaired: Vec<String>,
    /// Failed attempts that were retried.
    pub retries: u32,
}

/// Implemented by the app to follow a sync.
#[uniffi::export(callback_interface)]
pub trait SyncProgressListener: Send + Sync {
    fn on_progress(&self, progress: SyncProgressRecord);
}

/// The settings a phone uses, for `server_url` and `token`.
#[uniffi::export]
pub fn default_sync_settings(server_url: String, token: String) -> SyncSettings {
    fc::SyncConfig::new(server_url, token).into()
}

/// A device's sync connection for one store.
#[derive(Debug, uniffi::Object)]
pub struct FieldSync {
    client: fc::SyncClient,
    config: fc::SyncConfig,
    store: Arc<FieldStore>,
}

#[uniffi::export]
impl FieldSync {
    /// A connection for `store`; refuses a URL that is not http(s) and an
    /// `extra_root_pem` that holds no usable certificate.
    #[uniffi::constructor]
    pub fn new(store: Arc<FieldStore>, settings: SyncSettings) -> Result<Arc<Self>, FieldError> {
        let config = fc::SyncConfig::from(settings);
        let client = fc::SyncClient::new(config.clone(), store.core.clone())?;
        Ok(Arc::new(FieldSync {
            client,
            config,
            store,
        }))
    }

    /// The pause before retry `attempt` (0-based) of a failed sync: exponential with full
    /// jitter, capped; for an app's scheduler between calls.
    pub fn backoff_ms(&self, attempt: u32) -> u64 {
        millis(fc::backoff(&self.config, attempt))
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl FieldSync {
    /// Pushes everything pending and pulls everything new. Transient failures are retried
    /// inside the call; when they persist it fails with `FieldError::Offline`.
    pub async fn sync(
        &self,
        listener: Option<Box<dyn SyncProgressListener>>,
    ) -> Result<SyncReportRecord, FieldError> {
        let progress = move |p: fc::SyncProgress| {
            if let Some(listener) = &listener {
                listener.on_progress(p.into());
            }
        };
        let result = self.client.sync(&progress).await;
        // Receipts may have moved even when a later round trip failed.
        let moved = result.as_ref().map_or(true, |r| {
            r.docs_pushed + r.docs_pulled + r.docs_removed > 0
                || !r.rejected.is_empty()
                || !r.damaged.is_empty()
                || !r.repaired.is_empty()
        });
        if moved {
            self.store.listeners.notify(DocumentsChanged {
                ids: Vec::new(),
                from_sync: true,
            });
        }
        Ok(result?.into())
    }
}

impl FieldSync {
    pub(crate) fn client(&self) -> &fc::SyncClient {
        &self.client
    }

    /// Tells the store's listeners that receipts may have moved (after photo uploads).
    pub(crate) fn notify_changed(&self) {
        self.store.listeners.notify(DocumentsChanged {
            ids: Vec::new(),
            from_sync: true,
        });
    }
}

impl From<SyncSettings> for fc::SyncConfig {
    fn from(s: SyncSettings) -> Self {
        fc::SyncConfig {
            max_attempts: s.max_attempts,
            initial_backoff: Duration::from_millis(s.initial_backoff_ms),
            max_backoff: Duration::from_millis(s.max_backoff_ms),
            request_timeout: Duration::from_millis(s.request_timeout_ms),
            extra_root_pem: s.extra_root_pem,
            app_version: s.app_version,
            working_weeks: s.working_weeks,
            keep_fetched: Duration::from_millis(s.keep_fetched_ms),
            ..fc::SyncConfig::new(s.server_url, s.token.0)
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl From<fc::SyncConfig> for SyncSettings {
    fn from(c: fc::SyncConfig) -> Self {
        SyncSettings {
            max_attempts: c.max_attempts,
            initial_backoff_ms: millis(c.initial_backoff),
            max_backoff_ms: millis(c.max_backoff),
            request_timeout_ms: millis(c.request_timeout),
            extra_root_pem: c.extra_root_pem,
            app_version: c.app_version,
            working_weeks: c.working_weeks,
            keep_fetched_ms: millis(c.keep_fetched),
            server_url: c.server_url,
            token: DeviceToken(c.token),
        }
    }
}

impl From<fc::SyncProgress> for SyncProgressRecord {
    fn from(p: fc::SyncProgress) -> Self {
        SyncProgressRecord {
            phase: match p.phase {
                fc::SyncPhase::Pushing => SyncPhase::Pushing,
                fc::SyncPhase::Pulling => SyncPhase::Pulling,
                fc::SyncPhase::Done => SyncPhase::Done,
            },
            docs_pushed: p.docs_pushed as u64,
            docs_to_push: p.docs_to_push as u64,
            docs_pulled: p.docs_pulled as u64,
            bytes_sent: p.bytes_sent,
            bytes_received: p.bytes_received,
            first_use_ready: p.first_use_ready,
        }
    }
}

impl From<fc::SyncReport> for SyncReportRecord {
    fn from(r: fc::SyncReport) -> Self {
        SyncReportRecord {
            round_trips: r.round_trips,
            bytes_sent: r.bytes_sent,
            bytes_received: r.bytes_received,
            docs_pushed: r.docs_pushed as u64,
            docs_pulled: r.docs_pulled as u64,
            docs_removed: r.docs_removed as u64,
            rejected: r
                .rejected
                .into_iter()
                .map(|(id, rule, message)| RejectedInSync {
                    id: id.to_string(),
                    rule,
                    message,
                })
                .collect(),
            damaged: r.damaged.iter().map(ToString::to_string).collect(),
            repaired: r.repaired.iter().map(ToString::to_string).collect(),
            retries: r.retries,
        }
    }
}
