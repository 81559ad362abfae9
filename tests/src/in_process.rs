//! The sync server inside the test's own process, on 127.0.0.1:0: no binary to build and
//! no process to start, so a property test can afford a fresh server for every case.
//!
//! [`InProcessServer::start`] runs `fieldsync_server::serve` on the current tokio runtime
//! over a SQLite database in the given folder and returns once the port is bound. Users are
//! added and stores made through the server's own library ([`InProcessServer::add_user`],
//! [`InProcessServer::admin`]: the admin device pushes through the same storage, and so
//! the same replica cache, as the running server); devices enroll over HTTP with a one-time
//! code ([`InProcessServer::enroll`]). Dropping it stops the server; requests in flight
//! are finished first.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use fieldsync_core::Role;
use fieldsync_core::protocol::{EnrollRequest, EnrollResponse};
use fieldsync_server::admin::{AdminDevice, enrollment_code};
use fieldsync_server::storage::{SyncStorage, User};
use fieldsync_server::{AppState, Limits, SqliteStorage};
use metrics_exporter_prometheus::PrometheusHandle;

use crate::server::{HarnessError, HarnessResult};

/// A `fieldsync-server` running on this process's tokio runtime.
#[derive(Debug)]
pub struct InProcessServer {
    storage: Arc<dyn SyncStorage>,
    data_dir: PathBuf,
    addr: SocketAddr,
    http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

fn err(what: &str, e: impl std::fmt::Display) -> HarnessError {
    HarnessError(format!("in-process server: {what}: {e}"))
}

impl InProcessServer {
    /// Starts a server on `data_dir` (created if missing) with the default limits. Pass a
    /// Prometheus handle to have the server count requests and bytes (the recorder must be
    /// installed globally by the caller, as `fieldsync-server serve` does).
    pub async fn start(
        data_dir: &Path,
        metrics: Option<PrometheusHandle>,
    ) -> HarnessResult<InProcessServer> {
        std::fs::create_dir_all(data_dir)?;
        let storage = Arc::new(
            SqliteStorage::open(&data_dir.join("fieldsync.db")).map_err(|e| err("open", e))?,
        );
        InProcessServer::start_on(data_dir, storage, metrics).await
    }

    /// Starts a server on `storage` (any backend: a PostgreSQL storage makes this one of
    /// several instances on its database); `data_dir` holds the admin device's store.
    pub async fn start_on(
        data_dir: &Path,
        storage: Arc<dyn SyncStorage>,
        metrics: Option<PrometheusHandle>,
    ) -> HarnessResult<InProcessServer> {
        std::fs::create_dir_all(data_dir)?;
        let state = AppState {
            storage: storage.clone(),
            limits: Limits::default(),
            metrics,
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let listen = SocketAddr::from(([127, 0, 0, 1], 0));
        let task = tokio::spawn(fieldsync_server::serve(
            state,
            listen,
            move |addr| {
                let _ = ready_tx.send(addr);
            },
            async move {
                let _ = stopped.await;
            },
        ));
        let addr = match tokio::time::timeout(Duration::from_secs(10), ready_rx).await {
            Ok(Ok(addr)) => addr,
            _ => {
                let why = match task.await {
                    Ok(Err(e)) => e.to_string(),
                    other => format!("{other:?}"),
                };
                return Err(err("never bound a port", why));
            }
        };
        let http = crate::phone::http_client(Duration::from_secs(30))
            .map_err(|e| err("http client", e))?;
        Ok(InProcessServer {
            storage,
            data_dir: data_dir.to_path_buf(),
            addr,
            http,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The server's storage, for checks against what it holds.
    pub fn storage(&self) -> &Arc<dyn SyncStorage> {
        &self.storage
    }

    pub fn add_user(&self, id: &str, role: Role) -> HarnessResult<()> {
        let user = User {
            id: id.into(),
            role,
            name: format!("{role} {id}"),
        };
        self.storage
            .add_user(&user, now())
            .map_err(|e| err("add user", e))
    }

    /// The server's admin device, to make stores and other documents (it pushes them
    /// through the normal write path). Drop it before asking for another.
    pub fn admin(&self) -> HarnessResult<AdminDevice<'_>> {
        AdminDevice::open_with_clock(
            &self.data_dir,
            self.storage.as_ref(),
            fieldsync_core::fixtures::office_clock(),
        )
        .map_err(|e| err("admin device", e))
    }

    /// Enrolls a new device of `user` over HTTP: a fresh one-time code, then `/v1/enroll`.
    pub async fn enroll(&self, user: &str, device_name: &str) -> HarnessResult<EnrollResponse> {
        let code = enrollment_code(self.storage.as_ref(), user, now())
            .map_err(|e| err("enrollment code", e))?;
        let body = serde_json::to_vec(&EnrollRequest {
            code,
            device_name: device_name.into(),
        })
        .map_err(|e| err("enrollment body", e))?;
        let response = self
            .http
            .post(format!("{}/v1/enroll", self.url()))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| err("enroll", e))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| err("enroll", e))?;
        if !status.is_success() {
            return Err(err(
                "enroll",
                format!("{status}: {}", String::from_utf8_lossy(&bytes)),
            ));
        }
        serde_json::from_slice(&bytes).map_err(|e| err("enrollment answer", e))
    }

    /// Stops accepting connections, finishes what is in flight, and waits for the server.
    pub async fn stop(mut self) -> HarnessResult<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            match tokio::time::timeout(Duration::from_secs(30), task).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => return Err(err("serve", e)),
                Ok(Err(e)) => return Err(err("server task", e)),
                Err(_) => return Err(err("stop", "did not stop within 30 s")),
            }
        }
        Ok(())
    }
}

impl Drop for InProcessServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
