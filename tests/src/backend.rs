//! Which storage a test's server runs on: SQLite (the default) or PostgreSQL shared by
//! several instances.
//!
//! PostgreSQL tests need a cluster where they may create databases, named by
//! `FIELDSYNC_TEST_POSTGRES` (a `postgres://` URL). `scripts/test` starts a throwaway one
//! with `scripts/postgres` and sets it; without it these tests fail and say so, they never
//! skip. Each test gets a database of its own ([`TestDatabase`]), dropped when it ends.

use crate::server::{HarnessError, HarnessResult};

/// The variable naming the PostgreSQL cluster for tests.
pub const POSTGRES_ENV: &str = "FIELDSYNC_TEST_POSTGRES";

/// Where a test's server keeps its data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// One instance on its SQLite file.
    Sqlite,
    /// `instances` server instances on one PostgreSQL database.
    Postgres { instances: usize },
}

impl Backend {
    /// Two instances on one PostgreSQL database: the smallest scale-out.
    pub const POSTGRES_PAIR: Backend = Backend::Postgres { instances: 2 };

    pub fn instances(self) -> usize {
        match self {
            Backend::Sqlite => 1,
            Backend::Postgres { instances } => instances.max(1),
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Backend::Sqlite => f.write_str("sqlite"),
            Backend::Postgres { instances } => write!(f, "postgres ({instances} instances)"),
        }
    }
}

/// A database of its own on the test cluster, dropped (connections and all) on drop.
#[derive(Debug)]
pub struct TestDatabase {
    admin_url: String,
    name: String,
    url: String,
}

/// The URL of the test cluster, or why there is none.
pub fn cluster_url() -> HarnessResult<String> {
    std::env::var(POSTGRES_ENV).map_err(|_| {
        HarnessError(format!(
            "{POSTGRES_ENV} is not set: PostgreSQL tests need a cluster where they may create \
             databases. Run `scripts/test`, which starts a throwaway one (scripts/postgres), \
             or set {POSTGRES_ENV}=postgres://USER@127.0.0.1:PORT/postgres"
        ))
    })
}

/// `url` with its database replaced by `name`.
fn with_database(url: &str, name: &str) -> HarnessResult<String> {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let rest = base
        .split_once("://")
        .map(|(_, r)| r)
        .ok_or_else(|| HarnessError(format!("{POSTGRES_ENV} `{url}` is not a URL")))?;
    let host_end = rest.find('/').map(|i| base.len() - rest.len() + i);
    let head = match host_end {
        Some(i) => &base[..i],
        None => base,
    };
    Ok(match query {
        Some(q) => format!("{head}/{name}?{q}"),
        None => format!("{head}/{name}"),
    })
}

impl TestDatabase {
    /// Creates a fresh database named after `label` on the test cluster.
    pub fn create(label: &str) -> HarnessResult<TestDatabase> {
        TestDatabase::create_on(&cluster_url()?, label)
    }

    /// Creates a fresh database named after `label` on the cluster at `cluster` (a URL
    /// whose user may create databases).
    pub fn create_on(cluster: &str, label: &str) -> HarnessResult<TestDatabase> {
        let admin_url = cluster.to_owned();
        let clean: String = label
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .take(30)
            .collect();
        let name = format!("fs_{clean}_{:08x}", rand::random::<u32>());
        admin(&admin_url, &format!("CREATE DATABASE {name}"))?;
        let url = with_database(&admin_url, &name)?;
        Ok(TestDatabase {
            admin_url,
            name,
            url,
        })
    }

    /// The `postgres://` URL of this database.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let _ = admin(
            &self.admin_url,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

/// A throwaway cluster made by `scripts/postgres` (installing PostgreSQL when missing),
/// stopped and removed on drop: for benchmarks run outside `scripts/test`.
#[derive(Debug)]
pub struct ThrowawayCluster {
    dir: tempfile::TempDir,
    url: String,
}

fn postgres_script() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/postgres")
}

impl ThrowawayCluster {
    pub fn start() -> HarnessResult<ThrowawayCluster> {
        let dir = tempfile::Builder::new().prefix("fieldsync-pg-").tempdir()?;
        let output = std::process::Command::new("bash")
            .arg(postgres_script())
            .arg("start")
            .arg(dir.path())
            .stdin(std::process::Stdio::null())
            .output()?;
        if !output.status.success() {
            return Err(HarnessError(format!(
                "scripts/postgres start failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        let url = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        Ok(ThrowawayCluster { dir, url })
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for ThrowawayCluster {
    fn drop(&mut self) {
        let _ = std::process::Command::new("bash")
            .arg(postgres_script())
            .arg("stop")
            .arg(self.dir.path())
            .output();
    }
}

/// Runs one statement on the cluster, on a thread of its own (the blocking client must not
/// run on an async test's thread).
fn admin(url: &str, sql: &str) -> HarnessResult<()> {
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut client = postgres::Client::connect(url, postgres::NoTls).map_err(|e| {
                HarnessError(format!(
                    "cannot connect to the test cluster ({POSTGRES_ENV}): {e}"
                ))
            })?;
            client
                .batch_execute(sql)
                .map_err(|e| HarnessError(format!("`{sql}` on the test cluster: {e}")))
        })
        .join()
        .map_err(|_| HarnessError("a PostgreSQL statement panicked".into()))?
    })
}

/// Declares two tests running one async body `fn(Backend) -> TestResult`: `$sqlite` on
/// SQLite and `$postgres` on PostgreSQL with two instances (devices enrolled with either).
/// The caller's module must have a `TestResult` type in scope.
#[macro_export]
macro_rules! on_sqlite_and_postgres {
    ($body:ident: $sqlite:ident, $postgres:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $sqlite() -> TestResult {
            $body($crate::Backend::Sqlite).await
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $postgres() -> TestResult {
            $body($crate::Backend::POSTGRES_PAIR).await
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_url_keeps_its_user_host_port_and_options() {
        assert_eq!(
            with_database("postgres://fs@127.0.0.1:5433/postgres", "fs_x").ok(),
            Some("postgres://fs@127.0.0.1:5433/fs_x".to_owned())
        );
        assert_eq!(
            with_database("postgres://fs:pw@127.0.0.1:5433?sslmode=disable", "fs_x").ok(),
            Some("postgres://fs:pw@127.0.0.1:5433/fs_x?sslmode=disable".to_owned())
        );
    }
}
