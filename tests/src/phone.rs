//! A simulated phone: a core [`LocalStore`], the device's token, and the sync client over
//! HTTP (reqwest) that a real app would run.
//!
//! [`Phone::sync_once`] is one round trip of `docs/protocol.md`: it pushes the outbox,
//! and only when the server answered `200` with a body that decodes as a
//! [`SyncResponse`] does it count the push as acknowledged (confirming the outbox), merge
//! the feed and store the cursor. Any other outcome leaves the device as it was, so the
//! next attempt resends the same changes from the same cursor. Every acknowledged change
//! is returned by hash, which is what the end-to-end checks compare with the server's
//! database. [`Phone::post_sync`] is the bare exchange, for tests that play a client
//! doing something else (or something wrong).
//!
//! Local store calls block (SQLite, fsync), so they run on tokio's blocking pool.

use std::sync::Arc;
use std::time::Duration;

use fieldsync_core::protocol::{
    self, DocChanges, EnrollRequest, EnrollResponse, PROTOCOL_VERSION, SyncRequest, SyncResponse,
};
use fieldsync_core::{DocId, IncomingChange, LocalStore};
use serde_bytes::ByteBuf;

/// One change, by document and hash (hex), as both sides name it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChangeRef {
    pub doc: String,
    pub hash: String,
}

/// Why a sync did not complete. Only `Unreachable` is sure to have left the server
/// untouched; after `Interrupted` the push may or may not be stored.
#[derive(Debug)]
pub enum SyncError {
    /// No connection: the request never reached the server.
    Unreachable(String),
    /// The request went out but no complete answer came back (reset, timeout, cut body).
    Interrupted {
        message: String,
        /// The changes that request pushed.
        pushed: Vec<ChangeRef>,
    },
    /// The server answered with another status than 200.
    Refused { status: u16, body: String },
    /// A 200 whose body is not a sync response.
    BadResponse(String),
    /// The phone's own store failed.
    Local(fieldsync_core::Error),
    /// A local store task panicked.
    TaskFailed(String),
}

impl SyncError {
    /// Worth retrying as is: the server was away or failed on its side.
    pub fn is_transient(&self) -> bool {
        match self {
            SyncError::Unreachable(_) | SyncError::Interrupted { .. } => true,
            SyncError::Refused { status, .. } => *status >= 500,
            SyncError::BadResponse(_) | SyncError::Local(_) | SyncError::TaskFailed(_) => false,
        }
    }
}

impl std::fmt::Display for SyncError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SyncError::Unreachable(m) => write!(f, "server unreachable: {m}"),
            SyncError::Interrupted { message, pushed } => write!(
                f,
                "interrupted after sending {} changes: {message}",
                pushed.len()
            ),
            SyncError::Refused { status, body } => write!(f, "refused with {status}: {body}"),
            SyncError::BadResponse(m) => write!(f, "bad response: {m}"),
            SyncError::Local(e) => write!(f, "local store: {e}"),
            SyncError::TaskFailed(m) => write!(f, "local store task failed: {m}"),
        }
    }
}

impl std::error::Error for SyncError {}

impl From<fieldsync_core::Error> for SyncError {
    fn from(e: fieldsync_core::Error) -> Self {
        SyncError::Local(e)
    }
}

/// What one completed round trip did.
#[derive(Clone, Debug, Default)]
pub struct Synced {
    /// Pushed changes the server acknowledged.
    pub acknowledged: Vec<ChangeRef>,
    /// Documents pushed (each confirmed).
    pub pushed_docs: usize,
    /// Changes received from the feed (merged into the local store).
    pub pulled: Vec<ChangeRef>,
    pub removed: Vec<String>,
    /// The server has more feed for this device.
    pub more: bool,
    /// The outbox batch was full: more local changes may be waiting.
    pub outbox_full: bool,
    pub request_bytes: usize,
    pub response_bytes: usize,
}

/// An HTTP client for loopback tests: no proxy (whatever the environment says), a bound on
/// every request.
pub fn http_client(timeout: Duration) -> Result<reqwest::Client, SyncError> {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| SyncError::Unreachable(format!("cannot build an HTTP client: {e}")))
}

/// A temporary folder for simulated phones' stores: in `/dev/shm` when there is one, so
/// that phones (which are not what these tests examine) do not spend their time in fsync;
/// the system's temporary folder otherwise. The server's data never goes here.
pub fn phones_dir() -> std::io::Result<tempfile::TempDir> {
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(dir) = tempfile::Builder::new()
            .prefix("fieldsync-phones-")
            .tempdir_in(shm)
    {
        return Ok(dir);
    }
    tempfile::Builder::new()
        .prefix("fieldsync-phones-")
        .tempdir()
}

/// A device with its local store and credentials.
#[derive(Debug, Clone)]
pub struct Phone {
    local: Arc<LocalStore>,
    pub user: String,
    pub device_id: String,
    token: String,
    http: reqwest::Client,
    base: String,
}

/// Most documents pushed in one request by [`Phone::sync_once`].
pub const OUTBOX_BATCH: usize = 200;

impl Phone {
    /// Enrolls `local` with a one-time code at the server at `base` (`http://127.0.0.1:PORT`).
    pub async fn enroll(
        http: &reqwest::Client,
        base: &str,
        code: &str,
        device_name: &str,
        local: LocalStore,
    ) -> Result<Phone, SyncError> {
        let body = serde_json::to_vec(&EnrollRequest {
            code: code.into(),
            device_name: device_name.into(),
        })
        .map_err(|e| SyncError::BadResponse(e.to_string()))?;
        let response = http
            .post(format!("{base}/v1/enroll"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| transport(e, Vec::new()))?;
        let status = response.status().as_u16();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| transport(e, Vec::new()))?;
        if status != 200 {
            return Err(SyncError::Refused {
                status,
                body: String::from_utf8_lossy(&bytes).into_owned(),
            });
        }
        let enrolled: EnrollResponse = serde_json::from_slice(&bytes)
            .map_err(|e| SyncError::BadResponse(format!("enrollment answer: {e}")))?;
        Ok(Phone {
            local: Arc::new(local),
            user: enrolled.user_id,
            device_id: enrolled.device_id,
            token: enrolled.token,
            http: http.clone(),
            base: base.to_owned(),
        })
    }

    /// The phone's store, for calls from blocking code.
    pub fn local(&self) -> &LocalStore {
        &self.local
    }

    /// Runs `f` on the local store on tokio's blocking pool.
    pub async fn with_local<T, F>(&self, f: F) -> Result<T, SyncError>
    where
        T: Send + 'static,
        F: FnOnce(&LocalStore) -> fieldsync_core::Result<T> + Send + 'static,
    {
        let local = self.local.clone();
        tokio::task::spawn_blocking(move || f(&local))
            .await
            .map_err(|e| SyncError::TaskFailed(e.to_string()))?
            .map_err(SyncError::Local)
    }

    /// Sends one sync request and returns the decoded answer and its size: `Ok` only for
    /// a `200` whose whole body decoded. `pushed` is reported back on an interruption.
    pub async fn post_sync(
        &self,
        request: &SyncRequest,
        pushed: &[ChangeRef],
    ) -> Result<(SyncResponse, usize), SyncError> {
        let response = self
            .http
            .post(format!("{}/v1/sync", self.base))
            .header("authorization", format!("Bearer {}", self.token))
            .header("content-type", protocol::CONTENT_TYPE)
            .body(protocol::encode(request))
            .send()
            .await
            .map_err(|e| transport(e, pushed.to_vec()))?;
        let status = response.status().as_u16();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| transport(e, pushed.to_vec()))?;
        if status != 200 {
            return Err(SyncError::Refused {
                status,
                body: String::from_utf8_lossy(&bytes).into_owned(),
            });
        }
        let decoded: SyncResponse = protocol::decode("sync response", &bytes)
            .map_err(|e| SyncError::BadResponse(e.to_string()))?;
        Ok((decoded, bytes.len()))
    }

    /// One round trip: push up to [`OUTBOX_BATCH`] documents of the outbox, pull the feed
    /// from the stored cursor. Changes the phone made meanwhile stay in the outbox.
    pub async fn sync_once(&self) -> Result<Synced, SyncError> {
        let (batch, cursor, pushed) = self
            .with_local(|local| {
                let batch = local.outbox_batch(OUTBOX_BATCH)?;
                let pushed = batch
                    .iter()
                    .map(|d| {
                        d.changes
                            .iter()
                            .map(|c| {
                                Ok(ChangeRef {
                                    doc: d.id.to_string(),
                                    hash: IncomingChange::parse(c)?.hash(),
                                })
                            })
                            .collect::<fieldsync_core::Result<Vec<_>>>()
                    })
                    .collect::<fieldsync_core::Result<Vec<_>>>()?;
                Ok((batch, local.sync_cursor()?, pushed))
            })
            .await?;
        let request = SyncRequest {
            protocol: PROTOCOL_VERSION,
            cursor,
            push: batch
                .iter()
                .map(|d| DocChanges {
                    doc: d.id.to_string(),
                    changes: d.changes.iter().cloned().map(ByteBuf::from).collect(),
                    index: None,
                })
                .collect(),
            max_response_bytes: None,
            device: None,
            working_set: None,
            index_version: None,
        };
        let all_pushed: Vec<ChangeRef> = pushed.iter().flatten().cloned().collect();
        let request_bytes = protocol::encode(&request).len();
        let (response, response_bytes) = self.post_sync(&request, &all_pushed).await?;
        let outbox_full = batch.len() >= OUTBOX_BATCH;
        self.with_local(move |local| {
            let mut synced = Synced {
                more: response.more,
                outbox_full,
                request_bytes,
                response_bytes,
                removed: response.removed.clone(),
                ..Synced::default()
            };
            for (doc, changes) in batch.iter().zip(pushed) {
                if !response.accepted.iter().any(|a| a.doc == doc.id.as_str()) {
                    // A 200 covers the whole push; a document missing from `accepted` is a
                    // server bug, and its changes are not counted as acknowledged.
                    continue;
                }
                local.confirm_pushed(&doc.id, doc.local_edits, &doc.heads)?;
                synced.acknowledged.extend(changes);
                synced.pushed_docs += 1;
            }
            for doc in &response.changes {
                let id = DocId::parse("doc", &doc.doc)?;
                let changes: Vec<Vec<u8>> = doc.changes.iter().map(|c| c.to_vec()).collect();
                for c in &changes {
                    synced.pulled.push(ChangeRef {
                        doc: doc.doc.clone(),
                        hash: IncomingChange::parse(c)?.hash(),
                    });
                }
                local.merge_changes(&id, &changes)?;
            }
            local.set_sync_cursor(&response.cursor)?;
            Ok(synced)
        })
        .await
    }

    /// Syncs until the outbox is empty and the feed has nothing more (at most `max_rounds`
    /// round trips); returns every round's result.
    pub async fn sync_until_idle(&self, max_rounds: usize) -> Result<Vec<Synced>, SyncError> {
        let mut rounds = Vec::new();
        for _ in 0..max_rounds {
            let synced = self.sync_once().await?;
            let done = !synced.more && !synced.outbox_full;
            rounds.push(synced);
            if done {
                return Ok(rounds);
            }
        }
        Err(SyncError::BadResponse(format!(
            "still not idle after {max_rounds} round trips"
        )))
    }
}

/// Sorts a reqwest failure into "never delivered" and "delivered, no complete answer".
fn transport(e: reqwest::Error, pushed: Vec<ChangeRef>) -> SyncError {
    if e.is_connect() {
        SyncError::Unreachable(e.to_string())
    } else {
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        // Bounded by the depth of the error chain.
        while let Some(s) = source {
            message.push_str(&format!(": {s}"));
            source = s.source();
        }
        SyncError::Interrupted { message, pushed }
    }
}
