//! The server's routes without a socket, on either backend: one router per instance, taken
//! in turn, for tests that drive requests straight into axum (`tests/bad_input.rs`,
//! `tests/sync_routes.rs`).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use fieldsync_server::storage::SyncStorage;
use fieldsync_server::{AppState, Limits, PostgresOptions, PostgresStorage, SqliteStorage, app};

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
        let routers = storages
            .into_iter()
            .map(|storage| {
                app(AppState {
                    storage,
                    limits: limits.clone(),
                    metrics: None,
                })
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
}
