//! A small district on a real server: users and stores seeded through the admin CLI, the
//! `fieldsync-server` process on 127.0.0.1, and devices enrolled with one-time codes.
//!
//! [`District::start`] runs `admin add-user` for each user and `admin import-stores` with a
//! CSV written from [`StoreRow`]s (which also makes each store's shelf display) before the
//! server starts, as an office would set up a district. [`District::enroll`] asks the CLI
//! for a code (`admin enroll-code`) and enrolls a [`Device`] with it.

use std::path::{Path, PathBuf};

use fieldsync_core::{Role, Timestamp};

use crate::device::Device;
use crate::phone::phones_dir;
use crate::server::{HarnessError, HarnessResult, ServerProcess, admin, server_binary};

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

/// A seeded district with its server running.
#[derive(Debug)]
pub struct District {
    pub server: ServerProcess,
    data: tempfile::TempDir,
    phones: tempfile::TempDir,
}

impl District {
    /// Adds `users` (id, role) and imports `stores` with the admin CLI, then starts the
    /// server on that data folder.
    pub fn start(users: &[(&str, Role)], stores: &[StoreRow]) -> HarnessResult<District> {
        let data = tempfile::Builder::new()
            .prefix("fieldsync-district-")
            .tempdir()?;
        let phones = phones_dir()?;
        let binary = server_binary()?;
        for (id, role) in users {
            admin(
                &binary,
                data.path(),
                &["add-user", id, role.code(), &format!("{role} {id}")],
            )?;
        }
        if !stores.is_empty() {
            let csv = data.path().join("stores.csv");
            std::fs::write(&csv, stores_csv(stores))?;
            let path = csv
                .to_str()
                .ok_or_else(|| HarnessError(format!("odd path `{}`", csv.display())))?;
            admin(&binary, data.path(), &["import-stores", path])?;
        }
        let server = ServerProcess::start(data.path())?;
        Ok(District {
            server,
            data,
            phones,
        })
    }

    /// The server's database file.
    pub fn database(&self) -> PathBuf {
        self.server.database()
    }

    pub fn data_dir(&self) -> &Path {
        self.data.path()
    }

    /// Where devices keep their stores (and tests their backups).
    pub fn phones_dir(&self) -> &Path {
        self.phones.path()
    }

    /// Enrolls a new device of `user` named `name` (its store file is named after it), its
    /// clock at `start`, syncing straight with the server.
    pub async fn enroll(&self, user: &str, name: &str, start: Timestamp) -> HarnessResult<Device> {
        let code = self.server.admin(&["enroll-code", user])?;
        let file: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        Device::enroll(
            &self.server.base_url(),
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
