//! A small district on a real server: users and stores seeded through the admin CLI, the
//! `fieldsync-server` process on 127.0.0.1, and devices enrolled with one-time codes.
//!
//! [`District::start`] runs `admin add-user` for each user and `admin import-stores` with a
//! CSV written from [`StoreRow`]s (which also makes each store's shelf display) before the
//! server starts, as an office would set up a district. [`District::enroll`] asks the CLI
//! for a code (`admin enroll-code`) and enrolls a [`Device`] with it.
//!
//! On [`Backend::Postgres`] the district runs several instances on one database, and
//! devices are enrolled with the instances in turn (the first device with the first
//! instance, the second with the second...), so their syncs cross instances.

use std::path::Path;

use fieldsync_core::{Role, Timestamp};

use crate::backend::{Backend, TestDatabase};
use crate::device::Device;
use crate::phone::phones_dir;
use crate::server::{HarnessError, HarnessResult, ServerProcess, admin, server_binary};
use crate::server_db::ServerDb;

/// A store to import. Everything not named here is an urban medium convenience store, tier
/// B, near 30.27 N 120.15 E (a little further east for each `number`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreRow {
    /// Also the licence number's last digits: unique in the district.
    pub number: u32,
    pub territory: String,
    pub demo_street: bool,
    pub functional_terminal: bool,
}

impl StoreRow {
    pub fn new(number: u32, territory: &str) -> StoreRow {
        StoreRow {
            number,
            territory: territory.to_owned(),
            demo_street: false,
            functional_terminal: false,
        }
    }

    /// On the demo street.
    pub fn demo(mut self) -> StoreRow {
        self.demo_street = true;
        self
    }

    /// A functional terminal, rated good.
    pub fn terminal(mut self) -> StoreRow {
        self.functional_terminal = true;
        self
    }

    /// The licence number the row imports.
    pub fn licence(&self) -> String {
        licence(self.number)
    }
}

/// The licence number of store `number`.
pub fn licence(number: u32) -> String {
    format!("3301{number:08}")
}

/// The CSV `admin import-stores` reads (`fieldsync-server admin import-stores --help`).
pub fn stores_csv(rows: &[StoreRow]) -> String {
    let flag = |b: bool| if b { "1" } else { "0" };
    let mut csv = String::from(
        "licence,name,owner,phone,address,lat,lng,format,market,size,tier,monthly_volume,\
         demo_street,functional_terminal,rating,territory\n",
    );
    for r in rows {
        let n = r.number;
        csv.push_str(&format!(
            "{},Store {n},Owner {n},138{n:08},{n} Demo Street,30.27,{:.4},B,C,2,B,120,{},{},{},{}\n",
            r.licence(),
            120.15 + f64::from(n) * 0.001,
            flag(r.demo_street),
            flag(r.functional_terminal),
            if r.functional_terminal { "good" } else { "" },
            r.territory
        ));
    }
    csv
}

/// A seeded district with its server running: one instance on SQLite, or several
/// instances sharing one PostgreSQL database.
#[derive(Debug)]
pub struct District {
    /// The first instance (the only one on SQLite).
    pub server: ServerProcess,
    /// The other instances, on the same database.
    pub others: Vec<ServerProcess>,
    /// Devices enrolled so far: the next one syncs with instance `enrolled % instances`.
    enrolled: std::sync::atomic::AtomicUsize,
    // Dropped after the servers.
    _database: Option<TestDatabase>,
    data: tempfile::TempDir,
    phones: tempfile::TempDir,
}

impl District {
    /// Adds `users` (id, role) and imports `stores` with the admin CLI, then starts the
    /// server on that data folder.
    pub fn start(users: &[(&str, Role)], stores: &[StoreRow]) -> HarnessResult<District> {
        District::start_on(Backend::Sqlite, users, stores)
    }

    /// [`District::start`] on `backend`: with PostgreSQL, a fresh database on the test
    /// cluster and as many instances as the backend says, each on a port of its own.
    pub fn start_on(
        backend: Backend,
        users: &[(&str, Role)],
        stores: &[StoreRow],
    ) -> HarnessResult<District> {
        let data = tempfile::Builder::new()
            .prefix("fieldsync-district-")
            .tempdir()?;
        let phones = phones_dir()?;
        let binary = server_binary()?;
        let database = match backend {
            Backend::Sqlite => None,
            Backend::Postgres { .. } => Some(TestDatabase::create("district")?),
        };
        let url = database.as_ref().map(TestDatabase::url);
        for (id, role) in users {
            admin(
                &binary,
                data.path(),
                url,
                &["add-user", id, role.code(), &format!("{role} {id}")],
            )?;
        }
        if !stores.is_empty() {
            let csv = data.path().join("stores.csv");
            std::fs::write(&csv, stores_csv(stores))?;
            let path = csv
                .to_str()
                .ok_or_else(|| HarnessError(format!("odd path `{}`", csv.display())))?;
            admin(
                &binary,
                data.path(),
                url,
                &[
                    "--edit-time",
                    fieldsync_core::fixtures::OFFICE_TIME,
                    "import-stores",
                    path,
                ],
            )?;
        }
        let server = ServerProcess::start_on(data.path(), url)?;
        let others = (1..backend.instances())
            .map(|i| ServerProcess::start_on(&data.path().join(format!("instance-{i}")), url))
            .collect::<HarnessResult<Vec<_>>>()?;
        Ok(District {
            server,
            others,
            enrolled: std::sync::atomic::AtomicUsize::new(0),
            _database: database,
            data,
            phones,
        })
    }

    /// Every instance, the first one first.
    pub fn instances(&self) -> impl Iterator<Item = &ServerProcess> {
        std::iter::once(&self.server).chain(&self.others)
    }

    /// The server's database.
    pub fn database(&self) -> ServerDb {
        self.server.database()
    }

    pub fn data_dir(&self) -> &Path {
        self.data.path()
    }

    /// Where devices keep their stores (and tests their backups).
    pub fn phones_dir(&self) -> &Path {
        self.phones.path()
    }

    /// The instance the next enrolled device syncs with (round robin).
    fn next_instance(&self) -> &ServerProcess {
        let n = self
            .enrolled
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let count = 1 + self.others.len();
        match n % count {
            0 => &self.server,
            i => self.others.get(i - 1).unwrap_or(&self.server),
        }
    }

    /// Enrolls a new device of `user` named `name` (its store file is named after it), its
    /// clock at `start`, syncing straight with the server.
    pub async fn enroll(&self, user: &str, name: &str, start: Timestamp) -> HarnessResult<Device> {
        let code = self.server.admin(&["enroll-code", user])?;
        let instance = self.next_instance();
        let file: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        Device::enroll(
            &instance.base_url(),
            &code,
            name,
            &self.phones.path().join(format!("{file}.db")),
            start,
        )
        .await
    }

    /// A fresh one-time code for another device of `user`.
    pub fn enrollment_code(&self, user: &str) -> HarnessResult<String> {
        Ok(self.server.admin(&["enroll-code", user])?.trim().to_owned())
    }
}

/// A device time as the admin CLI's `--edit-time` takes it (RFC 3339).
pub fn office_time(t: Timestamp) -> String {
    chrono::DateTime::from_timestamp_millis(t.0)
        .map(|d| d.to_rfc3339())
        .unwrap_or_default()
}
