//! The district's server on 127.0.0.1 (`fieldsync_server::serve` on this process's tokio
//! runtime, over the seeded storage) and phones that enroll with it over HTTP and sync with
//! core's own `SyncClient`, as the app does.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fieldsync_core::fixtures::ManualClock;
use fieldsync_core::{
    DeviceIdentity, DocKind, LocalStore, Role, StoreOptions, SyncClient, SyncConfig, Timestamp,
};
use fieldsync_server::storage::SyncStorage;
use fieldsync_server::{AppState, Limits};

use super::seed::Fallible;

/// A server serving `storage` until dropped.
#[derive(Debug)]
pub struct Server {
    pub storage: Arc<dyn SyncStorage>,
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Server {
    pub async fn start(storage: Arc<dyn SyncStorage>) -> Fallible<Server> {
        let state = AppState {
            storage: storage.clone(),
            limits: Limits::default(),
            metrics: None,
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready, bound) = tokio::sync::oneshot::channel();
        let listen = SocketAddr::from(([127, 0, 0, 1], 0));
        let task = tokio::spawn(fieldsync_server::serve(
            state,
            listen,
            move |addr| {
                let _ = ready.send(addr);
            },
            async move {
                let _ = stopped.await;
            },
        ));
        let addr = tokio::time::timeout(Duration::from_secs(10), bound)
            .await
            .map_err(|_| "the server never bound a port")??;
        Ok(Server {
            storage,
            addr,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// Stops the server and waits until it has let go of its storage (a PostgreSQL
    /// storage must not be dropped on the runtime's threads).
    pub async fn stop(mut self) -> Fallible<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(30), task)
                .await
                .map_err(|_| "the server did not stop within 30 s")???;
        }
        Ok(())
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// How a device asks for its documents: `working_weeks` is the working set's weeks of
/// visits and counts (issue 19, part 3); `None` asks for the whole scope.
pub fn sync_config(url: &str, token: &str, working_weeks: Option<u32>) -> Fallible<SyncConfig> {
    let mut config = SyncConfig::new(url, token);
    // Nothing here fails transiently: a retry would only hide a failure behind a wait.
    config.max_attempts = 1;
    config.request_timeout = Duration::from_secs(600);
    config.working_weeks = working_weeks;
    Ok(config)
}

/// An enrolled phone: its store in a folder of its own, its clock, its sync client.
#[derive(Debug)]
pub struct Device {
    pub user: String,
    pub role: Role,
    pub local: Arc<LocalStore>,
    pub clock: ManualClock,
    pub client: SyncClient,
}

impl Device {
    /// Enrolls a new phone `name` of `user` with `server` (a one-time code, `/v1/enroll`).
    pub async fn enroll(
        server: &Server,
        dir: &Path,
        user: &str,
        role: Role,
        name: &str,
        working_weeks: Option<u32>,
    ) -> Fallible<Device> {
        let now = Timestamp::now();
        // Storage calls block (PostgreSQL's client has a runtime of its own).
        let (storage, owner) = (server.storage.clone(), user.to_owned());
        let code = tokio::task::spawn_blocking(move || {
            fieldsync_server::admin::enrollment_code(storage.as_ref(), &owner, now.0)
        })
        .await??;
        let plain = sync_config(&server.url(), "", None)?;
        let enrolled = fieldsync_core::enroll(&plain, &code, name).await?;
        let clock = ManualClock::starting_at(now);
        let local = LocalStore::open(
            dir.join(format!("{name}.db")),
            DeviceIdentity::new(user, name),
            StoreOptions {
                clock: clock.clock(),
                ..StoreOptions::default()
            },
        )?;
        let local = Arc::new(local);
        let config = sync_config(&server.url(), &enrolled.token, working_weeks)?;
        let client = SyncClient::new(config, local.clone())?;
        Ok(Device {
            user: user.into(),
            role,
            local,
            clock,
            client,
        })
    }

    /// One sync, start to finish; a refused document is an error here.
    pub async fn sync(&self) -> Fallible<fieldsync_core::SyncReport> {
        let report = self.client.sync(&|_| {}).await?;
        if !report.rejected.is_empty() {
            return Err(format!("the server refused {:?}", report.rejected).into());
        }
        Ok(report)
    }

    /// Documents on the phone, of every kind.
    pub fn documents(&self) -> Fallible<usize> {
        let mut n = 0;
        for kind in DocKind::ALL {
            n += self.local.document_ids(kind)?.len();
        }
        Ok(n)
    }
}

/// A new phone's first sync, measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FirstSync {
    pub user: String,
    pub working_weeks: Option<u32>,
    pub ms: f64,
    pub documents: usize,
    pub round_trips: u32,
    pub bytes_received: u64,
}

/// Enrolls a new phone of `user` and times its first sync; returns the phone too.
pub async fn first_sync(
    server: &Server,
    dir: &Path,
    user: &str,
    role: Role,
    name: &str,
    working_weeks: Option<u32>,
) -> Fallible<(FirstSync, Device)> {
    let device = Device::enroll(server, dir, user, role, name, working_weeks).await?;
    let started = Instant::now();
    let report = device.sync().await?;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let figures = FirstSync {
        user: user.into(),
        working_weeks,
        ms,
        documents: device.documents()?,
        round_trips: report.round_trips,
        bytes_received: report.bytes_received,
    };
    Ok((figures, device))
}
