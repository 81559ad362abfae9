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
//! its wall time, and the machine's load before and after. The replica's catch-up on the
//! next page is reported too.

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::Datelike;
use fieldsync_core::fixtures::{ManualClock, device};
use fieldsync_core::{
    CheckPoint, Datum, DisplayCheck, DisplayStandard, DocId, DocKind, GpsFix, LocalStore,
    NewCountLine, NewInventoryCount, NewVisit, PriceTagsOverTime, ProductOnDisplay, Role,
    StandardCheck, Store, Timestamp, Verdict, VisitKind,
};
use fieldsync_server::admin::import::{COLUMNS, import_stores};
use fieldsync_server::admin::{AdminDevice, push_from};
use fieldsync_server::console::i18n::Lang;
use fieldsync_server::console::manager_figures::ManagerCache;
use fieldsync_server::console::overview::{Overview, options_for};
use fieldsync_server::console::overview_page::render;
use fieldsync_server::console::replica::Replica;
use fieldsync_server::console::store_page;
use fieldsync_server::storage::{DeviceInfo, SyncStorage, User};
use fieldsync_server::{PostgresOptions, PostgresStorage, SqliteStorage};

mod weeks;

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

/// A small deterministic dice, so that every run makes the same district.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn unit(&mut self) -> f64 {
        (self.next() % 1_000_000) as f64 / 1_000_000.0
    }
}

fn manager_id(m: usize) -> String {
    format!("am-{:02}", m + 1)
}

fn stores_csv(plan: &Plan, dice: &mut Dice) -> String {
    let mut out = COLUMNS.join(",");
    for m in 0..plan.managers {
        let (lat0, lng0) = (30.2 + m as f64 * 0.01, 120.1 + m as f64 * 0.01);
        for s in 0..plan.stores {
            let functional = dice.below(8) == 0;
            let format = ["Z", "B", "Y", "S", "F"][dice.below(5) as usize];
            out.push_str(&format!(
                "\n33010{m:02}{s:04},店{m}-{s},店主{s},1380000{s:04},路{s}号,{:.6},{:.6},{format},C,{},{},{},0,{},{},{}",
                lat0 + dice.unit() * 0.03,
                lng0 + dice.unit() * 0.03,
                1 + dice.below(3),
                ["A", "B", "C"][dice.below(3) as usize],
                20 + dice.below(500),
                if functional { 1 } else { 0 },
                if functional { "good" } else { "" },
                manager_id(m),
            ));
        }
    }
    out
}

fn fix(store: &Store, dice: &mut Dice) -> GpsFix {
    GpsFix {
        lat: store.location.lat + (dice.unit() - 0.5) * 0.0003,
        lng: store.location.lng + (dice.unit() - 0.5) * 0.0003,
        accuracy_m: 5.0 + dice.unit() * 20.0,
        datum: Datum::Wgs84,
    }
}

/// A phone of `user`, registered with the server and synced once (its stores pulled), or
/// reopened.
struct Phone {
    local: LocalStore,
    clock: ManualClock,
    info: DeviceInfo,
    stores: Vec<Store>,
}

fn phone(
    dir: &Path,
    storage: &dyn SyncStorage,
    user: &str,
    start: Timestamp,
    register: bool,
) -> Fallible<Phone> {
    let (local, clock) = device(dir.join(format!("{user}.db")), user, start)?;
    let info = DeviceInfo {
        device_id: format!("{user}-phone"),
        user_id: user.into(),
        role: Role::AccountManager,
    };
    // A kept district's phone is registered and holds its stores already.
    if register {
        storage.add_device(&info, "bench phone", user.as_bytes(), start.0)?;
        // The admin tools' pull (the whole district, read straight from storage); the
        // phone works on its own territory.
        fieldsync_server::admin::pull_into(&local, storage, &info)?;
    }
    let mut stores = Vec::new();
    for id in local.document_ids(DocKind::Store)? {
        let store = local.store(&id)?;
        if store.territory == user {
            stores.push(store);
        }
    }
    stores.sort_by(|a, b| a.licence.cmp(&b.licence));
    Ok(Phone {
        local,
        clock,
        info,
        stores,
    })
}

/// One visit with check-in, check-out and a display check; returns the visit.
fn visit(phone: &Phone, store: &Store, at: Timestamp, dice: &mut Dice) -> Fallible<DocId> {
    phone.clock.set(at);
    let id = phone.local.create_visit(NewVisit {
        store_id: store.id.clone(),
        kind: VisitKind::Routine,
        check_in: CheckPoint {
            at,
            gps: Some(fix(store, dice)),
        },
        complaint_id: None,
    })?;
    let missing = if dice.below(9) == 0 { 4 } else { dice.below(2) };
    phone.local.record_display_check(
        &LocalStore::shelf_display_id(&store.id),
        &DisplayCheck {
            standards: DisplayStandard::ALL
                .into_iter()
                .map(|standard| StandardCheck {
                    standard,
                    verdict: if dice.below(12) == 0 {
                        Verdict::Fail
                    } else {
                        Verdict::Pass
                    },
                    note: String::new(),
                    photos: vec![],
                })
                .collect(),
            products: (0..8u64)
                .map(|p| ProductOnDisplay {
                    sku: format!("69010280{:02}", p + 1),
                    name: format!("brand {p}"),
                    price_tag: p >= missing,
                })
                .collect(),
            ..DisplayCheck::default()
        },
    )?;
    let out = Timestamp(at.0 + (10 + dice.below(25) as i64) * 60_000);
    phone.clock.set(out);
    phone.local.check_out_visit(
        &id,
        CheckPoint {
            at: out,
            gps: Some(fix(store, dice)),
        },
    )?;
    Ok(id)
}

fn count(phone: &Phone, store: &Store, at: Timestamp, dice: &mut Dice) -> Fallible<()> {
    phone.clock.set(at);
    let id = phone.local.create_inventory_count(NewInventoryCount {
        store_id: store.id.clone(),
        lines: (0..5u64)
            .map(|l| NewCountLine {
                sku: format!("69010280{:02}", l + 1),
                name: format!("brand {l}"),
                book: 20 + dice.below(40) as i64,
            })
            .collect(),
    })?;
    let off = dice.below(6) == 0;
    let counted: Vec<(String, i64)> = phone
        .local
        .inventory_count(&id)?
        .lines
        .iter()
        .map(|l| {
            let delta = if off { -(l.book / 4) } else { 0 };
            (l.sku.clone(), l.book + delta)
        })
        .collect();
    phone.local.set_counted_many(&id, &counted)?;
    phone.local.finish_count(&id)?;
    Ok(())
}

#[derive(Default, Debug)]
struct Seeded {
    visits: usize,
    counts: usize,
    took: Duration,
    push_took: Duration,
}

/// A year (`plan.days`) of one manager's work, pushed week by week.
fn record_year(
    storage: &dyn SyncStorage,
    phone: &Phone,
    plan: &Plan,
    start: Timestamp,
    dice: &mut Dice,
    seeded: &mut Seeded,
) -> Fallible<()> {
    let calendar = fieldsync_core::FieldCalendar::default();
    // Each store gets `visits_per_month` days in each 4-week block, working days only.
    let mut events: Vec<(Timestamp, usize, bool)> = Vec::new();
    let blocks = (plan.days / 28).max(1);
    for block in 0..blocks {
        for (i, store) in phone.stores.iter().enumerate() {
            for _ in 0..plan.visits_per_month {
                let mut day = block * 28 + dice.below(28) as i64;
                let date = calendar.date(Timestamp(start.0 + day * DAY_MS));
                if date.weekday() == chrono::Weekday::Sun {
                    day += 1;
                }
                let at = Timestamp(
                    calendar
                        .start_of(calendar.date(Timestamp(start.0 + day * DAY_MS)))
                        .0
                        + (9 * 60 + dice.below(8 * 60) as i64) * 60_000,
                );
                events.push((at, i, false));
            }
            if store.functional_terminal {
                let day = block * 28 + 20;
                let at = Timestamp(
                    calendar
                        .start_of(calendar.date(Timestamp(start.0 + day * DAY_MS)))
                        .0
                        + 16 * 3_600_000,
                );
                events.push((at, i, true));
            }
        }
    }
    events.sort_by_key(|e| e.0.0);
    let end = Timestamp(start.0 + blocks * 28 * DAY_MS);
    let mut week_end = start.0 + 7 * DAY_MS;
    let mut i = 0;
    while i < events.len() {
        let mut j = i;
        while j < events.len() && events[j].0.0 < week_end {
            j += 1;
        }
        let week = &events[i..j];
        let started = Instant::now();
        phone.local.in_one_transaction(|_| {
            for &(at, s, is_count) in week {
                let store = &phone.stores[s];
                let made = if is_count {
                    count(phone, store, at, dice).map(|_| seeded.counts += 1)
                } else {
                    visit(phone, store, at, dice).map(|_| seeded.visits += 1)
                };
                made.map_err(|e| fieldsync_core::Error::invalid("bench", e.to_string()))?;
            }
            Ok(())
        })?;
        let pushed = Instant::now();
        let received = week_end.min(end.0 + DAY_MS);
        push_from(&phone.local, storage, &phone.info, &|| received)?;
        seeded.push_took += pushed.elapsed();
        seeded.took += started.elapsed();
        i = j;
        week_end += 7 * DAY_MS;
    }
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted
        .get(i)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(f64::NAN)
}

#[derive(Debug, serde::Serialize)]
struct Timing {
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    loads: usize,
}

fn timing(mut times: Vec<Duration>) -> Timing {
    times.sort();
    Timing {
        p50_ms: percentile(&times, 0.5),
        p99_ms: percentile(&times, 0.99),
        max_ms: percentile(&times, 1.0),
        loads: times.len(),
    }
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
    weeks: weeks::Weeks,
    console_catch_up_after_a_week_ms: f64,
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
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

/// Seeds the district: users, stores, every manager's year; returns when the year began,
/// what was made and the first manager's phone (for the weeks offline).
fn seed(
    backend: &str,
    storage: &dyn SyncStorage,
    dir: &Path,
    plan: &Plan,
    dice: &mut Dice,
) -> Fallible<(Timestamp, Seeded, Phone)> {
    let now = chrono::Utc::now().timestamp_millis();
    // The year ends two weeks ago, so the measured weeks offline fit before today.
    let start = Timestamp(now - (plan.days + 14 + 7 * plan.weeks_measured as i64 * 3) * DAY_MS);
    for m in 0..plan.managers {
        storage.add_user(
            &User {
                id: manager_id(m),
                role: Role::AccountManager,
                name: format!("经理 {}", m + 1),
            },
            start.0,
        )?;
    }
    storage.add_user(
        &User {
            id: "sup-bench".into(),
            role: Role::Supervisor,
            name: "督查".into(),
        },
        start.0,
    )?;
    let seeding = Instant::now();
    let office = Timestamp(start.0 - DAY_MS);
    let admin = AdminDevice::open_with_clock(dir, storage, std::sync::Arc::new(move || office))?;
    let import = import_stores(&admin, stores_csv(plan, dice).as_bytes())?;
    if !import.bad.is_empty() {
        return Err(format!("bad store rows:\n{import}").into());
    }
    drop(admin);
    println!(
        "{backend}: {} stores imported in {:.1} s",
        plan.managers * plan.stores,
        seeding.elapsed().as_secs_f64()
    );
    let mut seeded = Seeded::default();
    let mut first = None;
    for m in 0..plan.managers {
        let p = phone(dir, storage, &manager_id(m), start, true)?;
        record_year(storage, &p, plan, start, dice, &mut seeded)?;
        println!(
            "{backend}: {} recorded ({} visits, {} counts so far, {:.0} s)",
            manager_id(m),
            seeded.visits,
            seeded.counts,
            seeding.elapsed().as_secs_f64()
        );
        // Only the first phone is kept, for the weeks offline.
        if m == 0 {
            first = Some(p);
        }
    }
    seeded.took = seeding.elapsed();
    Ok((start, seeded, first.ok_or("no account manager")?))
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
            let (start, seeded, li) = seed(backend, storage, dir, plan, &mut dice)?;
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
        (start, plan.days + 14),
        plan.weeks_measured,
        &mut dice,
    )?;
    let ratio = weeks.busy_console_priority.median_ms() / weeks.idle.median_ms();
    let ratio_default = weeks.busy_default_priority.median_ms() / weeks.idle.median_ms();
    println!(
        "{backend}: a week offline (60 visits with display checks, 10 older edits) pushed, load {} before and {} after:\n  console idle: {}\n  console loading overviews at the default priority: {}: {ratio_default:.2}x\n  console loading overviews at its own priority: {}: {ratio:.2}x\n  the next overview (its replica catching up): median {:.0} ms",
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
        console_catch_up_after_a_week_ms: median(&weeks.catch_up_ms),
        weeks,
    })
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn number<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> Fallible<T> {
    match arg(args, name) {
        Some(text) => text
            .parse()
            .map_err(|_| format!("`{name}` must be a number, not `{text}`").into()),
        None => Ok(default),
    }
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
        let url = match cluster.rsplit_once('/') {
            Some((head, _)) => format!("{head}/{name}"),
            None => return Err(format!("`{cluster}` names no database").into()),
        };
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
