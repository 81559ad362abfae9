//! A device that syncs with core's own client ([`SyncClient`]), as the app does: a local
//! store in a file, the token it got at enrollment, and a URL to sync with (the server's,
//! or a [`FaultProxy`](crate::fault_proxy::FaultProxy)'s in front of it).
//!
//! [`Device::enroll`] trades a one-time code at the server itself (enrollment is not what
//! these tests disturb). Each device has its own [`ManualClock`], so a test can play a week
//! in a few seconds. [`Device::close`] closes the store (the file is then whole: nothing
//! left in its write-ahead log) and [`ClosedDevice::open`] opens it again, which is how a
//! test copies or restores a phone's database; core gives every opening a fresh Automerge
//! actor.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use fieldsync_core::fixtures::ManualClock;
use fieldsync_core::protocol::{EnrollRequest, EnrollResponse};
use fieldsync_core::{
    CheckPoint, DeviceIdentity, DocId, LocalStore, NewVisit, Role, StoreOptions, SyncClient,
    SyncConfig, SyncFailure, SyncReport, Timestamp, VisitKind,
};

use crate::server::{HarnessError, HarnessResult};

/// The sync settings of test devices: core's defaults with short waits, so a retried
/// failure costs milliseconds, not seconds.
pub fn test_config(url: &str, token: &str) -> SyncConfig {
    let mut config = SyncConfig::new(url, token);
    config.max_attempts = 5;
    config.initial_backoff = Duration::from_millis(20);
    config.max_backoff = Duration::from_millis(200);
    config.request_timeout = Duration::from_secs(20);
    config
}

/// An enrolled device with its store open.
#[derive(Debug)]
pub struct Device {
    pub name: String,
    pub user: String,
    pub role: Role,
    pub device_id: String,
    path: PathBuf,
    clock: ManualClock,
    config: SyncConfig,
    local: Arc<LocalStore>,
    client: SyncClient,
}

/// A device whose store is closed: its file may be copied or replaced.
#[derive(Debug)]
pub struct ClosedDevice {
    pub name: String,
    pub user: String,
    pub role: Role,
    pub device_id: String,
    path: PathBuf,
    clock: ManualClock,
    config: SyncConfig,
}

fn err(what: &str, e: impl std::fmt::Display) -> HarnessError {
    HarnessError(format!("{what}: {e}"))
}

impl Device {
    /// The store of the district's store row `number` (its licence), as this phone holds it.
    pub fn store_numbered(&self, number: u32) -> HarnessResult<DocId> {
        self.local()
            .store_by_licence(&crate::district::licence(number))
            .map_err(|e| HarnessError(e.to_string()))?
            .ok_or_else(|| HarnessError(format!("{} has no store {number}", self.name)))
    }

    /// A routine visit to `store` checked in now by this phone's clock, without a position.
    pub fn routine_visit(&self, store: &DocId) -> NewVisit {
        NewVisit {
            store_id: store.clone(),
            kind: VisitKind::Routine,
            check_in: CheckPoint {
                at: self.clock().now(),
                gps: None,
            },
            complaint_id: None,
        }
    }

    /// Enrolls a new device at `server_url` with `code`, its store at `path` and its clock
    /// at `start`; it syncs with `server_url` until [`connect_to`](Self::connect_to).
    pub async fn enroll(
        server_url: &str,
        code: &str,
        name: &str,
        path: &Path,
        start: Timestamp,
    ) -> HarnessResult<Device> {
        let enrolled = enroll(server_url, code, name).await?;
        ClosedDevice {
            name: name.to_owned(),
            role: Role::parse(&enrolled.role).map_err(|e| err("enrollment role", e))?,
            user: enrolled.user_id,
            device_id: enrolled.device_id,
            path: path.to_path_buf(),
            clock: ManualClock::starting_at(start),
            config: test_config(server_url, &enrolled.token),
        }
        .open()
    }

    pub fn local(&self) -> &LocalStore {
        &self.local
    }

    pub fn clock(&self) -> &ManualClock {
        &self.clock
    }

    /// The file of the device's store.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn config(&self) -> &SyncConfig {
        &self.config
    }

    /// The device's sync client (for photo uploads and fetches beside [`Device::sync`]).
    pub fn client(&self) -> &SyncClient {
        &self.client
    }

    /// One sync: pushes everything pending and pulls everything new (with core's retries).
    pub async fn sync(&self) -> Result<SyncReport, SyncFailure> {
        self.client.sync(&|_| {}).await
    }

    /// Syncs with `url` from now on (a proxy's, or the server's again).
    pub fn connect_to(&mut self, url: &str) -> HarnessResult<()> {
        self.configure(|c| c.server_url = url.to_owned())
    }

    /// Changes the sync settings (attempts, timeouts, ...) from now on.
    pub fn configure(&mut self, change: impl FnOnce(&mut SyncConfig)) -> HarnessResult<()> {
        change(&mut self.config);
        self.client = SyncClient::new(self.config.clone(), self.local.clone())
            .map_err(|e| err("sync client", e))?;
        Ok(())
    }

    /// Enrolls this device again (a new device id and token, the same store), as a user
    /// does after the office revoked the old one.
    pub async fn enroll_again(&mut self, server_url: &str, code: &str) -> HarnessResult<()> {
        let enrolled = enroll(server_url, code, &self.name).await?;
        self.device_id = enrolled.device_id;
        self.configure(|c| c.token = enrolled.token)
    }

    /// Closes the store. Fails if something still holds it (a sync in progress).
    pub fn close(self) -> HarnessResult<ClosedDevice> {
        let Device {
            name,
            user,
            role,
            device_id,
            path,
            clock,
            config,
            local,
            client,
        } = self;
        drop(client);
        let local = Arc::try_unwrap(local)
            .map_err(|_| HarnessError(format!("the store of `{name}` is still in use")))?;
        drop(local);
        Ok(ClosedDevice {
            name,
            user,
            role,
            device_id,
            path,
            clock,
            config,
        })
    }
}

impl ClosedDevice {
    /// The file of the device's store.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn config(&self) -> &SyncConfig {
        &self.config
    }

    /// Opens the store again (with a fresh Automerge actor, as every opening has).
    pub fn open(self) -> HarnessResult<Device> {
        let options = StoreOptions {
            clock: self.clock.clock(),
            ..StoreOptions::default()
        };
        let local = Arc::new(
            open_when_released(|| {
                LocalStore::open(
                    &self.path,
                    DeviceIdentity::new(self.user.as_str(), self.name.as_str()),
                    options.clone(),
                )
            })
            .map_err(|e| err(&format!("opening the store of `{}`", self.name), e))?,
        );
        let client = SyncClient::new(self.config.clone(), local.clone())
            .map_err(|e| err("sync client", e))?;
        Ok(Device {
            name: self.name,
            user: self.user,
            role: self.role,
            device_id: self.device_id,
            path: self.path,
            clock: self.clock,
            config: self.config,
            local,
            client,
        })
    }

    /// Copies the store's file to `to` (a backup).
    pub fn copy_to(&self, to: &Path) -> HarnessResult<()> {
        std::fs::copy(&self.path, to)?;
        Ok(())
    }

    /// Replaces the store's file with `from` (a restore from a backup).
    pub fn replace_with(&self, from: &Path) -> HarnessResult<()> {
        for suffix in ["-wal", "-shm"] {
            let mut side = self.path.clone().into_os_string();
            side.push(suffix);
            match std::fs::remove_file(PathBuf::from(side)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                _ => {}
            }
        }
        std::fs::copy(from, &self.path)?;
        Ok(())
    }
}

/// Opens a store just closed by this process, waiting (at most 2 s) while its lock is
/// still held elsewhere. Tests of this binary run in parallel and start servers and
/// admin commands: a child process holds a copy of every open file from its fork until
/// its exec, and with it the lock of a store closed in between. An app that does not
/// fork never waits here.
fn open_when_released(
    open: impl Fn() -> fieldsync_core::Result<LocalStore>,
) -> fieldsync_core::Result<LocalStore> {
    for _ in 0..100 {
        match open() {
            Err(fieldsync_core::Error::Locked { .. }) => {
                std::thread::sleep(Duration::from_millis(20));
            }
            other => return other,
        }
    }
    open()
}

/// `POST /v1/enroll` straight to the server (also how [`crate::js_client`] enrolls).
pub async fn enroll(server_url: &str, code: &str, name: &str) -> HarnessResult<EnrollResponse> {
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .map_err(|e| err("http client", e))?;
    let body = serde_json::to_vec(&EnrollRequest {
        code: code.trim().to_owned(),
        device_name: name.to_owned(),
    })
    .map_err(|e| err("enrollment request", e))?;
    let response = http
        .post(format!("{server_url}/v1/enroll"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| err("enrolling", e))?;
    let status = response.status();
    let bytes = response.bytes().await.map_err(|e| err("enrolling", e))?;
    if !status.is_success() {
        return Err(HarnessError(format!(
            "enrolling `{name}` was refused with {status}: {}",
            String::from_utf8_lossy(&bytes)
        )));
    }
    serde_json::from_slice(&bytes).map_err(|e| err("enrollment answer", e))
}
