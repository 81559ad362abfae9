//! The issue 19 district benchmark (part 3, "A whole district"): phones syncing with a
//! server that holds a whole district, on SQLite and on PostgreSQL.
//!
//! ```text
//! cargo run --release -p fieldsync-server --example district_sync_bench -- \
//!     [--postgres postgres://USER@127.0.0.1:PORT/postgres] [--json FILE] [--quick]
//!     [--managers 20] [--stores 200] [--days 365] [--visits-per-month 2] [--market 4]
//!     [--supervisors 4] [--spread-seconds 60] [--repeats 3] [--no-sqlite]
//! ```
//!
//! The district is seeded by `district/seed.rs` (stores from a CSV, each manager's year
//! pushed week by week through the server's push, each visit with a shelf photo's
//! reference), with one store in 25 on a demo street (`--quick`: one in 5; the market
//! team's scope). The year ends three days ago. The server then runs on 127.0.0.1 in this process (`fieldsync_server::serve`), and phones
//! (core's `LocalStore` and `SyncClient`, in this process too: they share the machine's
//! cores with the server) enroll over HTTP and sync as the app does. Measured:
//!
//! 1. an account manager's first sync (a new phone of `am-01`) against the district
//!    server, and the same territory on a server seeded with that manager alone (the same
//!    stores and year: each manager's dice are its own); `--repeats` times each,
//!    alternately, medians compared;
//! 2. a supervisor's first sync of the whole district (its whole scope; the working set's
//!    variant is `first_sync(.., Some(weeks))`, see `district/devices.rs`);
//! 3. `admin report` for the last whole month of the year: what the CLI does after
//!    opening its admin device (its pull of what is new, the report's rule queries, the
//!    reused photos, the CSV), the first time (the admin device has only the stores) and
//!    again (nothing new);
//! 4. the server's bytes per document stored (`district/sizes.rs`);
//! 5. the end of a day (`district/end_of_day.rs`): every manager, `--market` market team
//!    and `--supervisors` supervisor phones (each synced once before: a first sync, not
//!    timed) with a day's edits, each syncing at a moment within `--spread-seconds`.
//!
//! Nothing timed is asserted; the figures are printed and `--json FILE` writes them.

#[path = "district/bench.rs"]
mod bench;
#[path = "district/devices.rs"]
mod devices;
#[path = "district/end_of_day.rs"]
mod end_of_day;
#[path = "district/report.rs"]
mod report;
#[path = "district/seed.rs"]
mod seed;
#[path = "district/server_reads.rs"]
mod server_reads;
#[path = "district/sizes.rs"]
mod sizes;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bench::{arg, median, number, with_fresh_database};
use devices::{Device, FirstSync, Server, first_sync};
use fieldsync_core::protocol::DEFAULT_WORKING_WEEKS;
use fieldsync_core::{DocKind, Role, Timestamp};
use fieldsync_server::storage::{SyncStorage, User};
use fieldsync_server::{PostgresOptions, PostgresStorage, SqliteStorage};
use seed::{DAY_MS, Dice, District, Fallible};
use sizes::{Footprint, Place};

#[derive(Clone, Debug)]
struct Plan {
    district: District,
    market: usize,
    supervisors: usize,
    spread: Duration,
    repeats: usize,
    /// Supervisors' working sets (`--working-weeks`; 5 by default, 1 in a quick run,
    /// whose 28 days a working set of 5 weeks would hold whole).
    working_weeks: u32,
}

#[derive(Debug, serde::Serialize)]
struct Figures {
    backend: String,
    managers: usize,
    stores: usize,
    days: i64,
    visits_per_month: usize,
    visits: usize,
    counts: usize,
    documents: usize,
    seed_seconds: f64,
    territory_seed_seconds: f64,
    footprint: Footprint,
    am_first_sync_district_ms: Vec<f64>,
    am_first_sync_territory_ms: Vec<f64>,
    am_first_sync_ratio: f64,
    am_first_sync_documents: usize,
    supervisor_first_sync: FirstSync,
    /// The same with a working set of the default 5 weeks (ADR 0023).
    supervisor_working_set_first_sync: FirstSync,
    /// The server's reads of that first sync alone (the storage's feed, page by page).
    supervisor_working_set_server_reads: server_reads::ServerReads,
    /// The working-set phone fetching the district's first visit (a year old) on demand:
    /// one request.
    fetch_year_old_visit_ms: f64,
    report: report::ReportTimes,
    end_of_day_setup_seconds: f64,
    end_of_day: end_of_day::EndOfDay,
}

/// A storage to seed and serve, and where its bytes are.
struct Backend {
    name: &'static str,
    district: (Arc<dyn SyncStorage>, Place),
    territory: Arc<dyn SyncStorage>,
}

fn add_team(storage: &dyn SyncStorage, plan: &Plan, at: i64) -> Fallible<Vec<(String, Role)>> {
    let mut team = Vec::new();
    for i in 0..plan.market {
        team.push((format!("mt-{:02}", i + 1), Role::MarketTeam));
    }
    for i in 0..plan.supervisors {
        team.push((format!("sup-{:02}", i + 1), Role::Supervisor));
    }
    for (id, role) in &team {
        let user = User {
            id: id.clone(),
            role: *role,
            name: format!("{role} {id}"),
        };
        storage.add_user(&user, at)?;
    }
    Ok(team)
}

fn ms(values: &[FirstSync]) -> Vec<f64> {
    values.iter().map(|f| f.ms).collect()
}

/// The account manager's first syncs compare like with like only if every phone holds the
/// same documents from either server (nothing of the other territories leaks in).
fn same_holdings(on_district: &[FirstSync], on_territory: &[FirstSync]) -> Fallible<()> {
    let held: Vec<usize> = on_district
        .iter()
        .chain(on_territory)
        .map(|f| f.documents)
        .collect();
    if held.windows(2).any(|w| w[0] != w[1]) {
        return Err(format!(
            "the account manager's phones hold different documents (district server first, \
             then the territory alone): {held:?}"
        )
        .into());
    }
    Ok(())
}

/// A supervisor's first sync of its whole scope holds every document of the district.
fn whole_district(first: &FirstSync, documents: usize) -> Fallible<()> {
    if first.working_weeks.is_none() && first.documents != documents {
        return Err(format!(
            "the supervisor's phone holds {} documents of the district's {documents}",
            first.documents
        )
        .into());
    }
    Ok(())
}

fn run(
    backend: Backend,
    dir: &Path,
    plan: &Plan,
    rt: &tokio::runtime::Runtime,
) -> Fallible<Figures> {
    let name = backend.name;
    let d = &plan.district;
    let (storage, place) = backend.district;
    let blocks = (d.days / 28).max(1);
    let now = Timestamp::now();
    // The year ends three days ago; the day measured is the day after it.
    let start = Timestamp(now.0 - (blocks * 28 + 3) * DAY_MS);
    let day = Timestamp(start.0 + (blocks * 28 + 1) * DAY_MS);
    for folder in ["district", "territory", "phones"] {
        std::fs::create_dir_all(dir.join(folder))?;
    }
    let team = add_team(storage.as_ref(), plan, start.0)?;
    let (seeded, _) = seed::seed(name, storage.as_ref(), &dir.join("district"), d, start)?;
    let documents = storage.documents()?.len();
    println!(
        "{name}: district seeded in {:.0} s ({} visits, {} counts, {documents} documents)",
        seeded.took.as_secs_f64(),
        seeded.visits,
        seeded.counts
    );
    let footprint = sizes::footprint(&place, documents)?;
    println!("{name}: {footprint}");
    let report = report::admin_report(storage.as_ref(), &dir.join("district"), day)?;
    println!("{name}: {report}");
    let alone = District {
        managers: 1,
        ..d.clone()
    };
    let territory_dir = dir.join("territory");
    let (alone_seeded, _) = seed::seed(
        name,
        backend.territory.as_ref(),
        &territory_dir,
        &alone,
        start,
    )?;
    println!(
        "{name}: the territory alone seeded in {:.0} s",
        alone_seeded.took.as_secs_f64()
    );

    rt.block_on(async {
        let server = Server::start(storage.clone()).await?;
        let territory = Server::start(backend.territory.clone()).await?;
        let phones = dir.join("phones");
        let am = seed::manager_id(0);
        let (mut on_district, mut on_territory) = (Vec::new(), Vec::new());
        for r in 0..plan.repeats {
            let role = Role::AccountManager;
            let n = format!("{am}-new-{r}");
            on_district.push(first_sync(&server, &phones, &am, role, &n, None).await?.0);
            let n = format!("{am}-alone-{r}");
            on_territory.push(first_sync(&territory, &phones, &am, role, &n, None).await?.0);
        }
        territory.stop().await?;
        same_holdings(&on_district, &on_territory)?;
        let ratio = median(&ms(&on_district)) / median(&ms(&on_territory));
        println!(
            "{name}: an account manager's first sync ({} documents): district server {:.0?} ms, territory alone {:.0?} ms: {ratio:.2}x",
            on_district[0].documents,
            ms(&on_district),
            ms(&on_territory)
        );

        // The supervisor's whole scope; the working set's variant passes `Some(weeks)`.
        let supervisor = team.iter().find(|(_, r)| *r == Role::Supervisor);
        let (sup, sup_role) = supervisor.cloned().unwrap_or(("sup-01".into(), Role::Supervisor));
        let (sup_sync, sup_phone) =
            first_sync(&server, &phones, &sup, sup_role, &format!("{sup}-eod"), None).await?;
        whole_district(&sup_sync, documents)?;
        println!(
            "{name}: a supervisor's first sync of the whole district: {:.0} ms ({} documents, {} round trips, {} bytes received)",
            sup_sync.ms, sup_sync.documents, sup_sync.round_trips, sup_sync.bytes_received
        );

        // The same supervisor's new phone holding a working set, then a year-old visit
        // fetched on demand (the whole-scope phone knows the district's first visit).
        let weeks = Some(plan.working_weeks);
        let (ws_sync, ws_phone) =
            first_sync(&server, &phones, &sup, sup_role, &format!("{sup}-ws"), weeks).await?;
        println!(
            "{name}: a supervisor's first sync of a working set of {} weeks: {:.0} ms ({} documents, {} round trips, {} bytes received)",
            plan.working_weeks,
            ws_sync.ms, ws_sync.documents, ws_sync.round_trips, ws_sync.bytes_received
        );
        // The server's share of it: the same pages read from the storage alone.
        let reads = tokio::task::block_in_place(|| {
            server_reads::first_sync_reads(storage.as_ref(), &sup, sup_role, weeks)
        })?;
        println!("{name}: the server's reads of that working set alone: {reads}");
        let oldest = sup_phone
            .local
            .document_ids(DocKind::Visit)?
            .into_iter()
            .next()
            .ok_or("the district has no visit")?;
        if ws_phone.local.visit(&oldest).is_ok() {
            return Err(format!("the working set holds the district's first visit `{oldest}`").into());
        }
        let fetch_started = std::time::Instant::now();
        let fetched = ws_phone.client.fetch_documents(std::slice::from_ref(&oldest)).await?;
        let fetch_ms = fetch_started.elapsed().as_secs_f64() * 1000.0;
        if fetched.stored.merged != 1 || ws_phone.local.visit(&oldest).is_err() {
            return Err(format!("the fetch of `{oldest}` did not store it: {fetched:?}").into());
        }
        println!("{name}: a year-old visit fetched on demand in one request: {fetch_ms:.0} ms");

        // The end of a day: every phone synced once before (not timed), then a day's edits.
        // Supervisors' phones hold a working set, account managers' and the market team's
        // their whole scope (core's defaults: ADR 0023).
        let setup = std::time::Instant::now();
        drop(sup_phone);
        let mut crew: Vec<Device> = vec![ws_phone];
        let mut who: Vec<(String, Role)> = (0..d.managers)
            .map(|m| (seed::manager_id(m), Role::AccountManager))
            .collect();
        who.extend(team.iter().filter(|(u, _)| *u != sup).cloned());
        for (user, role) in &who {
            let weeks = matches!(role, Role::Supervisor | Role::Admin).then_some(plan.working_weeks);
            let (_, device) = first_sync(&server, &phones, user, *role, &format!("{user}-eod"), weeks).await?;
            crew.push(device);
        }
        let mut dice = Dice(20_261_231);
        let mut visits_made = 0;
        for device in &crew {
            visits_made += end_of_day::record_day(device, day, &mut dice)?;
        }
        let setup_seconds = setup.elapsed().as_secs_f64();
        println!("{name}: {} phones set up for the end of the day in {setup_seconds:.0} s", crew.len());
        let eod = end_of_day::spread_syncs(&crew, plan.spread, visits_made, &mut dice).await?;
        println!(
            "{name}: the end of a day, {} phones ({visits_made} visits) over {:.0} s: sync p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            eod.devices, eod.spread_seconds, eod.sync.p50_ms, eod.sync.p99_ms, eod.sync.max_ms
        );
        server.stop().await?;
        Ok(Figures {
            backend: name.into(),
            managers: d.managers,
            stores: d.stores,
            days: d.days,
            visits_per_month: d.visits_per_month,
            visits: seeded.visits,
            counts: seeded.counts,
            documents,
            seed_seconds: seeded.took.as_secs_f64(),
            territory_seed_seconds: alone_seeded.took.as_secs_f64(),
            footprint,
            am_first_sync_ratio: ratio,
            am_first_sync_documents: on_district[0].documents,
            am_first_sync_district_ms: ms(&on_district),
            am_first_sync_territory_ms: ms(&on_territory),
            supervisor_first_sync: sup_sync,
            supervisor_working_set_first_sync: ws_sync,
            supervisor_working_set_server_reads: reads,
            fetch_year_old_visit_ms: fetch_ms,
            report,
            end_of_day_setup_seconds: setup_seconds,
            end_of_day: eod,
        })
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
            demo_street_one_in: if quick { 5 } else { 25 },
        },
        market: number(&args, "--market", if quick { 1 } else { 4 })?,
        supervisors: number(&args, "--supervisors", if quick { 1 } else { 4 })?,
        spread: Duration::from_secs_f64(number(
            &args,
            "--spread-seconds",
            if quick { 2.0 } else { 60.0 },
        )?),
        repeats: number(&args, "--repeats", if quick { 1 } else { 3 })?,
        working_weeks: number(
            &args,
            "--working-weeks",
            if quick { 1 } else { DEFAULT_WORKING_WEEKS },
        )?,
    };
    println!("district: {plan:?}");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut figures = Vec::new();
    if !args.iter().any(|a| a == "--no-sqlite") {
        let dir = tempfile::tempdir()?;
        let db = dir.path().join("district").join("fieldsync.db");
        for folder in ["district", "territory"] {
            std::fs::create_dir_all(dir.path().join(folder))?;
        }
        let backend = Backend {
            name: "sqlite",
            district: (Arc::new(SqliteStorage::open(&db)?), Place::Sqlite(db)),
            territory: Arc::new(SqliteStorage::open(
                &dir.path().join("territory").join("fieldsync.db"),
            )?),
        };
        figures.push(run(backend, dir.path(), &plan, &rt)?);
    }
    if let Some(cluster) = arg(&args, "--postgres") {
        let ran = with_fresh_database(&cluster, "fs_district_sync", |url| {
            with_fresh_database(&cluster, "fs_territory_sync", |alone| {
                let dir = tempfile::tempdir()?;
                let options = PostgresOptions::default;
                let backend = Backend {
                    name: "postgres",
                    district: (
                        Arc::new(PostgresStorage::open(url, options())?),
                        Place::Postgres(url.into()),
                    ),
                    territory: Arc::new(PostgresStorage::open(alone, options())?),
                };
                run(backend, dir.path(), &plan, &rt)
            })
        });
        figures.push(ran?);
    }
    if let Some(file) = arg(&args, "--json") {
        std::fs::write(&file, serde_json::to_string_pretty(&figures)?)?;
        println!("figures written to {file}");
    }
    Ok(())
}
