//! A device as the app runs it: a core [`LocalStore`] and core's own [`SyncClient`]
//! (where [`crate::phone::Phone`] has a hand-written client), plus the network faults
//! that client cannot produce by itself, played by hand on the same protocol:
//!
//! - [`ClientDevice::sync_answer_lost`]: the request the client would send now reaches the
//!   server and is stored, but the answer never comes back: nothing is confirmed, merged
//!   or moved on the phone;
//! - [`ClientDevice::sync_duplicated`]: the same push reaches the server twice before the
//!   client's own sync, and a copy arrives again, stale, after it;
//! - [`ClientDevice::sync_broken`]: deliberately wrong syncs, to show that a check
//!   catches the lost writes they cause.
//!
//! The hand-built request is the one the client builds: the outbox from the oldest edit,
//! the stored cursor, the client's response budget.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use fieldsync_core::fixtures::ManualClock;
use fieldsync_core::protocol::{self, DocChanges, PROTOCOL_VERSION, SyncRequest, SyncResponse};
use fieldsync_core::{
    DeviceIdentity, DocId, LocalStore, OutgoingDocument, Role, StoreOptions, SyncClient,
    SyncConfig, SyncProgress, SyncReport, Timestamp,
};
use serde_bytes::ByteBuf;

use crate::in_process::InProcessServer;
use crate::server::{HarnessError, HarnessResult};

/// Documents per hand-built push (the client's outbox read is 500 documents too).
const OUTBOX_DOCS: usize = 500;

/// A deliberately wrong sync, for showing that a check can fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BrokenSync {
    /// Confirms the whole outbox, but sends an empty push.
    ConfirmWithoutPush,
    /// Sends every pending document but the last of the batch, and confirms them all.
    LeaveOneOut,
}

/// Who a device belongs to.
#[derive(Clone, Copy, Debug)]
pub struct Who<'a> {
    pub user: &'a str,
    pub role: Role,
    /// The device's name (also its store's file name when enrolled with a folder).
    pub name: &'a str,
}

/// One enrolled device with a local store in a folder of its own.
#[derive(Debug)]
pub struct ClientDevice {
    pub name: String,
    pub user: String,
    pub role: Role,
    pub local: Arc<LocalStore>,
    /// The device's clock: stamps and check-ins are read from it.
    pub clock: ManualClock,
    client: SyncClient,
    config: SyncConfig,
    http: reqwest::Client,
}

fn err(what: &str, e: impl std::fmt::Display) -> HarnessError {
    HarnessError(format!("device: {what}: {e}"))
}

impl ClientDevice {
    /// Enrolls a device `name` of `user` with `server`; its store is `dir/<name>.db`.
    pub async fn enroll(
        server: &InProcessServer,
        dir: &Path,
        user: &str,
        role: Role,
        name: &str,
        start: Timestamp,
    ) -> HarnessResult<ClientDevice> {
        let enrolled = server.enroll(user, name).await?;
        let who = Who { user, role, name };
        ClientDevice::open(
            &server.url(),
            &enrolled.token,
            &dir.join(format!("{name}.db")),
            who,
            start,
        )
    }

    /// Opens (creating) the store at `path` of a device enrolled with `token` at `url`: a
    /// store closed by another process, say.
    pub fn open(
        url: &str,
        token: &str,
        path: &Path,
        who: Who<'_>,
        start: Timestamp,
    ) -> HarnessResult<ClientDevice> {
        let clock = ManualClock::starting_at(start);
        let local = LocalStore::open(
            path,
            DeviceIdentity::new(who.user, who.name),
            StoreOptions {
                clock: clock.clock(),
                ..StoreOptions::default()
            },
        )
        .map_err(|e| err("open store", e))?;
        let local = Arc::new(local);
        let mut config = SyncConfig::new(url, token);
        // Nothing here fails transiently; a retry would only hide a bug behind a wait.
        config.max_attempts = 1;
        config.request_timeout = Duration::from_secs(120);
        let client =
            SyncClient::new(config.clone(), local.clone()).map_err(|e| err("sync client", e))?;
        let http =
            crate::phone::http_client(Duration::from_secs(120)).map_err(|e| err("http", e))?;
        Ok(ClientDevice {
            name: who.name.into(),
            user: who.user.into(),
            role: who.role,
            local,
            clock,
            client,
            config,
            http,
        })
    }

    /// The same device with other sync limits: the most bytes of changes it asks for in one
    /// response, and the most changes it pushes in one request (small ones force a sync
    /// into many round trips).
    pub fn with_limits(
        mut self,
        max_response_bytes: u64,
        max_changes_per_push: usize,
    ) -> HarnessResult<ClientDevice> {
        self.config.max_response_bytes = max_response_bytes;
        self.config.max_changes_per_push = max_changes_per_push;
        self.client = SyncClient::new(self.config.clone(), self.local.clone())
            .map_err(|e| err("sync client", e))?;
        Ok(self)
    }

    /// The same device holding a working set of `weeks` of its scope (docs/protocol.md,
    /// "The working set"); `None`: the whole scope.
    pub fn with_working_weeks(mut self, weeks: Option<u32>) -> HarnessResult<ClientDevice> {
        self.config.working_weeks = weeks;
        self.client = SyncClient::new(self.config.clone(), self.local.clone())
            .map_err(|e| err("sync client", e))?;
        Ok(self)
    }

    /// Closes the store and opens it again, as when the app restarts (core gives the new
    /// opening a new Automerge actor). The clock keeps its time.
    pub fn reopen(self) -> HarnessResult<ClientDevice> {
        let path = self.local.path().to_path_buf();
        let (name, user, role, now) = (self.name, self.user, self.role, self.clock.now());
        let config = self.config;
        // Dropping the client and the store closes the database (and its exclusive lock).
        drop(self.client);
        drop(self.local);
        let who = Who {
            user: &user,
            role,
            name: &name,
        };
        let device = ClientDevice::open(&config.server_url, &config.token, &path, who, now)?;
        device.with_limits(config.max_response_bytes, config.max_changes_per_push)
    }

    /// The same device, opened again to sync with `url` (through a proxy, say); like
    /// [`ClientDevice::reopen`], the new opening writes with a new Automerge actor.
    pub fn via(self, url: &str) -> HarnessResult<ClientDevice> {
        let mut config = self.config.clone();
        config.server_url = url.to_owned();
        let device = ClientDevice { config, ..self };
        device.reopen()
    }

    /// The device's token, to open its store again elsewhere.
    pub fn token(&self) -> &str {
        &self.config.token
    }

    /// Core's sync, start to finish; a refused document is an error here.
    pub async fn sync(&self) -> HarnessResult<SyncReport> {
        self.sync_reporting(&|_| {}).await
    }

    /// [`sync`](Self::sync), with core's progress events (one per round trip).
    pub async fn sync_reporting(
        &self,
        progress: &(dyn Fn(SyncProgress) + Send + Sync),
    ) -> HarnessResult<SyncReport> {
        let report = self
            .client
            .sync(progress)
            .await
            .map_err(|e| err(&format!("{} sync", self.name), e))?;
        if !report.rejected.is_empty() {
            return Err(err(
                &format!("{} sync", self.name),
                format!("the server refused {:?}", report.rejected),
            ));
        }
        Ok(report)
    }

    /// The request the client would send now, and the outbox it was built from.
    pub async fn next_request(&self) -> HarnessResult<(SyncRequest, Vec<OutgoingDocument>)> {
        let local = self.local.clone();
        let budget = self.config.max_response_bytes;
        tokio::task::spawn_blocking(move || -> fieldsync_core::Result<_> {
            let batch = local.outbox_batch(OUTBOX_DOCS)?;
            let request = SyncRequest {
                protocol: PROTOCOL_VERSION,
                cursor: local.sync_cursor()?,
                push: batch
                    .iter()
                    .map(|d| DocChanges {
                        doc: d.id.to_string(),
                        changes: d.changes.iter().cloned().map(ByteBuf::from).collect(),
                        index: None,
                    })
                    .collect(),
                max_response_bytes: Some(budget),
                device: None,
                working_set: None,
                index_version: None,
            };
            Ok((request, batch))
        })
        .await
        .map_err(|e| err("task", e))?
        .map_err(|e| err("outbox", e))
    }

    /// Sends `request` and reads the whole answer, so that the server is done with it.
    pub async fn send(&self, request: &SyncRequest) -> HarnessResult<SyncResponse> {
        let response = self
            .http
            .post(format!(
                "{}/v1/sync",
                self.config.server_url.trim_end_matches('/')
            ))
            .bearer_auth(&self.config.token)
            .header("content-type", protocol::CONTENT_TYPE)
            .body(protocol::encode(request))
            .send()
            .await
            .map_err(|e| err("send", e))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| err("answer", e))?;
        if !status.is_success() {
            return Err(err(
                &format!("{} raw sync", self.name),
                format!("{status}: {}", String::from_utf8_lossy(&bytes)),
            ));
        }
        protocol::decode("sync response", &bytes).map_err(|e| err("answer", e))
    }

    /// The server stores the push, the answer is lost: the phone stays as it was.
    pub async fn sync_answer_lost(&self) -> HarnessResult<()> {
        let (request, _) = self.next_request().await?;
        self.send(&request).await?;
        Ok(())
    }

    /// The push arrives twice before the client's sync completes (which pushes the same
    /// changes a third time), and once more afterwards, with its old cursor.
    pub async fn sync_duplicated(&self) -> HarnessResult<SyncReport> {
        let (request, _) = self.next_request().await?;
        self.send(&request).await?;
        let report = self.sync().await?;
        self.send(&request).await?;
        Ok(report)
    }

    /// A wrong sync (see [`BrokenSync`]): it pulls and stores the answer like the client,
    /// but pushes less than it confirms. The report counts documents and round trips.
    pub async fn sync_broken(&self, how: BrokenSync) -> HarnessResult<SyncReport> {
        let mut report = SyncReport::default();
        // Bounded: each round confirms the whole outbox batch.
        for _ in 0..100 {
            let (mut request, batch) = self.next_request().await?;
            report.docs_pushed += batch.len();
            match how {
                BrokenSync::ConfirmWithoutPush => request.push.clear(),
                BrokenSync::LeaveOneOut => {
                    request.push.pop();
                }
            }
            let response = self.send(&request).await?;
            report.round_trips += 1;
            report.docs_pulled += response.changes.len();
            let more = response.more;
            self.apply(batch, response).await?;
            if !more {
                return Ok(report);
            }
        }
        Err(err(&self.name, "broken sync never finished"))
    }

    /// What the client does with an answer: confirm the batch, merge, drop, move the cursor.
    async fn apply(
        &self,
        batch: Vec<OutgoingDocument>,
        response: SyncResponse,
    ) -> HarnessResult<()> {
        let local = self.local.clone();
        tokio::task::spawn_blocking(move || {
            local.in_one_transaction(|s| {
                for d in &batch {
                    s.confirm_pushed(&d.id, d.local_edits, &d.heads)?;
                }
                for doc in &response.changes {
                    let id = DocId::parse("doc", &doc.doc)?;
                    let changes: Vec<Vec<u8>> = doc.changes.iter().map(|c| c.to_vec()).collect();
                    s.merge_changes(&id, &changes)?;
                }
                let removed = response
                    .removed
                    .iter()
                    .map(|r| DocId::parse("removed", r))
                    .collect::<fieldsync_core::Result<Vec<_>>>()?;
                s.documents_left_scope(&removed)?;
                s.set_sync_cursor(&response.cursor)
            })
        })
        .await
        .map_err(|e| err("task", e))?
        .map_err(|e| err("apply", e))
    }
}
