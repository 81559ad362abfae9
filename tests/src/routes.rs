//! The server's routes without a socket, on either backend: one router per instance, taken
//! in turn, for tests that drive requests straight into axum (`tests/bad_input.rs`,
//! `tests/sync_routes.rs`).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use fieldsync_core::protocol::{self, DocChanges, EnrollResponse, SyncRequest, SyncResponse};
use fieldsync_core::{DocId, LocalStore};
use fieldsync_server::admin::enrollment_code;
use fieldsync_server::blobs::{BlobLimits, Blobs};
use fieldsync_server::storage::SyncStorage;
use fieldsync_server::{
    AppOptions, AppState, Limits, PostgresOptions, PostgresStorage, SqliteStorage, app_with,
};
use tower::ServiceExt;

use crate::backend::{Backend, TestDatabase};
use crate::server::{HarnessError, HarnessResult};
use crate::server_db::ServerDb;

/// The instances of a server: on SQLite one, on PostgreSQL as many as the backend says,
/// each with its own storage (pool and cache) on one fresh database.
pub struct Instances {
    /// The first instance's storage.
    pub storage: Arc<dyn SyncStorage>,
    /// What the instances stored, for checks.
    pub db: ServerDb,
    routers: Vec<axum::Router>,
    calls: AtomicUsize,
    // Dropped after the routers and storages above.
    _database: Option<TestDatabase>,
}

impl std::fmt::Debug for Instances {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instances")
            .field("db", &self.db)
            .field("instances", &self.routers.len())
            .finish_non_exhaustive()
    }
}

fn err(e: impl std::fmt::Display) -> HarnessError {
    HarnessError(format!("opening the server's storage: {e}"))
}

fn phone_failed(e: fieldsync_core::Error) -> HarnessError {
    HarnessError(format!("the phone: {e}"))
}

fn failed(e: impl std::fmt::Display) -> HarnessError {
    HarnessError(format!("a request to the routes: {e}"))
}

impl Instances {
    /// Opens the storage of `backend` (SQLite in `dir`, or a fresh PostgreSQL database
    /// named after `label`) and a router with `limits` for each instance.
    pub fn open(
        backend: Backend,
        dir: &Path,
        label: &str,
        limits: Limits,
    ) -> HarnessResult<Instances> {
        let (storages, database, db): (Vec<Arc<dyn SyncStorage>>, _, _) = match backend {
            Backend::Sqlite => {
                let file = dir.join("fieldsync.db");
                let storage: Arc<dyn SyncStorage> =
                    Arc::new(SqliteStorage::open(&file).map_err(err)?);
                (vec![storage], None, ServerDb::Sqlite(file))
            }
            Backend::Postgres { instances } => {
                let database = TestDatabase::create(label)?;
                let mut storages: Vec<Arc<dyn SyncStorage>> = Vec::new();
                for _ in 0..instances.max(1) {
                    storages.push(Arc::new(
                        PostgresStorage::open(database.url(), PostgresOptions::default())
                            .map_err(err)?,
                    ));
                }
                let db = ServerDb::Postgres(database.url().to_owned());
                (storages, Some(database), db)
            }
        };
        let storage = storages
            .first()
            .cloned()
            .ok_or_else(|| HarnessError("no instance".into()))?;
        // Photos in `dir/blobs`, shared by the instances as one folder.
        let options = AppOptions {
            blobs: Some(Blobs::in_data_dir(dir, BlobLimits::default()).map_err(err)?),
            ..AppOptions::default()
        };
        let routers = storages
            .into_iter()
            .map(|storage| {
                app_with(
                    AppState {
                        storage,
                        limits: limits.clone(),
                        metrics: None,
                    },
                    &options,
                )
            })
            .collect();
        Ok(Instances {
            storage,
            db,
            routers,
            calls: AtomicUsize::new(0),
            _database: database,
        })
    }

    /// The next instance's router (round robin).
    pub fn router(&self) -> axum::Router {
        let n = self.calls.fetch_add(1, Ordering::Relaxed);
        self.routers[n % self.routers.len()].clone()
    }

    /// Enrolls a device of `user` (who must exist) through `POST /v1/enroll`; its token.
    pub async fn enroll(&self, user: &str) -> HarnessResult<String> {
        Ok(self.enroll_device(user).await?.token)
    }

    /// Enrolls a device of `user` (who must exist) through `POST /v1/enroll`.
    pub async fn enroll_device(&self, user: &str) -> HarnessResult<EnrollResponse> {
        let now = chrono::Utc::now().timestamp_millis();
        let code = enrollment_code(self.storage.as_ref(), user, now).map_err(failed)?;
        let body =
            serde_json::json!({"code": code, "device_name": format!("{user}'s phone")}).to_string();
        let request = Request::post("/v1/enroll")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .map_err(failed)?;
        let (status, _, bytes) = self.call(request).await?;
        if status != StatusCode::OK {
            return Err(HarnessError(format!(
                "enrolling `{user}`: {status} {}",
                String::from_utf8_lossy(&bytes)
            )));
        }
        serde_json::from_slice(&bytes).map_err(failed)
    }

    /// Posts a sync request with `token`; the status, headers and body of the answer.
    pub async fn sync(
        &self,
        token: &str,
        request: &SyncRequest,
    ) -> HarnessResult<(StatusCode, HeaderMap, Vec<u8>)> {
        let request = Request::post("/v1/sync")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, protocol::CONTENT_TYPE)
            .body(Body::from(protocol::encode(request)))
            .map_err(failed)?;
        self.call(request).await
    }

    /// One sync of a phone, as a client makes it but without leaving anything out: pushes
    /// its whole outbox, confirms it, merges the feed and stores the cursor. Documents
    /// listed as `removed` stay on the phone (what a phone restored from an older backup,
    /// or a client written carelessly, still holds). A refusal is an error with its status
    /// and body.
    pub async fn sync_phone(&self, token: &str, phone: &LocalStore) -> HarnessResult<SyncResponse> {
        let batch = phone.outbox_batch(10_000).map_err(phone_failed)?;
        self.exchange(token, phone, &batch, None).await
    }

    /// One page of a pull-only sync of `phone` asking for at most `max_bytes`: merges it
    /// and stores its cursor, as [`Instances::sync_phone`] does.
    pub async fn pull_page(
        &self,
        token: &str,
        phone: &LocalStore,
        max_bytes: u64,
    ) -> HarnessResult<SyncResponse> {
        self.exchange(token, phone, &[], Some(max_bytes)).await
    }

    /// Pushes `batch` from the phone's cursor, confirms it, merges the feed and stores the
    /// cursor.
    async fn exchange(
        &self,
        token: &str,
        phone: &LocalStore,
        batch: &[fieldsync_core::OutgoingDocument],
        max_bytes: Option<u64>,
    ) -> HarnessResult<SyncResponse> {
        let fail = phone_failed;
        let mut request = outbox_request(batch, phone.sync_cursor().map_err(fail)?);
        request.max_response_bytes = max_bytes;
        let (status, _, body) = self.sync(token, &request).await?;
        if status != StatusCode::OK {
            return Err(HarnessError(format!(
                "{status}: {}",
                String::from_utf8_lossy(&body)
            )));
        }
        let response: SyncResponse = protocol::decode("sync response", &body).map_err(fail)?;
        for d in batch {
            phone
                .confirm_pushed(&d.id, d.local_edits, &d.heads)
                .map_err(fail)?;
        }
        for doc in &response.changes {
            let changes: Vec<Vec<u8>> = doc.changes.iter().map(|c| c.to_vec()).collect();
            let id = DocId::parse("doc", &doc.doc).map_err(fail)?;
            phone.merge_changes(&id, &changes).map_err(fail)?;
        }
        phone.set_sync_cursor(&response.cursor).map_err(fail)?;
        Ok(response)
    }

    /// Posts `body` as CBOR to `path` (`/v1/sync`, `/v1/fetch`) with `token`; the status
    /// and body of the answer.
    pub async fn post_cbor(
        &self,
        path: &str,
        token: &str,
        body: Vec<u8>,
    ) -> HarnessResult<(StatusCode, Vec<u8>)> {
        let request = Request::post(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, protocol::CONTENT_TYPE)
            .body(Body::from(body))
            .map_err(failed)?;
        let (status, _, bytes) = self.call(request).await?;
        Ok((status, bytes))
    }

    /// Posts `body` as JSON to `path` (`/v1/blobs/status`) with `token`; the status and
    /// body of the answer.
    pub async fn post_json(
        &self,
        path: &str,
        token: &str,
        body: &serde_json::Value,
    ) -> HarnessResult<(StatusCode, Vec<u8>)> {
        let request = Request::post(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .map_err(failed)?;
        let (status, _, bytes) = self.call(request).await?;
        Ok((status, bytes))
    }

    async fn call(
        &self,
        request: Request<Body>,
    ) -> HarnessResult<(StatusCode, HeaderMap, Vec<u8>)> {
        let response = self.router().oneshot(request).await.map_err(failed)?;
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, 256 << 20)
            .await
            .map_err(failed)?;
        Ok((parts.status, parts.headers, bytes.to_vec()))
    }
}

/// A sync request pushing `batch` (a phone's outbox) from `cursor`.
pub fn outbox_request(
    batch: &[fieldsync_core::OutgoingDocument],
    cursor: Option<String>,
) -> SyncRequest {
    SyncRequest {
        protocol: protocol::PROTOCOL_VERSION,
        cursor,
        push: batch
            .iter()
            .map(|d| DocChanges {
                doc: d.id.to_string(),
                changes: d.changes.iter().cloned().map(Into::into).collect(),
                index: None,
            })
            .collect(),
        max_response_bytes: None,
        device: None,
        working_set: None,
        index_version: None,
    }
}
