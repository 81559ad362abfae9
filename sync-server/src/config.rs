//! Command line and environment configuration.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};

use crate::error::{AppError, AppResult};
use crate::storage::Quotas;
use crate::{PostgresOptions, PostgresStorage, SqliteStorage, SyncStorage};

/// fieldsync-server: merges field edits from phones when they come back online.
#[derive(Debug, Parser)]
#[command(version = crate::probes::VERSION_LINE, about)]
pub struct Cli {
    /// Log lines as `text` (without colour when standard error is not a terminal) or as
    /// `json`, one object a line, for a log collector.
    #[arg(
        long,
        env = "FIELDSYNC_LOG_FORMAT",
        default_value = "text",
        global = true,
        value_enum
    )]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

/// How log lines are written on standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the sync server (embedded SQLite in the data folder, or `--database postgres://...`).
    Serve(ServeArgs),
    /// Administer users, devices and stores (works while the server runs).
    Admin(crate::admin::AdminArgs),
}

/// Where the server keeps its data.
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// Folder for the database (created if missing).
    #[arg(
        long,
        env = "FIELDSYNC_DATA",
        default_value = "fieldsync-data",
        global = true
    )]
    pub data_dir: PathBuf,

    /// Keep the data in PostgreSQL (`postgres://user:password@host:port/database`), shared
    /// by every instance given the same URL, instead of SQLite in the data folder (which
    /// then holds only the admin tools' own device).
    #[arg(long, env = "FIELDSYNC_DATABASE", global = true)]
    pub database: Option<String>,

    /// Most PostgreSQL connections this instance holds open.
    #[arg(
        long,
        env = "FIELDSYNC_DATABASE_POOL",
        default_value_t = 16,
        global = true
    )]
    pub database_pool: u32,

    /// PEM file of the CA certificates that sign PostgreSQL's certificate, for
    /// `sslmode=verify-ca` or `verify-full` in the URL (default: the bundled public roots).
    #[arg(long, env = "FIELDSYNC_DATABASE_CA", global = true)]
    pub database_ca: Option<PathBuf>,
}

impl DataArgs {
    /// The SQLite file in the data folder (the default storage).
    pub fn sqlite_file(&self) -> PathBuf {
        self.data_dir.join("fieldsync.db")
    }

    /// Opens (creating and migrating) the storage these arguments name.
    pub fn open_storage(&self) -> AppResult<Arc<dyn SyncStorage>> {
        Ok(match &self.database {
            Some(url) if !url.starts_with("postgres://") && !url.starts_with("postgresql://") => {
                return Err(AppError::BadRequest(format!(
                    "`--database` must be a `postgres://` URL (SQLite is the default and \
                     needs none), not `{}`",
                    url.split('@').next_back().unwrap_or_default()
                )));
            }
            Some(url) => Arc::new(PostgresStorage::open(
                url,
                PostgresOptions {
                    pool_size: self.database_pool,
                    ca_file: self.database_ca.clone(),
                    ..PostgresOptions::default()
                },
            )?),
            None => Arc::new(SqliteStorage::open(&self.sqlite_file())?),
        })
    }

    /// Where the data is, for logs (no password).
    pub fn describe(&self) -> String {
        match &self.database {
            Some(url) => format!(
                "postgres {}",
                url.split('@').next_back().unwrap_or_default()
            ),
            None => self.sqlite_file().display().to_string(),
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address and port to listen on. Loopback by default: put a TLS proxy in front to
    /// serve phones.
    #[arg(long, env = "FIELDSYNC_LISTEN", default_value = "127.0.0.1:7878")]
    pub listen: SocketAddr,

    #[command(flatten)]
    pub data: DataArgs,

    /// Seed a demo district if the database has no users yet: four account managers, a
    /// market-team user, a supervisor and about 1,000 stores (30 on the demo street),
    /// imported from `demo-stores.csv`, which it writes into the data folder. Prints an
    /// enrollment code for each user; on a later start it says the data is there already.
    #[arg(long)]
    pub demo: bool,

    /// Do not serve the supervision console under `/console` (it is served by default, to
    /// supervisors and admins signed in with `admin console-code`).
    #[arg(long, env = "FIELDSYNC_NO_CONSOLE")]
    pub no_console: bool,

    /// Mark the console's session cookie `Secure`: set it when browsers reach the server
    /// through a TLS proxy (a request forwarded with `X-Forwarded-Proto: https` gets it
    /// anyway).
    #[arg(long, env = "FIELDSYNC_CONSOLE_SECURE_COOKIES")]
    pub console_secure_cookies: bool,

    /// Serve `/metrics` (and the probes) on this address only, e.g. `127.0.0.1:9187`,
    /// instead of on `--listen`.
    #[arg(long, env = "FIELDSYNC_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,

    /// Seconds between SIGTERM and closing the listener, while `/readyz` answers 503 and
    /// requests are still served: time for a load balancer to stop sending new ones.
    #[arg(long, env = "FIELDSYNC_SHUTDOWN_DELAY_SECS", default_value_t = 0)]
    pub shutdown_delay_secs: u64,

    #[command(flatten)]
    pub limits: Limits,
}

/// Limits on what one request may carry; exceeding one gets a 4xx naming it.
#[derive(Debug, Clone, Args)]
pub struct Limits {
    /// Largest request body, after decompression, in bytes.
    #[arg(long, env = "FIELDSYNC_MAX_BODY_BYTES", default_value_t = 32 * 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Most changes one push may carry (a larger backlog is sent in several pushes).
    #[arg(long, env = "FIELDSYNC_MAX_CHANGES_PER_PUSH", default_value_t = 20_000)]
    pub max_changes_per_push: usize,

    /// Most bytes of changes in one response; a longer catch-up continues with `more`.
    #[arg(long, env = "FIELDSYNC_RESPONSE_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub response_bytes: usize,

    /// Longest a request may take, from its first byte to the answer, in seconds; a slower
    /// one gets a 408 and the device tries again later. Generous by default: a week's push
    /// over a poor 2G link takes well under a minute.
    #[arg(long, env = "FIELDSYNC_REQUEST_TIMEOUT_SECS", default_value_t = 120)]
    pub request_timeout_secs: u64,

    /// Most bytes of changes one document may hold; a push that would grow a document
    /// beyond it is refused for that document (`write_rule`, rule `quota`).
    #[arg(long, env = "FIELDSYNC_MAX_DOCUMENT_BYTES", default_value_t = DEFAULT_MAX_DOCUMENT_BYTES)]
    pub max_document_bytes: u64,

    /// Most bytes of changes one device may store per UTC day; a push beyond it gets a
    /// `429 quota` with `Retry-After` (until the next 00:00 UTC). Keep it at or above the
    /// body limit, so that any one push fits in a fresh day.
    #[arg(long, env = "FIELDSYNC_DEVICE_BYTES_PER_DAY", default_value_t = DEFAULT_DEVICE_BYTES_PER_DAY)]
    pub device_bytes_per_day: u64,

    /// Most connections open at once; one more is closed as it is accepted. By default the
    /// open-files limit (raised to its hard limit at start) less 256 for the database,
    /// logs and the metrics listener.
    #[arg(long, env = "FIELDSYNC_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,

    /// Seconds an HTTP/1 request's headers may take to arrive, counted from when the
    /// connection waits for its next request: so also how long an idle HTTP/1 keep-alive
    /// connection stays open.
    #[arg(long, env = "FIELDSYNC_HEADER_TIMEOUT_SECS", default_value_t = 10)]
    pub header_timeout_secs: u64,

    /// Seconds a connection with no request in flight may stay silent before it is closed
    /// (also a connection that never sends anything).
    #[arg(long, env = "FIELDSYNC_IDLE_TIMEOUT_SECS", default_value_t = 60)]
    pub idle_timeout_secs: u64,

    /// Most sync and enrollment requests answered at once; more get `429 busy` with
    /// `Retry-After: 1`. Probes and metrics are not counted.
    #[arg(long, env = "FIELDSYNC_MAX_REQUESTS_IN_FLIGHT", default_value_t = 512)]
    pub max_requests_in_flight: usize,

    /// Most bytes of request bodies (after decompression) held at once across all
    /// requests; a body that does not fit gets `429 busy`. Keep it well above
    /// `--max-body-bytes`.
    #[arg(long, env = "FIELDSYNC_BODY_BYTES_IN_FLIGHT", default_value_t = 256 * 1024 * 1024)]
    pub body_bytes_in_flight: usize,

    /// Requests one device may make a minute (also its burst); more get `429
    /// rate_limited` with `Retry-After`. 0: no limit.
    #[arg(
        long,
        env = "FIELDSYNC_DEVICE_REQUESTS_PER_MINUTE",
        default_value_t = 1_200
    )]
    pub device_requests_per_minute: u32,

    /// Enrollment attempts one source address may make a minute (bursts of 300); the
    /// server also takes at most 600 a minute overall and 10 an hour with one code.
    #[arg(
        long,
        env = "FIELDSYNC_ENROLL_PER_SOURCE_PER_MINUTE",
        default_value_t = 120
    )]
    pub enroll_per_source_per_minute: u32,

    /// Reverse proxies whose `X-Forwarded-For` names the client (comma-separated addresses
    /// or networks, like `127.0.0.1,10.0.0.0/8`); the per-source enrollment throttle and
    /// the logs then see the phone's address instead of the proxy's. Empty: none.
    #[arg(long, env = "FIELDSYNC_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: crate::forwarded::TrustedProxies,

    /// Days a device token lives. A sync with a token half that old gets a new one, so a
    /// device that syncs at least that often never sees its token expire; one that stays
    /// away longer must enroll again. 0: tokens never expire.
    #[arg(long, env = "FIELDSYNC_TOKEN_DAYS", default_value_t = 90)]
    pub token_days: u32,
}

/// 4 MiB. A full check of a shelf display (eight standards, four products) adds about
/// 400 bytes, so a display checked daily by its account manager, weekly by the market team
/// and monthly by a supervisor grows by about 170 kB a year; a visit is 1–2 kB.
const DEFAULT_MAX_DOCUMENT_BYTES: u64 = 4 * 1024 * 1024;
/// 32 MiB, the body limit. An account manager's day (eight visits, each with a display
/// check and a 30-line count) is about 45 kB of changes: this is years of work in one day,
/// and still a bound on a phone gone wrong.
const DEFAULT_DEVICE_BYTES_PER_DAY: u64 = 32 * 1024 * 1024;

impl Limits {
    /// The quotas a device's push is held to.
    pub fn quotas(&self) -> Quotas {
        Quotas {
            max_document_bytes: self.max_document_bytes,
            device_bytes_per_day: self.device_bytes_per_day,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 32 * 1024 * 1024,
            max_changes_per_push: 20_000,
            response_bytes: 4 * 1024 * 1024,
            request_timeout_secs: 120,
            max_document_bytes: DEFAULT_MAX_DOCUMENT_BYTES,
            device_bytes_per_day: DEFAULT_DEVICE_BYTES_PER_DAY,
            max_connections: None,
            header_timeout_secs: 10,
            idle_timeout_secs: 60,
            max_requests_in_flight: 512,
            body_bytes_in_flight: 256 * 1024 * 1024,
            device_requests_per_minute: 1_200,
            enroll_per_source_per_minute: 120,
            trusted_proxies: crate::forwarded::TrustedProxies::default(),
            token_days: 90,
        }
    }
}
