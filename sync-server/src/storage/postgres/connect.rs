//! Connecting to PostgreSQL: the options an instance is opened with, its pool of
//! connections, and what the database's errors say (and which of them a push retries).

use std::time::Duration;

use postgres::error::SqlState;
use r2d2_postgres::PostgresConnectionManager;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::error::{AppError, AppResult};

pub(super) type Pool = r2d2::Pool<PostgresConnectionManager<MakeRustlsConnect>>;
pub(super) type Client = r2d2::PooledConnection<PostgresConnectionManager<MakeRustlsConnect>>;

/// How a push gets its cursors.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CursorAllocation {
    /// The counter row, locked until commit: exact (the only mode for real use).
    #[default]
    LockedCounter,
    /// `nextval` of a sequence, committed in any order: skips changes. For the test that
    /// shows why the counter is needed; never use it to serve devices.
    #[doc(hidden)]
    NaiveSequence,
}

/// How to connect and behave.
#[derive(Clone, Debug)]
pub struct PostgresOptions {
    /// Most connections this instance holds open.
    pub pool_size: u32,
    #[doc(hidden)]
    pub cursor: CursorAllocation,
    /// Sleeps up to this long (at random) just before each push commits: a test's way of
    /// making transactions commit out of order.
    #[doc(hidden)]
    pub commit_delay: Option<Duration>,
    /// PEM file of the CA certificates that sign the server's certificate (for
    /// `sslmode=verify-ca|verify-full`; the URL's `sslrootcert` says the same).
    pub ca_file: Option<std::path::PathBuf>,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            pool_size: 16,
            cursor: CursorAllocation::LockedCounter,
            commit_delay: None,
            ca_file: None,
        }
    }
}

/// The connection pool, closed on a thread of its own when dropped: closing a blocking
/// client on a thread that drives async tasks would panic.
pub(super) struct Connections(pub(super) Option<Pool>);

impl Connections {
    pub(super) fn get(&self) -> AppResult<Client> {
        match &self.0 {
            Some(pool) => Ok(pool.get()?),
            // Only `drop` takes the pool.
            None => Err(AppError::internal("the PostgreSQL pool is closed")),
        }
    }
}

impl Drop for Connections {
    fn drop(&mut self) {
        if let Some(pool) = self.0.take() {
            let _ = std::thread::Builder::new()
                .name("fieldsync-postgres-close".into())
                .spawn(move || drop(pool));
        }
    }
}

impl From<postgres::Error> for AppError {
    fn from(e: postgres::Error) -> Self {
        AppError::Internal(describe(&e))
    }
}

impl From<r2d2::Error> for AppError {
    fn from(e: r2d2::Error) -> Self {
        AppError::Internal(format!("postgres: no connection from the pool: {e}"))
    }
}

/// The server's message and code for a database error, the client's otherwise.
pub(super) fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("postgres: {} ({})", db.message(), db.code().code()),
        None => match std::error::Error::source(e) {
            Some(source) => format!("postgres: {e}: {source}"),
            None => format!("postgres: {e}"),
        },
    }
}

pub(super) fn retryable(e: &postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
    )
}

/// `host:port/database` of a URL, without the password.
pub(super) fn target_of(config: &postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            postgres::config::Host::Tcp(name) => name.clone(),
            postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("postgres");
    format!("{host}:{port}/{db}")
}
