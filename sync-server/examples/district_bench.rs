//! The issue 17 district benchmark: 20 account managers × 200 stores with a year of visits,
//! display checks and inventory counts, on SQLite and on PostgreSQL. It measures the
//! console's server time for the overview and for a store page (p50 / p99 over 50 loads
//! each), and what a push of a week offline costs while the console is being read.
//!
//! ```text
//! cargo run --release -p fieldsync-server --example district_bench -- \
//!     [--postgres postgres://USER@127.0.0.1:PORT/postgres] [--json FILE] [--quick]
//!     [--managers 20] [--stores 200] [--days 365] [--visits-per-month 2] [--loads 50]
//!     [--no-sqlite]
//! ```
//!
//! How the district is made: through the real write path, as fast as it honestly goes
//! (`district/seed.rs`, shared with `district_sync_bench`: stores imported from a CSV, each
//! account manager's year recorded on a phone and pushed week by week through the server's
//! push). With `--postgres CLUSTER` a fresh database is created on the cluster and dropped
//! afterwards.
//!
//! Server time is what the console's routes do for a page without the HTTP layer: the
//! replica's pull of what is new (nothing, between loads) then the rule queries and the
//! HTML. The overview is computed every time (the routes reuse one for up to 30 s while
//! the log has not moved; that cache is left out here).
//!
//! The week offline: one account manager's 5 days × 12 visits (with display checks), and
//! 10 older visits' notes, pushed in one go; three such weeks pushed with the console idle
//! and three while another thread loads overviews without pause. The console adds nothing
//! to a push by design (it reads the feed like a phone), so the ratio is contention for
//! the machine and the database. The replica's catch-up on the next page is reported too.

#[path = "district/bench.rs"]
mod bench;
#[path = "district/seed.rs"]
mod seed;

use std::path::Path;
use std::time::{Duration, Instant};

use bench::{Timing, arg, median, number, timing, with_fresh_database};
use fieldsync_core::{DocId, DocKind, PriceTagsOverTime, Role, Timestamp, VisitKind};
use fieldsync_server::admin::push_from;
use fieldsync_server::console::i18n::Lang;
use fieldsync_server::console::overview::{Overview, options_for};
use fieldsync_server::console::overview_page::render;
use fieldsync_server::console::replica::Replica;
use fieldsync_server::console::store_page;
use fieldsync_server::storage::{SyncStorage, User};
use fieldsync_server::{PostgresOptions, PostgresStorage, SqliteStorage};
use seed::{DAY_MS, Dice, District, Fallible, Phone, visit};

#[derive(Clone, Debug)]
struct Plan {
    district: District,
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
    overview_bytes: usize,
    store_page: Timing,
    store_page_visits: usize,
    week_offline_push_idle_ms: Vec<f64>,
    week_offline_push_console_busy_ms: Vec<f64>,
    week_offline_ratio: f64,
    console_catch_up_after_a_week_ms: f64,
}

fn overview_once(
    replica: &Replica,
    storage: &dyn SyncStorage,
    memo: &std::sync::Mutex<PriceTagsOverTime>,
) -> Fallible<usize> {
    let started = Instant::now();
    let html = replica.with(storage, |local| {
        // The monthly minimum of visits per store the console's routes use by default.
        let options = options_for(None, 4, local.calendar())?;
        let mut memo = memo.lock().unwrap_or_else(|p| p.into_inner());
        let overview = Overview::compute(local, storage.users()?, options, &mut memo)?;
        Ok(render(Lang::Zh, &overview, started.elapsed()))
    })?;
    Ok(html.len())
}

/// A week offline on `phone` (5 days × 12 visits and 10 older visits' notes), pushed;
/// returns the push's time.
fn week_offline(
    storage: &dyn SyncStorage,
    phone: &Phone,
    start: Timestamp,
    older: &[DocId],
    dice: &mut Dice,
) -> Fallible<Duration> {
    phone.local.in_one_transaction(|_| {
        let mut made = || -> Fallible<()> {
            for day in 0..5 {
                for v in 0..12 {
                    let s = dice.below(phone.stores.len() as u64) as usize;
                    let at = Timestamp(start.0 + day * DAY_MS + 9 * 3_600_000 + v * 1_800_000);
                    visit(
                        &phone.local,
                        &phone.clock,
                        &phone.stores[s],
                        VisitKind::Routine,
                        at,
                        dice,
                    )?;
                }
            }
            for id in older.iter().take(10) {
                phone
                    .local
                    .set_visit_notes(id, &format!("note {}", dice.below(1000)))?;
            }
            Ok(())
        };
        made().map_err(|e| fieldsync_core::Error::invalid("bench", e.to_string()))
    })?;
    let received = start.0 + 6 * DAY_MS;
    let started = Instant::now();
    push_from(&phone.local, storage, &phone.info, &|| received)?;
    Ok(started.elapsed())
}

fn run(backend: &str, storage: &dyn SyncStorage, dir: &Path, plan: &Plan) -> Fallible<Figures> {
    let mut dice = Dice(20_261_206);
    let now = chrono::Utc::now().timestamp_millis();
    let d = &plan.district;
    // The year ends two weeks ago, so the measured weeks offline fit before today.
    let start = Timestamp(now - (d.days + 14 + 7 * plan.weeks_measured as i64 * 2) * DAY_MS);
    let supervisor = User {
        id: "sup-bench".into(),
        role: Role::Supervisor,
        name: "督查".into(),
    };
    storage.add_user(&supervisor, start.0)?;
    // The first manager's phone is kept, for the weeks offline.
    let (seeded, li) = seed::seed(backend, storage, dir, d, start)?;
    let seed_seconds = seeded.took.as_secs_f64();
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
    overview_once(&replica, storage, &memo)?;
    let first_overview_ms = started.elapsed().as_secs_f64() * 1000.0;
    println!(
        "{backend}: the first overview (R2's past readings: {}): {first_overview_ms:.0} ms",
        memo.lock().map(|m| m.past_reads).unwrap_or(0)
    );
    let mut times = Vec::new();
    let mut overview_bytes = 0;
    for _ in 0..plan.loads {
        let started = Instant::now();
        overview_bytes = overview_once(&replica, storage, &memo)?;
        times.push(started.elapsed());
    }
    let overview = timing(times);
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

    // Weeks offline: alternately with the console idle and busy.
    let older: Vec<DocId> = li
        .local
        .document_ids(DocKind::Visit)?
        .into_iter()
        .take(40)
        .collect();
    let mut idle = Vec::new();
    let mut busy = Vec::new();
    let mut catch_up = Vec::new();
    let mut week_start = d.days + 14;
    for w in 0..plan.weeks_measured * 2 {
        let monday = Timestamp(start.0 + week_start * DAY_MS);
        week_start += 7;
        let older = &older[(w * 10) % older.len().max(1)..];
        if w % 2 == 0 {
            let took = week_offline(storage, &li, monday, older, &mut dice)?;
            idle.push(took.as_secs_f64() * 1000.0);
        } else {
            let stop = std::sync::atomic::AtomicBool::new(false);
            let took = std::thread::scope(|s| {
                let reader = s.spawn(|| -> Result<usize, String> {
                    let mut pages = 0;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        overview_once(&replica, storage, &memo).map_err(|e| e.to_string())?;
                        pages += 1;
                    }
                    Ok(pages)
                });
                // The reader is mid-page when the push starts.
                std::thread::sleep(Duration::from_millis(20));
                let took = week_offline(storage, &li, monday, older, &mut dice);
                stop.store(true, std::sync::atomic::Ordering::Relaxed);
                let pages = reader.join().map_err(|_| "the reader panicked")??;
                Ok::<_, Box<dyn std::error::Error>>((took?, pages))
            })?;
            busy.push(took.0.as_secs_f64() * 1000.0);
        }
        let started = Instant::now();
        overview_once(&replica, storage, &memo)?;
        catch_up.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let ratio = median(&busy) / median(&idle);
    println!(
        "{backend}: a week offline (60 visits with display checks, 10 older edits) pushed: console idle {idle:.0?} ms, console loading overviews {busy:.0?} ms: {ratio:.2}x; the next overview (its replica catching up) {:.0} ms",
        median(&catch_up)
    );
    Ok(Figures {
        backend: backend.into(),
        managers: d.managers,
        stores: d.stores,
        days: d.days,
        visits: seeded.visits,
        counts: seeded.counts,
        documents,
        seed_seconds,
        seed_push_seconds: seeded.push_took.as_secs_f64(),
        replica_first_pull_seconds,
        overview,
        overview_bytes,
        store_page,
        store_page_visits,
        week_offline_push_idle_ms: idle,
        week_offline_push_console_busy_ms: busy,
        week_offline_ratio: ratio,
        console_catch_up_after_a_week_ms: median(&catch_up),
    })
}

fn main() -> Fallible<()> {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let plan = Plan {
        district: District {
            managers: number(&args, "--managers", if quick { 2 } else { 20 })?,
            stores: number(&args, "--stores", if quick { 10 } else { 200 })?,
            days: number(&args, "--days", if quick { 28 } else { 365 })?,
            visits_per_month: number(&args, "--visits-per-month", 2)?,
            demo_street_one_in: 0,
        },
        loads: number(&args, "--loads", if quick { 5 } else { 50 })?,
        weeks_measured: number(&args, "--weeks", if quick { 1 } else { 3 })?,
    };
    println!("district: {plan:?}");
    let mut figures = Vec::new();
    if !args.iter().any(|a| a == "--no-sqlite") {
        let dir = tempfile::tempdir()?;
        let storage = SqliteStorage::open(&dir.path().join("fieldsync.db"))?;
        figures.push(run("sqlite", &storage, dir.path(), &plan)?);
    }
    if let Some(cluster) = arg(&args, "--postgres") {
        let ran = with_fresh_database(&cluster, "fs_district_bench", |url| {
            let dir = tempfile::tempdir()?;
            let storage = PostgresStorage::open(url, PostgresOptions::default())?;
            let figures = run("postgres", &storage, dir.path(), &plan);
            drop(storage);
            figures
        });
        figures.push(ran?);
    }
    if let Some(file) = arg(&args, "--json") {
        std::fs::write(&file, serde_json::to_string_pretty(&figures)?)?;
        println!("figures written to {file}");
    }
    Ok(())
}
