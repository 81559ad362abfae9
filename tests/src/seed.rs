//! Seeding a server's data folder while the server is not running: users, stores and
//! one-time enrollment codes, through the server's own library.
//!
//! Stores are made the way the admin CLI makes them: by the server's admin device
//! ([`AdminDevice`]), which edits them in its own local store and pushes them through the
//! normal write path. Do this while no server process runs on the folder: a running
//! server keeps the documents it wrote recently in memory, and would not see a store edited
//! behind its back. (Adding users and codes is safe at any time; the CLI does it live.)

use std::path::{Path, PathBuf};

use fieldsync_core::fixtures::sample_store;
use fieldsync_core::{DocId, NewStore, Role};
use fieldsync_server::admin::{AdminDevice, enrollment_code};
use fieldsync_server::storage::{SyncStorage, User};
use fieldsync_server::{PostgresOptions, PostgresStorage, SqliteStorage};

use crate::server::{HarnessError, HarnessResult};

/// A data folder being prepared for a server.
pub struct Seed {
    storage: Box<dyn SyncStorage>,
    data_dir: PathBuf,
}

impl std::fmt::Debug for Seed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Seed")
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

fn err(e: impl std::fmt::Display) -> HarnessError {
    HarnessError(format!("seeding: {e}"))
}

impl Seed {
    /// Opens (creating) the database of the data folder `data_dir`.
    pub fn open(data_dir: &Path) -> HarnessResult<Seed> {
        Seed::open_on(data_dir, None)
    }

    /// Opens (creating and migrating) the PostgreSQL database at `database` when given (the
    /// admin device still lives in `data_dir`), the data folder's SQLite file otherwise.
    pub fn open_on(data_dir: &Path, database: Option<&str>) -> HarnessResult<Seed> {
        std::fs::create_dir_all(data_dir)?;
        let storage: Box<dyn SyncStorage> = match database {
            Some(url) => {
                Box::new(PostgresStorage::open(url, PostgresOptions::default()).map_err(err)?)
            }
            None => Box::new(SqliteStorage::open(&data_dir.join("fieldsync.db")).map_err(err)?),
        };
        Ok(Seed {
            storage,
            data_dir: data_dir.to_path_buf(),
        })
    }

    pub fn add_user(&self, id: &str, role: Role) -> HarnessResult<()> {
        let user = User {
            id: id.into(),
            role,
            name: format!("{role} {id}"),
        };
        self.storage.add_user(&user, now()).map_err(err)
    }

    /// Creates `count` stores in each territory ([`sample_store`]s, numbered on from the
    /// stores the district has, since licences are unique), pushed in one go by the admin
    /// device. Returns each territory's store ids in the order given.
    pub fn add_stores(&self, territories: &[&str], count: u32) -> HarnessResult<Vec<Vec<DocId>>> {
        self.add_stores_with(territories, count, sample_store)
    }

    /// Like [`add_stores`](Self::add_stores), with store number `n` of `territory` made by
    /// `make(territory, n)`; `n` counts on from the district's stores.
    pub fn add_stores_with(
        &self,
        territories: &[&str],
        count: u32,
        make: impl Fn(&str, u32) -> NewStore,
    ) -> HarnessResult<Vec<Vec<DocId>>> {
        let existing = self
            .storage
            .documents()
            .map_err(err)?
            .iter()
            .filter(|(_, kind)| kind == "store")
            .count();
        let mut number = u32::try_from(existing).map_err(err)?;
        let admin = AdminDevice::open_with_clock(
            &self.data_dir,
            self.storage.as_ref(),
            fieldsync_core::fixtures::office_clock(),
        )
        .map_err(err)?;
        let mut out = Vec::with_capacity(territories.len());
        for territory in territories {
            let mut ids = Vec::with_capacity(count as usize);
            for _ in 0..count {
                number += 1;
                ids.push(
                    admin
                        .local
                        .create_store(make(territory, number))
                        .map_err(err)?,
                );
            }
            out.push(ids);
        }
        admin.push().map_err(err)?;
        Ok(out)
    }

    /// A one-time enrollment code for a device of `user` (valid 7 days).
    pub fn enrollment_code(&self, user: &str) -> HarnessResult<String> {
        enrollment_code(self.storage.as_ref(), user, now()).map_err(err)
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
