//! The issue 17 district benchmark: 20 account managers × 200 stores with a year of visits,
//! display checks and inventory counts, on SQLite and on PostgreSQL. It measures the
//! console's server time for the overview and for a store page (p50 / p99 over 50 loads
//! each), and what a push of a week offline costs while the console is being read.
//!
//! ```text
//! cargo run --release -p fieldsync-server --example district_bench -- \
//!     [--postgres postgres://USER@127.0.0.1:PORT/postgres] [--json FILE] [--quick]
//!     [--managers 20] [--stores 200] [--days 365] [--visits-per-month 2] [--loads 50]
//!     [--weeks 3] [--no-sqlite] [--keep DIR]
//! ```
//!
//! How the district is made: through the real write path, as fast as it honestly goes.
//! Stores come from a CSV through `import_stores` (the admin device, pushed). Each account
//! manager has a phone (a core `LocalStore` with a clock set to each moment) that records
//! its year in time order: every store visited `--visits-per-month` times a month on
//! working days (check-in and check-out with GPS, and a display check of the store's shelf
//! display on each visit), and a monthly count of 5 lines in each functional terminal
//! (about one store in eight). The phone saves a week in one local transaction (one wait
//! for its disk instead of hundreds: the same documents and changes) and pushes that week
//! through the server's push (`admin::push_from`: parsing, actor binding, write rules,
//! storage), received at the week's end. With `--postgres CLUSTER` a fresh database is
//! created on the cluster and dropped afterwards. With `--keep DIR` the district is seeded
//! once into DIR (SQLite's file, the phones, the console's replica; the PostgreSQL
//! database is kept and named there) and later runs measure it again without seeding
//! (each run's weeks offline add their visits to the same past weeks).
//!
//! Server time is what the console's routes do for a page without the HTTP layer: the
//! replica's pull of what is new (nothing, between loads) then the rule queries and the
//! HTML. The overview is computed every time (the routes reuse one for up to 30 s while
//! the log has not moved; that cache is left out here).
//!
//! The week offline: one account manager's 5 days × 12 visits (with display checks), and
//! 10 older visits' notes, pushed in one go; `--weeks N` rounds of three such weeks, one
//! with the console idle, one while another thread loads overviews without pause at the
//! default CPU priority, one while it does so at the console's own (lower) priority, as
//! the server's console threads run (`console::background`): see `weeks.rs`. The console
//! adds nothing to a push by design (it reads the feed like a phone), so the ratio is
//! contention for the machine and the database; each push's CPU time is reported beside
//! its wall time, and the machine's load before and after. Each push is timed whole (the
//! phone's part too: reading its outbox, confirming what was stored) and the server's
//! part apart (`SyncStorage::push`), the part a busy console could slow in the field. The
//! replica's catch-up on the next page is reported too.

use std::path::Path;
use std::time::{Duration, Instant};

use fieldsync_core::{DocKind, PriceTagsOverTime, Role, Timestamp};
use fieldsync_server::console::i18n::Lang;
use fieldsync_server::console::manager_figures::ManagerCache;
use fieldsync_server::console::overview::{Overview, options_for};
use fieldsync_server::console::overview_page::render;
use fieldsync_server::console::replica::Replica;
use fieldsync_server::console::store_page;
use fieldsync_server::storage::{SyncStorage, User};
use fieldsync_server::{PostgresOptions, PostgresStorage, SqliteStorage};

// What the district benchmarks share; this one makes its own database (it may keep it).
#[path = "../district/bench.rs"]
#[allow(dead_code)]
mod bench;
mod seed;
mod weeks;

use bench::{Timing, arg, database_url, median, number, timing};

use seed::{Dice, Seeded, manager_id, phone};

type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

const DAY_MS: i64 = 86_400_000;

#[derive(Clone, Debug)]
struct Plan {
    managers: usize,
    stores: usize,
    days: i64,
    visits_per_month: usize,
    loads: usize,
    weeks_measured: usize,
}

#[derive(Debug, serde::Serialize)]
struct Figures {
    backend: String,
    managers: usize,
    stores: usize,
    days: i64,
    visits: usize,
    counts: usize,
    documents: usize,
    seed_seconds: f64,
    seed_push_seconds: f64,
    replica_first_pull_seconds: f64,
    overview: Timing,
    /// The overview without any account manager's part (district-wide figures only).
    overview_district_part: Timing,
    overview_bytes: usize,
    store_page: Timing,
    store_page_visits: usize,
    /// The week offline pushed with the console loading overviews (at its own priority)
    /// against the console idle: the ratio of the medians.
    week_offline_ratio: f64,
    /// The same with the overviews loaded at the default priority.
    week_offline_ratio_default_priority: f64,
    /// [`Figures::week_offline_ratio`] of the server's part of each push alone (what a
    /// phone waits for on the server; the phone's part runs on the phone in the field).
    week_offline_server_ratio: f64,
    week_offline_server_ratio_default_priority: f64,
    weeks: weeks::Weeks,
    console_catch_up_after_a_week_ms: f64,
}

/// One overview: the replica's pull, the figures, the HTML; with `kept`, each account
/// manager's part is taken from it while nothing new counts for them (as the console's
/// route does), else computed afresh. Returns the HTML's size.
fn overview_once(
    replica: &Replica,
    storage: &dyn SyncStorage,
    memo: &std::sync::Mutex<PriceTagsOverTime>,
    kept: Option<&ManagerCache>,
) -> Fallible<usize> {
    let started = Instant::now();
    let html = replica.with_versions(storage, |local, versions| {
        // The monthly minimum of visits per store the console's routes use by default.
        let options = options_for(None, 4, local.calendar())?;
        let mut memo = memo.lock().unwrap_or_else(|p| p.into_inner());
        let users = storage.users()?;
        let overview = match kept {
            Some(kept) => {
                Overview::compute_reusing(local, users, options, &mut memo, (versions, kept))?
            }
            None => Overview::compute(local, users, options, &mut memo)?,
        };
        Ok(render(Lang::Zh, &overview, started.elapsed()))
    })?;
    Ok(html.len())
}

/// The first day after `start` free for the weeks offline: two weeks after the year on a
/// new district; on a kept one, the Monday-aligned week after the phone's last visit (its
/// displays were checked then: an edit dated before what it builds on is refused), which
/// may be in the future.
fn first_free_day(li: &seed::Phone, start: Timestamp, plan: &Plan) -> Fallible<i64> {
    let mut last = start.0;
    for store in &li.stores {
        if let Some(id) = li.local.visits_of_store(&store.id)?.first() {
            last = last.max(li.local.visit(id)?.check_in.at.0);
        }
    }
    let after_year = plan.days + 14;
    let after_last = (last - start.0) / DAY_MS / 7 * 7 + 7;
    Ok(after_year.max(after_last))
}

/// A district seeded earlier in a `--keep` folder: when its year began and what was made.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Kept {
    managers: usize,
    stores: usize,
    days: i64,
    start_ms: i64,
    visits: usize,
    counts: usize,
    seed_seconds: f64,
    seed_push_seconds: f64,
}

const KEPT: &str = "district.json";

fn run(backend: &str, storage: &dyn SyncStorage, dir: &Path, plan: &Plan) -> Fallible<Figures> {
    let mut dice = Dice(20_261_205);
    let kept: Option<Kept> = match std::fs::read(dir.join(KEPT)) {
        Ok(bytes) => Some(serde_json::from_slice(&bytes)?),
        Err(_) => None,
    };
    let (start, seeded, seed_seconds, li) = match kept {
        Some(k) => {
            if (k.managers, k.stores, k.days) != (plan.managers, plan.stores, plan.days) {
                return Err(format!("the kept district is another size: {k:?}").into());
            }
            println!("{backend}: the district kept in {} ({k:?})", dir.display());
            let start = Timestamp(k.start_ms);
            let seeded = Seeded {
                visits: k.visits,
                counts: k.counts,
                took: Duration::from_secs_f64(k.seed_seconds),
                push_took: Duration::from_secs_f64(k.seed_push_seconds),
            };
            let li = phone(dir, storage, &manager_id(0), start, false)?;
            (start, seeded, k.seed_seconds, li)
        }
        None => {
            let (start, seeded, li) = seed::seed(backend, storage, dir, plan, &mut dice)?;
            let seed_seconds = seeded.took.as_secs_f64();
            let kept = Kept {
                managers: plan.managers,
                stores: plan.stores,
                days: plan.days,
                start_ms: start.0,
                visits: seeded.visits,
                counts: seeded.counts,
                seed_seconds,
                seed_push_seconds: seeded.push_took.as_secs_f64(),
            };
            std::fs::write(dir.join(KEPT), serde_json::to_vec_pretty(&kept)?)?;
            (start, seeded, seed_seconds, li)
        }
    };
    let documents = storage.documents()?.len();
    println!(
        "{backend}: district seeded in {seed_seconds:.0} s ({} visits, {} counts, {documents} documents; pushes {:.0} s)",
        seeded.visits,
        seeded.counts,
        seeded.push_took.as_secs_f64()
    );

    let replica = Replica::new(dir);
    let started = Instant::now();
    replica.warm(storage)?;
    let replica_first_pull_seconds = started.elapsed().as_secs_f64();
    println!("{backend}: the console replica's first pull: {replica_first_pull_seconds:.0} s");

    // The first overview reads R2's past displays for the violations chart; the console
    // keeps those readings, so later overviews read only displays changed since.
    let memo = std::sync::Mutex::new(PriceTagsOverTime::default());
    let started = Instant::now();
    overview_once(&replica, storage, &memo, None)?;
    let first_overview_ms = started.elapsed().as_secs_f64() * 1000.0;
    println!(
        "{backend}: the first overview (R2's past readings: {}): {first_overview_ms:.0} ms",
        memo.lock().map(|m| m.past_reads).unwrap_or(0)
    );
    let mut times = Vec::new();
    let mut overview_bytes = 0;
    for _ in 0..plan.loads {
        let started = Instant::now();
        overview_bytes = overview_once(&replica, storage, &memo, None)?;
        times.push(started.elapsed());
    }
    let overview = timing(times);
    // Of which the district-wide part: the same overview with no account manager's part.
    let mut times = Vec::new();
    for _ in 0..plan.loads.min(10) {
        let started = Instant::now();
        replica.with(storage, |local| {
            let options = options_for(None, 4, local.calendar())?;
            let mut memo = memo.lock().unwrap_or_else(|p| p.into_inner());
            let users: Vec<User> = storage
                .users()?
                .into_iter()
                .filter(|u| u.role != Role::AccountManager)
                .collect();
            Overview::compute(local, users, options, &mut memo).map(|_| ())
        })?;
        times.push(started.elapsed());
    }
    let district_part = timing(times);
    println!(
        "{backend}: the overview's district-wide part (no manager's figures): p50 {:.1} ms",
        district_part.p50_ms
    );
    println!(
        "{backend}: overview ({overview_bytes} bytes): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {}",
        overview.p50_ms, overview.p99_ms, overview.max_ms, overview.loads
    );
    let (store, store_page_visits) = replica.with(storage, |local| {
        let mut best = (None, 0);
        for id in local.document_ids(DocKind::Store)? {
            let n = local.visits_of_store(&id)?.len();
            if n >= best.1 {
                best = (Some(id), n);
            }
        }
        Ok(best)
    })?;
    let store = store.ok_or("no store")?;
    let mut times = Vec::new();
    for _ in 0..plan.loads {
        let started = Instant::now();
        replica.with(storage, |local| {
            store_page::render(local, Lang::Zh, &store, None)
        })?;
        times.push(started.elapsed());
    }
    let store_page = timing(times);
    println!(
        "{backend}: store page ({store_page_visits} visits): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {}",
        store_page.p50_ms, store_page.p99_ms, store_page.max_ms, store_page.loads
    );

    // Weeks offline: the console idle, busy at the default priority, busy at its own.
    let weeks = weeks::measure(
        storage,
        &replica,
        &memo,
        &li,
        (start, first_free_day(&li, start, plan)?),
        plan.weeks_measured,
        &mut dice,
    )?;
    let ratio = weeks.busy_console_priority.median_ms() / weeks.idle.median_ms();
    let ratio_default = weeks.busy_default_priority.median_ms() / weeks.idle.median_ms();
    let server_ratio =
        weeks.busy_console_priority.server_median_ms() / weeks.idle.server_median_ms();
    let server_ratio_default =
        weeks.busy_default_priority.server_median_ms() / weeks.idle.server_median_ms();
    println!(
        "{backend}: a week offline (60 visits with display checks, 10 older edits) pushed, load {} before and {} after:\n  console idle: {}\n  console loading overviews at the default priority: {}: {ratio_default:.2}x (the server's part {server_ratio_default:.2}x)\n  console loading overviews at its own priority: {}: {ratio:.2}x (the server's part {server_ratio:.2}x)\n  the next overview (its replica catching up): median {:.0} ms",
        weeks.load_before,
        weeks.load_after,
        weeks.idle.describe(),
        weeks.busy_default_priority.describe(),
        weeks.busy_console_priority.describe(),
        median(&weeks.catch_up_ms)
    );
    Ok(Figures {
        backend: backend.into(),
        managers: plan.managers,
        stores: plan.stores,
        days: plan.days,
        visits: seeded.visits,
        counts: seeded.counts,
        documents,
        seed_seconds,
        seed_push_seconds: seeded.push_took.as_secs_f64(),
        replica_first_pull_seconds,
        overview,
        overview_district_part: district_part,
        overview_bytes,
        store_page,
        store_page_visits,
        week_offline_ratio: ratio,
        week_offline_ratio_default_priority: ratio_default,
        week_offline_server_ratio: server_ratio,
        week_offline_server_ratio_default_priority: server_ratio_default,
        console_catch_up_after_a_week_ms: median(&weeks.catch_up_ms),
        weeks,
    })
}

fn main() -> Fallible<()> {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let plan = Plan {
        managers: number(&args, "--managers", if quick { 2 } else { 20 })?,
        stores: number(&args, "--stores", if quick { 10 } else { 200 })?,
        days: number(&args, "--days", if quick { 28 } else { 365 })?,
        visits_per_month: number(&args, "--visits-per-month", 2)?,
        loads: number(&args, "--loads", if quick { 5 } else { 50 })?,
        weeks_measured: number(&args, "--weeks", if quick { 1 } else { 3 })?,
    };
    println!("district: {plan:?}");
    // `--keep DIR`: the district is seeded into DIR (a PostgreSQL database of its own,
    // named in DIR) the first time and measured again from there on later runs.
    let keep = arg(&args, "--keep").map(std::path::PathBuf::from);
    let folder = |backend: &str| -> Fallible<(Option<tempfile::TempDir>, std::path::PathBuf)> {
        match &keep {
            Some(k) => {
                let dir = k.join(backend);
                std::fs::create_dir_all(&dir)?;
                Ok((None, dir))
            }
            None => {
                let dir = tempfile::tempdir()?;
                let path = dir.path().to_path_buf();
                Ok((Some(dir), path))
            }
        }
    };
    let mut figures = Vec::new();
    if !args.iter().any(|a| a == "--no-sqlite") {
        let (_temp, dir) = folder("sqlite")?;
        let storage = SqliteStorage::open(&dir.join("fieldsync.db"))?;
        figures.push(run("sqlite", &storage, &dir, &plan)?);
    }
    if let Some(cluster) = arg(&args, "--postgres") {
        let (_temp, dir) = folder("postgres")?;
        let mut admin = postgres::Client::connect(&cluster, postgres::NoTls)?;
        let name = match std::fs::read_to_string(dir.join("database")) {
            Ok(name) => name.trim().to_owned(),
            Err(_) => {
                let name = format!("fs_district_bench_{:08x}", rand::random::<u32>());
                admin.batch_execute(&format!("CREATE DATABASE {name}"))?;
                if keep.is_some() {
                    std::fs::write(dir.join("database"), &name)?;
                }
                name
            }
        };
        let url = database_url(&cluster, &name)?;
        let ran = PostgresStorage::open(&url, PostgresOptions::default())
            .map_err(Into::into)
            .and_then(|storage| {
                let figures = run("postgres", &storage, &dir, &plan);
                drop(storage);
                figures
            });
        if keep.is_none() {
            admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))?;
        }
        figures.push(ran?);
    }
    if let Some(file) = arg(&args, "--json") {
        std::fs::write(&file, serde_json::to_string_pretty(&figures)?)?;
        println!("figures written to {file}");
    }
    Ok(())
}
