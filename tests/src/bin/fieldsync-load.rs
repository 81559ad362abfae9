//! Load benchmark of the sync server: a district of account managers' phones syncing a day
//! of work against the real `fieldsync-server` (release) on 127.0.0.1.
//!
//! ```text
//! cargo run --release -p fieldsync-tests --bin fieldsync-load -- [--quick] [--json PATH]
//!     [--devices N] [--stores N] [--spread-secs S] [--seed N]
//!     [--backends sqlite,postgres,postgres2] [--postgres URL]
//! ```
//!
//! `--backends` runs the whole benchmark once per storage, one after the other, and prints
//! them side by side: `sqlite` (one instance, the default), `postgres` (one instance on
//! PostgreSQL), `postgres2` (two instances on one PostgreSQL database, the phones split
//! between them). PostgreSQL runs use a fresh database on the cluster at `--postgres` (or
//! `FIELDSYNC_TEST_POSTGRES`), or on a throwaway cluster made with `scripts/postgres` when
//! neither is given. With more than one backend every figure is prefixed by its backend.
//!
//! Full run: 200 account managers with 20 stores each (4,000 stores, seeded through the
//! server's admin device before it starts), one phone each. Phases:
//! 1. enrollment and first sync: every phone pulls its scope (its 20 stores), all at once;
//! 2. burst: every phone has recorded a day (8 visits, each with a shelf-display check and
//!    a 30-line inventory count: `fieldsync_tests::field_day`, built before the clock
//!    starts) and all sync at the same moment: push the day, pull their scope's news;
//! 3. spread: a second day, with the phones arriving at random moments over `S` seconds
//!    (60 in a full run, 5 with `--quick`, which also uses 40 phones);
//! 4. idle sync: every phone syncs once more with nothing to push and nothing new in its
//!    scope, all at once; and how far behind the end of the log their cursors are.
//!
//! Printed: changes applied per second, p50/p99 of a phone's sync (from its first request
//! to an empty outbox and feed, including its local store work), and the server's peak
//! memory (`VmHWM` of the child process). `--json PATH` writes
//! `{"figures": {"<name>": {"value": n, "unit": "..."}}, "config": {...}}`.
//!
//! The phones run in this process, on the same cores as the server: on a small machine
//! the figures include that contention. Their stores live in `/dev/shm` when it exists (a
//! phone's fsyncs are not what is measured); the server's data folder is on the disk of the
//! system's temporary folder, with its usual `synchronous=FULL`. Build with `--release`: a debug build says so and
//! measures mostly itself.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use fieldsync_core::protocol::FeedCursor;
use fieldsync_core::{DeviceIdentity, DocId, LocalStore, Role, StoreOptions};
use fieldsync_tests::backend::{POSTGRES_ENV, ThrowawayCluster};
use fieldsync_tests::field_day::{DayPlan, record_day};
use fieldsync_tests::phone::{Phone, http_client, phones_dir};
use fieldsync_tests::{Backend, Seed, ServerDb, ServerProcess, TestDatabase};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Clone, Debug)]
struct Config {
    quick: bool,
    devices: usize,
    stores: u32,
    spread_secs: u64,
    seed: u64,
    json: Option<PathBuf>,
    plan: DayPlan,
    backends: Vec<(&'static str, Backend)>,
    postgres: Option<String>,
}

const USAGE: &str = "usage: fieldsync-load [--quick] [--json PATH] [--devices N] [--stores N] \
                     [--spread-secs S] [--seed N] [--backends sqlite,postgres,postgres2] \
                     [--postgres URL]";

fn parse_backends(list: &str) -> Result<Vec<(&'static str, Backend)>, String> {
    list.split(',')
        .map(|name| match name.trim() {
            "sqlite" => Ok(("sqlite", Backend::Sqlite)),
            "postgres" => Ok(("postgres", Backend::Postgres { instances: 1 })),
            "postgres2" => Ok(("postgres2", Backend::POSTGRES_PAIR)),
            other => Err(format!(
                "`--backends` knows sqlite, postgres and postgres2, not `{other}`"
            )),
        })
        .collect()
}

fn parse_args() -> Result<Config, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let mut config = Config {
        quick,
        devices: if quick { 40 } else { 200 },
        stores: 20,
        spread_secs: if quick { 5 } else { 60 },
        seed: 7,
        json: None,
        plan: DayPlan::default(),
        backends: vec![("sqlite", Backend::Sqlite)],
        postgres: std::env::var(POSTGRES_ENV).ok(),
    };
    let mut it = args.iter();
    // Bounded by the argument list.
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("`{name}` needs a value\n{USAGE}"))
        };
        let number = |name: &str, text: String| {
            text.parse::<u64>()
                .map_err(|_| format!("`{name}` wants a number, not `{text}`"))
        };
        match arg.as_str() {
            "--quick" => {}
            "--json" => config.json = Some(PathBuf::from(value("--json")?)),
            "--devices" => config.devices = number(arg, value(arg)?)? as usize,
            "--stores" => config.stores = number(arg, value(arg)?)? as u32,
            "--spread-secs" => config.spread_secs = number(arg, value(arg)?)?,
            "--seed" => config.seed = number(arg, value(arg)?)?,
            "--backends" => config.backends = parse_backends(&value(arg)?)?,
            "--postgres" => config.postgres = Some(value(arg)?),
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    if config.devices == 0 || config.stores == 0 {
        return Err("`--devices` and `--stores` must be at least 1".into());
    }
    Ok(config)
}

/// Figures by name, as printed and written; names get `prefix` (the backend's, when
/// several are compared).
#[derive(Debug, Default)]
struct Figures {
    values: BTreeMap<String, (f64, &'static str)>,
    prefix: String,
}

impl Figures {
    fn add(&mut self, name: &str, value: f64, unit: &'static str) {
        let name = format!("{}{name}", self.prefix);
        println!("  {name:<44} {value:>12.1} {unit}");
        self.values.insert(name, (value, unit));
    }

    fn get(&self, name: &str) -> Option<f64> {
        self.values.get(name).map(|(v, _)| *v)
    }

    fn json(&self, config: &Config, load: (String, String)) -> serde_json::Value {
        let figures: serde_json::Map<String, serde_json::Value> = self
            .values
            .iter()
            .map(|(name, (value, unit))| {
                (
                    name.clone(),
                    serde_json::json!({ "value": (value * 1000.0).round() / 1000.0, "unit": unit }),
                )
            })
            .collect();
        serde_json::json!({
            "figures": figures,
            "config": {
                "quick": config.quick,
                "devices": config.devices,
                "stores_per_device": config.stores,
                "visits_per_day": config.plan.visits,
                "count_lines": config.plan.count_lines,
                "spread_secs": config.spread_secs,
                "seed": config.seed,
                "backends": config.backends.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
                "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
                "release": !cfg!(debug_assertions),
                "loadavg_before": load.0,
                "loadavg_after": load.1,
            }
        })
    }
}

/// The 1, 5 and 15 minute load averages (Linux), to judge how busy the machine was.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Nearest-rank percentile of durations, in milliseconds.
fn percentile_ms(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1000.0
}

/// One phone's sync in a phase: how long it took and what it pushed.
#[derive(Debug, Clone, Copy)]
struct Timed {
    took: Duration,
    pushed_changes: usize,
    pushed_bytes: usize,
    pulled_changes: usize,
    round_trips: usize,
}

/// Runs every phone's sync, each after its delay (all at once when every delay is zero).
async fn sync_all(
    phones: &[Phone],
    delays: &[Duration],
) -> Result<(Vec<Timed>, Duration), BoxError> {
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(phones.len());
    for (phone, delay) in phones.iter().zip(delays) {
        let (phone, delay) = (phone.clone(), *delay);
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until((start + delay).into()).await;
            let began = Instant::now();
            let rounds = phone.sync_until_idle(1_000).await?;
            Ok::<Timed, BoxError>(Timed {
                took: began.elapsed(),
                pushed_changes: rounds.iter().map(|r| r.acknowledged.len()).sum(),
                pushed_bytes: rounds.iter().map(|r| r.request_bytes).sum(),
                pulled_changes: rounds.iter().map(|r| r.pulled.len()).sum(),
                round_trips: rounds.len(),
            })
        }));
    }
    let mut timed = Vec::with_capacity(tasks.len());
    for task in tasks {
        timed.push(task.await??);
    }
    Ok((timed, start.elapsed()))
}

/// The cursor of the last row of the server's log.
fn log_end(db: &ServerDb) -> Result<i64, BoxError> {
    Ok(db
        .rows("SELECT COALESCE(MAX(seq), 0) FROM log", &[])?
        .first()
        .and_then(|r| r.first())
        .and_then(|v| v.int())
        .unwrap_or(0))
}

/// The median distance, in log positions, between the phones' stored cursors and the end
/// of the server's log: how much of the log each of their syncs reads again.
fn cursor_lag(db: &ServerDb, phones: &[Phone]) -> Result<i64, BoxError> {
    let end = log_end(db)?;
    let mut lags = Vec::with_capacity(phones.len());
    for phone in phones {
        let cursor = FeedCursor::parse(phone.local().sync_cursor()?.as_deref())?.position();
        lags.push(end - i64::try_from(cursor)?);
    }
    lags.sort_unstable();
    Ok(lags.get(lags.len() / 2).copied().unwrap_or(0))
}

/// Reads, through the server's storage library and outside any request, the feed of up to
/// 20 phones at their stored cursors and at the end of the log (both return nothing new);
/// the medians, in ms. The difference is the cost of the lag measured by [`cursor_lag`].
fn feed_probe(db: &ServerDb, phones: &[Phone]) -> Result<(f64, f64), BoxError> {
    use fieldsync_server::storage::{DeviceInfo, SyncStorage};
    let storage: Box<dyn SyncStorage> = match db {
        ServerDb::Sqlite(path) => Box::new(fieldsync_server::SqliteStorage::open(path)?),
        ServerDb::Postgres(url) => Box::new(fieldsync_server::PostgresStorage::open(
            url,
            fieldsync_server::PostgresOptions::default(),
        )?),
    };
    let end = u64::try_from(log_end(db)?)?;
    let (mut at_cursor, mut at_end) = (Vec::new(), Vec::new());
    for phone in phones.iter().take(20) {
        let device = DeviceInfo {
            device_id: phone.device_id.clone(),
            user_id: phone.user.clone(),
            role: Role::AccountManager,
        };
        let cursor = FeedCursor::parse(phone.local().sync_cursor()?.as_deref())?;
        for (at, into) in [
            (cursor, &mut at_cursor),
            (FeedCursor::Log(end), &mut at_end),
        ] {
            let began = Instant::now();
            storage.feed(&device, &at, 4 * 1024 * 1024, &Default::default())?;
            into.push(began.elapsed());
        }
    }
    at_cursor.sort();
    at_end.sort();
    Ok((percentile_ms(&at_cursor, 0.5), percentile_ms(&at_end, 0.5)))
}

/// Records day `day` on every phone, in parallel on the blocking pool.
async fn record_days(
    phones: &[Phone],
    stores: &[Vec<DocId>],
    day: usize,
    plan: DayPlan,
) -> Result<usize, BoxError> {
    let mut tasks = Vec::new();
    for (phone, stores) in phones.iter().zip(stores) {
        let (phone, stores) = (phone.clone(), stores.clone());
        tasks.push(tokio::spawn(async move {
            phone
                .with_local(move |local| record_day(local, &stores, day, plan))
                .await
        }));
    }
    let mut edits = 0;
    for task in tasks {
        edits += task.await??.edits;
    }
    Ok(edits)
}

fn report_phase(figures: &mut Figures, name: &str, timed: &[Timed], wall: Duration) {
    let mut took: Vec<Duration> = timed.iter().map(|t| t.took).collect();
    took.sort();
    let pushed: usize = timed.iter().map(|t| t.pushed_changes).sum();
    let pulled: usize = timed.iter().map(|t| t.pulled_changes).sum();
    let trips: usize = timed.iter().map(|t| t.round_trips).sum();
    println!(
        "{name}: {} phones, {pushed} changes pushed, {pulled} pulled, {trips} round trips, {:.2} s",
        timed.len(),
        wall.as_secs_f64()
    );
    if pushed > 0 {
        figures.add(
            &format!("{name}_changes_applied_per_s"),
            pushed as f64 / wall.as_secs_f64(),
            "changes/s",
        );
    }
    if pulled > 0 {
        figures.add(
            &format!("{name}_changes_pulled_per_s"),
            pulled as f64 / wall.as_secs_f64(),
            "changes/s",
        );
    }
    figures.add(
        &format!("{name}_sync_p50"),
        percentile_ms(&took, 0.50),
        "ms",
    );
    figures.add(
        &format!("{name}_sync_p99"),
        percentile_ms(&took, 0.99),
        "ms",
    );
    figures.add(&format!("{name}_wall"), wall.as_secs_f64(), "s");
}

async fn run(
    config: &Config,
    (name, backend): (&'static str, Backend),
    cluster: Option<&str>,
) -> Result<Figures, BoxError> {
    let mut figures = Figures {
        prefix: if config.backends.len() > 1 {
            format!("{name}_")
        } else {
            String::new()
        },
        ..Figures::default()
    };
    println!("== {name} ({backend})");
    let database = match (backend, cluster) {
        (Backend::Sqlite, _) => None,
        (Backend::Postgres { .. }, Some(cluster)) => {
            Some(TestDatabase::create_on(cluster, "load")?)
        }
        (Backend::Postgres { .. }, None) => return Err("no PostgreSQL cluster for this run".into()),
    };
    let url = database.as_ref().map(TestDatabase::url);
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("server");
    // Phones' stores on /dev/shm when possible: their fsyncs are not what is measured.
    let phone_dir = phones_dir()?;
    let users: Vec<String> = (0..config.devices).map(|i| format!("am-{i:04}")).collect();

    println!(
        "seeding {} account managers with {} stores each ...",
        config.devices, config.stores
    );
    let seeding = Instant::now();
    let (stores, codes) = {
        let seed = Seed::open_on(&data, url)?;
        for u in &users {
            seed.add_user(u, Role::AccountManager)?;
        }
        let territories: Vec<&str> = users.iter().map(String::as_str).collect();
        let stores = seed.add_stores(&territories, config.stores)?;
        let codes = users
            .iter()
            .map(|u| seed.enrollment_code(u))
            .collect::<Result<Vec<_>, _>>()?;
        (stores, codes)
    };
    figures.add(
        "seed_stores_per_s",
        (config.devices as f64 * f64::from(config.stores)) / seeding.elapsed().as_secs_f64(),
        "stores/s",
    );

    let servers = (0..backend.instances())
        .map(|i| {
            let folder = if i == 0 {
                data.clone()
            } else {
                data.join(format!("instance-{i}"))
            };
            ServerProcess::start_on(&folder, url)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let bases: Vec<String> = servers.iter().map(ServerProcess::base_url).collect();
    for server in &servers {
        println!("server pid {:?} on {}", server.pid(), server.base_url());
    }
    let mut phones = Vec::with_capacity(config.devices);
    for (i, (user, code)) in users.iter().zip(&codes).enumerate() {
        let name = format!("phone-{i:04}");
        let local = LocalStore::open(
            phone_dir.path().join(format!("{name}.db")),
            DeviceIdentity::new(user.as_str(), name.as_str()),
            StoreOptions::default(),
        )?;
        // One client each: every phone has its own connection, as in the field.
        let http = http_client(Duration::from_secs(120))?;
        let base = &bases[i % bases.len()];
        phones.push(Phone::enroll(&http, base, code, &name, local).await?);
    }

    let no_delay = vec![Duration::ZERO; phones.len()];
    let (timed, wall) = logged(&servers, sync_all(&phones, &no_delay).await)?;
    report_phase(&mut figures, "first_pull", &timed, wall);

    let building = Instant::now();
    let edits = record_days(&phones, &stores, 0, config.plan).await?;
    println!(
        "day 1 recorded on the phones: {edits} edits in {:.1} s (not timed below)",
        building.elapsed().as_secs_f64()
    );
    let (timed, wall) = logged(&servers, sync_all(&phones, &no_delay).await)?;
    report_phase(&mut figures, "burst", &timed, wall);
    let per_device = timed.iter().map(|t| t.pushed_changes).sum::<usize>() / timed.len().max(1);
    let bytes = timed.iter().map(|t| t.pushed_bytes).sum::<usize>() / timed.len().max(1);
    figures.add("changes_per_device_day", per_device as f64, "changes");
    figures.add("push_kib_per_device_day", bytes as f64 / 1024.0, "KiB");
    if let Some(mib) = peak_memory_mib(&servers) {
        figures.add("server_peak_rss_after_burst", mib, "MiB");
    }

    record_days(&phones, &stores, 1, config.plan).await?;
    let mut rng = StdRng::seed_from_u64(config.seed);
    let spread_ms = config.spread_secs.saturating_mul(1000).max(1);
    let delays: Vec<Duration> = phones
        .iter()
        .map(|_| Duration::from_millis(rng.random_range(0..spread_ms)))
        .collect();
    println!("day 2: arrivals spread over {} s ...", config.spread_secs);
    let (timed, wall) = logged(&servers, sync_all(&phones, &delays).await)?;
    report_phase(&mut figures, "spread", &timed, wall);
    // A sync with nothing to push and nothing new in scope, all phones at once: what an
    // idle phone's periodic sync costs once the district's log has grown.
    let (timed, wall) = logged(&servers, sync_all(&phones, &no_delay).await)?;
    report_phase(&mut figures, "idle", &timed, wall);
    let db = servers[0].database();
    let lag = cursor_lag(&db, &phones)?;
    figures.add("cursor_lag_rows_p50", lag as f64, "log rows");
    let (at_cursor, at_end) = feed_probe(&db, &phones)?;
    figures.add("feed_read_at_stored_cursor_p50", at_cursor, "ms");
    figures.add("feed_read_at_log_end_p50", at_end, "ms");
    if let Some(mib) = peak_memory_mib(&servers) {
        figures.add("server_peak_rss", mib, "MiB");
    }
    let db_bytes = match &db {
        ServerDb::Sqlite(file) => {
            std::fs::metadata(file).map(|m| m.len()).unwrap_or(0)
                + std::fs::metadata(file.with_extension("db-wal"))
                    .map(|m| m.len())
                    .unwrap_or(0)
        }
        ServerDb::Postgres(_) => db
            .rows("SELECT pg_database_size(current_database())", &[])?
            .first()
            .and_then(|r| r.first())
            .and_then(|v| v.int())
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(0),
    };
    figures.add("server_db_size", db_bytes as f64 / (1024.0 * 1024.0), "MiB");
    drop(servers);
    Ok(figures)
}

/// The largest peak memory of the instances (PostgreSQL's own memory is not counted).
/// `result`, after printing the servers' recent log lines when it is an error (a phone
/// sees only "internal error"; the cause is in the server's log).
fn logged<T, E: std::fmt::Display>(
    servers: &[ServerProcess],
    result: Result<T, E>,
) -> Result<T, E> {
    if let Err(e) = &result {
        eprintln!("a sync failed: {e}; the servers' recent log:");
        for server in servers {
            for line in server.recent_log() {
                eprintln!("  {line}");
            }
        }
    }
    result
}

fn peak_memory_mib(servers: &[ServerProcess]) -> Option<f64> {
    servers
        .iter()
        .filter_map(ServerProcess::peak_memory_kib)
        .max()
        .map(|kib| kib as f64 / 1024.0)
}

/// Runs every backend asked for and prints them side by side.
async fn run_all(config: &Config) -> Result<Figures, BoxError> {
    let needs_postgres = config
        .backends
        .iter()
        .any(|(_, b)| matches!(b, Backend::Postgres { .. }));
    let throwaway = match (&config.postgres, needs_postgres) {
        (None, true) => {
            println!("no --postgres or {POSTGRES_ENV}: starting a throwaway cluster");
            Some(ThrowawayCluster::start()?)
        }
        _ => None,
    };
    let cluster = config
        .postgres
        .as_deref()
        .or(throwaway.as_ref().map(ThrowawayCluster::url));
    let mut all = Figures::default();
    for backend in &config.backends {
        let figures = run(config, *backend, cluster).await?;
        all.values.extend(figures.values);
    }
    if config.backends.len() > 1 {
        println!("\nside by side:");
        println!(
            "  {:<10} {:>18} {:>16} {:>16} {:>14}",
            "backend", "burst changes/s", "burst p99 ms", "spread p99 ms", "server MiB"
        );
        for (name, _) in &config.backends {
            let get = |f: &str| {
                all.get(&format!("{name}_{f}"))
                    .map(|v| format!("{v:.0}"))
                    .unwrap_or_else(|| "-".into())
            };
            println!(
                "  {name:<10} {:>18} {:>16} {:>16} {:>14}",
                get("burst_changes_applied_per_s"),
                get("burst_sync_p99"),
                get("spread_sync_p99"),
                get("server_peak_rss"),
            );
        }
    }
    Ok(all)
}

fn main() -> ExitCode {
    let config = match parse_args() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if cfg!(debug_assertions) {
        eprintln!("warning: a debug build measures mostly itself; run with `cargo run --release`");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(1024)
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start tokio: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "fieldsync-load{}: {} phones, {} stores each, {} visits a day with {}-line counts",
        if config.quick { " --quick" } else { "" },
        config.devices,
        config.stores,
        config.plan.visits,
        config.plan.count_lines
    );
    let before = load_average();
    println!("load average before: {before}");
    let figures = match runtime.block_on(run_all(&config)) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("load run failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    let after = load_average();
    println!("load average after: {after} (other work on the machine skews the figures)");
    if let Some(path) = &config.json {
        let text = match serde_json::to_string_pretty(&figures.json(&config, (before, after))) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("cannot encode the figures: {e}");
                return ExitCode::FAILURE;
            }
        };
        if let Err(e) = std::fs::write(path, text + "\n") {
            eprintln!("cannot write `{}`: {e}", path.display());
            return ExitCode::FAILURE;
        }
        println!("figures written to {}", path.display());
    }
    ExitCode::SUCCESS
}
