//! What an app's home screen costs: the account manager's list of 300 stores with what is
//! due (R1, R5, R7), last visit, missing tags, open tasks and upload state, over a territory
//! with a year of weekly visits; and how long the list takes to be fresh after one edit.
//!
//! Figures (each a p50 and a p99 over many runs, in milliseconds):
//! - `store_list_page`: the first page (50 stores, due first);
//! - `store_list_all`: all 300 stores by name;
//! - `visits_of_day`: the account manager's visits of a day;
//! - `refresh_after_edit`: from a visit's check-in returning to the list read again
//!   (the change heard, the list re-read: what a screen waits for after an edit);
//! - `edit`: the check-in itself, for comparison;
//! - `store_list_during_merge`, `edit_during_merge`: the same while another thread merges
//!   pages of 100 documents from the server, one after the other (a long first sync): the
//!   list reads on a connection of its own, the edit waits for the writer.
//! - `edit_under_cpu_load`: the control for `edit_during_merge`: the same check-ins, for as
//!   long as the merges took, with the list read over and over and as many threads busy as
//!   the merge has workers, but nothing merged: what the edit costs on busy cores alone,
//!   without waiting for the writer.
//!
//! `cargo bench -p fieldsync-core --bench screens -- [--quick] [--json PATH]`. Unknown
//! arguments (cargo adds `--bench`) are ignored.

use std::error::Error;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use fieldsync_core::fixtures::{ManualClock, at, sample_store};
use fieldsync_core::{
    CheckPoint, DeviceIdentity, DisplayStandard, LocalStore, NewTask, StoreFormat, StoreListQuery,
    StoreOptions, StoreSize, StoreSort, TerminalRating, Timestamp, Verdict, VisitKind,
};

/// The allocator the phone's library ships with (docs/adr/0027).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

type Res<T> = Result<T, Box<dyn Error>>;

const USER: &str = "am-bench";
const STORES: u32 = 300;

struct Args {
    quick: bool,
    json: Option<PathBuf>,
}

fn args() -> Args {
    let mut args = Args {
        quick: false,
        json: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" => args.quick = true,
            "--json" => args.json = it.next().map(PathBuf::from),
            _ => {}
        }
    }
    args
}

fn main() -> Res<()> {
    let args = args();
    let (weeks, runs) = if args.quick { (13, 100) } else { (52, 500) };
    let dir = tempfile::tempdir()?;
    let started = Instant::now();
    let (db, clock) = territory(&dir.path().join("phone.db"), weeks)?;
    let documents = db.pending_documents()?.len();
    // The phone synced every evening: the server holds everything but today's work.
    confirm_all(&db)?;
    println!(
        "territory: {STORES} stores, {weeks} weeks of visits, {documents} documents, built in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let day = db.calendar().date(clock.now());
    let last_monday = day - chrono::Duration::days(9);
    let mut figures = Vec::new();

    let page = StoreListQuery {
        sort: StoreSort::DueFirst,
        ..StoreListQuery::new(USER, day, 50)
    };
    let all = StoreListQuery::new(USER, day, STORES);
    assert_eq!(db.store_list(&all)?.rows.len(), STORES as usize);
    figures.push(timed("store_list_page", runs, || {
        db.store_list(&page).map(drop)
    })?);
    figures.push(timed("store_list_all", runs, || {
        db.store_list(&all).map(drop)
    })?);
    figures.push(timed("visits_of_day", runs, || {
        db.visits_of_day(USER, last_monday).map(drop)
    })?);

    // One edit, then the list as a live screen reads it: on hearing the change.
    let heard = Arc::new(AtomicU64::new(0));
    let _watch = db.subscribe_changes(LocalStore::STORE_LIST_TOPICS, {
        let heard = heard.clone();
        move |_, version| heard.store(version, Ordering::SeqCst)
    });
    let stores = db.store_list(&all)?.rows;
    let mut edits = Vec::with_capacity(runs);
    let mut refreshes = Vec::with_capacity(runs);
    for n in 0..runs {
        clock.advance_minutes(1);
        let before = heard.load(Ordering::SeqCst);
        let t = Instant::now();
        db.create_visit(fieldsync_core::NewVisit {
            store_id: stores[n % stores.len()].store_id.clone(),
            kind: VisitKind::Routine,
            check_in: CheckPoint {
                at: clock.now(),
                gps: None,
            },
            complaint_id: None,
        })?;
        let edited = Instant::now();
        if heard.load(Ordering::SeqCst) == before {
            return Err("the edit was not heard".into());
        }
        let fresh = db.store_list(&page)?;
        refreshes.push(edited.elapsed());
        edits.push(edited - t);
        std::hint::black_box(fresh);
    }
    figures.push(summary("refresh_after_edit", refreshes));
    figures.push(summary("edit", edits));

    figures.extend(during_merges(
        &db,
        &clock,
        &page,
        &dir.path().join("office.db"),
        args.quick,
    )?);

    for f in &figures {
        println!(
            "{:<20} p50 {:>7.3} ms  p99 {:>7.3} ms  ({} runs)",
            f.name, f.p50, f.p99, f.runs
        );
    }
    if let Some(path) = &args.json {
        std::fs::write(path, json(&figures, weeks)?)?;
        println!("figures written to {}", path.display());
    }
    Ok(())
}

struct Figure {
    name: &'static str,
    p50: f64,
    p99: f64,
    runs: usize,
}

fn timed(
    name: &'static str,
    runs: usize,
    mut f: impl FnMut() -> fieldsync_core::Result<()>,
) -> Res<Figure> {
    // Warm the statement cache and SQLite's pages first.
    for _ in 0..10 {
        f()?;
    }
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        f()?;
        times.push(t.elapsed());
    }
    Ok(summary(name, times))
}

fn summary(name: &'static str, mut times: Vec<Duration>) -> Figure {
    times.sort();
    let at = |q: f64| {
        let i = ((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1;
        times[i].as_secs_f64() * 1e3
    };
    Figure {
        name,
        p50: at(0.50),
        p99: at(0.99),
        runs: times.len(),
    }
}

fn json(figures: &[Figure], weeks: u32) -> Res<String> {
    let mut out = serde_json::Map::new();
    for f in figures {
        out.insert(
            f.name.into(),
            serde_json::json!({ "p50_ms": f.p50, "p99_ms": f.p99, "runs": f.runs }),
        );
    }
    let doc = serde_json::json!({
        "territory": { "stores": STORES, "weeks_of_visits": weeks },
        "figures": out,
    });
    Ok(serde_json::to_string_pretty(&doc)? + "\n")
}

/// Marks every pending document as held by the server, as a sync would.
fn confirm_all(db: &LocalStore) -> Res<()> {
    // Bounded: each round confirms up to 500 of the territory's documents.
    for _ in 0..1_000 {
        let batch = db.outbox_batch(500)?;
        if batch.is_empty() {
            return Ok(());
        }
        for doc in batch {
            db.confirm_pushed(&doc.id, doc.local_edits, &doc.heads)?;
        }
    }
    Err("the outbox did not empty".into())
}

/// 300 stores (every fourth a small grocery, every tenth on the demo street, every fifth a
/// rated functional terminal), each visited by the account manager once a week for
/// `weeks` weeks, with a shelf display on each demo-street store and a task on every
/// twentieth store. The clock ends on a Wednesday after the last week.
fn territory(path: &std::path::Path, weeks: u32) -> Res<(LocalStore, ManualClock)> {
    let first_monday = NaiveDate::from_ymd_opt(2025, 11, 24).ok_or("day")?;
    let office = at("2025-11-20T09:00:00+08:00");
    let clock = ManualClock::starting_at(office);
    let db = LocalStore::open(
        path,
        DeviceIdentity::new(USER, "bench-phone"),
        StoreOptions {
            clock: clock.clock(),
            cache_capacity: 512,
            ..StoreOptions::default()
        },
    )?;
    let ratings = [
        TerminalRating::Excellent,
        TerminalRating::Good,
        TerminalRating::Qualified,
        TerminalRating::Unqualified,
    ];
    let mut stores = Vec::with_capacity(STORES as usize);
    db.in_one_transaction(|db| {
        for n in 0..STORES {
            let mut new = sample_store(USER, n);
            if n % 4 == 0 {
                new.format = StoreFormat::Grocery;
                new.size = StoreSize::Small;
            }
            new.demo_street = n % 10 == 0;
            if n % 5 == 1 {
                new.functional_terminal = true;
                new.rating = Some(ratings[(n as usize / 5) % ratings.len()]);
            }
            let id = db.create_store(new)?;
            if n.is_multiple_of(10) {
                let display = db.create_shelf_display(&id)?;
                db.mark_display_standard(&display, DisplayStandard::PriceTags, Verdict::Fail, "")?;
            }
            if n % 20 == 0 {
                db.create_task(NewTask {
                    store_id: id.clone(),
                    title: "replace the price-tag box".into(),
                    description: String::new(),
                    assignee: USER.into(),
                    deadline: Timestamp(office.0 + 400 * 86_400_000),
                    origin: None,
                })?;
            }
            stores.push(id);
        }
        Ok(())
    })?;
    let cal = db.calendar().clone();
    for week in 0..weeks {
        let monday = first_monday + chrono::Duration::weeks(i64::from(week));
        db.in_one_transaction(|db| {
            for (i, store) in stores.iter().enumerate() {
                // Five working days, 60 stores a day, from 09:00 every 6 minutes.
                let day = monday + chrono::Duration::days((i / 60) as i64);
                let when = Timestamp(cal.start_of(day).0 + (9 * 60 + (i % 60) as i64 * 6) * 60_000);
                clock.set(when);
                db.create_visit(fieldsync_core::NewVisit {
                    store_id: store.clone(),
                    kind: VisitKind::Routine,
                    check_in: CheckPoint {
                        at: when,
                        gps: None,
                    },
                    complaint_id: None,
                })?;
            }
            Ok(())
        })?;
    }
    let end = first_monday + chrono::Duration::weeks(i64::from(weeks)) + chrono::Duration::days(2);
    clock.set(Timestamp(cal.start_of(end).0 + 10 * 3_600_000));
    Ok((db, clock))
}

/// Reads and edits while another thread merges pages of documents as a sync would.
fn during_merges(
    db: &LocalStore,
    clock: &ManualClock,
    page: &StoreListQuery,
    office_path: &std::path::Path,
    quick: bool,
) -> Res<Vec<Figure>> {
    let (pages, per_page) = if quick { (6, 100) } else { (30, 100) };
    // Another territory's stores, made in an office store, as pages of a feed.
    let office = LocalStore::open(
        office_path,
        DeviceIdentity::new("admin", "office"),
        StoreOptions::default(),
    )?;
    let mut feed = Vec::with_capacity(pages);
    for p in 0..pages {
        let mut docs = Vec::with_capacity(per_page);
        for n in 0..per_page {
            let id =
                office.create_store(sample_store("am-other", (p * per_page + n) as u32 + 1_000))?;
            docs.push((id.clone(), office.export_changes(&id, &[])?));
        }
        feed.push(docs);
    }
    let merging = std::sync::atomic::AtomicBool::new(true);
    let stores = db.store_list(page)?.rows;
    let (merge_times, reads, edits) = std::thread::scope(|s| -> Res<_> {
        let merger = s.spawn(|| -> fieldsync_core::Result<Vec<Duration>> {
            let mut times = Vec::new();
            for (p, docs) in feed.into_iter().enumerate() {
                let t = Instant::now();
                // As the sync client stores a page: giving way to edits between documents.
                let merged = db.store_feed_page(docs, &format!("{}", p + 1));
                times.push(t.elapsed());
                if let Err(e) = merged {
                    merging.store(false, Ordering::SeqCst);
                    return Err(e);
                }
            }
            merging.store(false, Ordering::SeqCst);
            Ok(times)
        });
        // A screen reading the list over and over; bounded by the merges, which end.
        let reader = s.spawn(|| -> fieldsync_core::Result<Vec<Duration>> {
            let mut reads = Vec::new();
            while merging.load(Ordering::SeqCst) {
                let t = Instant::now();
                std::hint::black_box(db.store_list(page)?);
                reads.push(t.elapsed());
            }
            Ok(reads)
        });
        let edits = check_ins(db, clock, &stores, &merging)?;
        let merges = merger.join().map_err(|_| "the merging thread panicked")??;
        let reads = reader.join().map_err(|_| "the reading thread panicked")??;
        Ok((merges, reads, edits))
    })?;
    if reads.is_empty() || edits.is_empty() {
        return Err("nothing was read or edited during the merges".into());
    }
    let merging_for: Duration = merge_times.iter().sum();
    let control = under_cpu_load(db, clock, page, &stores, merging_for)?;
    Ok(vec![
        summary("merge_page_of_100", merge_times),
        summary("store_list_during_merge", reads),
        summary("edit_during_merge", edits),
        summary("edit_under_cpu_load", control),
    ])
}

/// A user checking in every 20 ms while `busy` holds; the time of each check-in.
fn check_ins(
    db: &LocalStore,
    clock: &ManualClock,
    stores: &[fieldsync_core::StoreListRow],
    busy: &std::sync::atomic::AtomicBool,
) -> Res<Vec<Duration>> {
    let mut edits = Vec::new();
    let mut n = 0usize;
    while busy.load(Ordering::SeqCst) {
        clock.advance_minutes(1);
        let t = Instant::now();
        db.create_visit(fieldsync_core::NewVisit {
            store_id: stores[n % stores.len()].store_id.clone(),
            kind: VisitKind::Routine,
            check_in: CheckPoint {
                at: clock.now(),
                gps: None,
            },
            complaint_id: None,
        })?;
        edits.push(t.elapsed());
        n += 1;
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(edits)
}

/// The check-ins of [`check_ins`] for `for_how_long`, with the list read over and over and
/// as many threads spinning as a merge has workers, and nothing merged.
fn under_cpu_load(
    db: &LocalStore,
    clock: &ManualClock,
    page: &StoreListQuery,
    stores: &[fieldsync_core::StoreListRow],
    for_how_long: Duration,
) -> Res<Vec<Duration>> {
    let busy = std::sync::atomic::AtomicBool::new(true);
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|s| -> Res<_> {
        for _ in 0..workers {
            s.spawn(|| {
                let mut x = 0u64;
                while busy.load(Ordering::Relaxed) {
                    x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                }
            });
        }
        let reader = s.spawn(|| -> fieldsync_core::Result<()> {
            while busy.load(Ordering::SeqCst) {
                std::hint::black_box(db.store_list(page)?);
            }
            Ok(())
        });
        let timer = s.spawn(|| {
            std::thread::sleep(for_how_long);
            busy.store(false, Ordering::SeqCst);
        });
        let edits = check_ins(db, clock, stores, &busy);
        busy.store(false, Ordering::SeqCst);
        timer.join().map_err(|_| "the timer panicked")?;
        reader.join().map_err(|_| "the reading thread panicked")??;
        edits
    })
}
