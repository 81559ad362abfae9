//! How long the supervision console takes to answer, on the demo district with its weeks
//! of activity (1,000 stores, 4 account managers, about 2,500 visits): the first pull of the
//! console's replica, then the overview and a store page computed 50 times each (server
//! time: the replica's pull of nothing new plus the rule queries and the HTML).
//!
//! `cargo run --release -p fieldsync-server --example console_bench [-- --database URL]`
//! (PostgreSQL with `--database postgres://...`; a fresh database, it is seeded).

use std::time::{Duration, Instant};

use fieldsync_core::DocKind;
use fieldsync_server::admin::report::report_over;
use fieldsync_server::console::i18n::Lang;
use fieldsync_server::console::overview::{Overview, options_for};
use fieldsync_server::console::overview_page::render;
use fieldsync_server::console::replica::Replica;
use fieldsync_server::console::store_page;
use fieldsync_server::storage::SyncStorage;
use fieldsync_server::{PostgresOptions, PostgresStorage, SqliteStorage};

const LOADS: usize = 50;

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted
        .get(i)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(f64::NAN)
}

fn report(name: &str, mut times: Vec<Duration>) {
    times.sort();
    println!(
        "{name}: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms over {} loads",
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        percentile(&times, 1.0),
        times.len()
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let database = args
        .iter()
        .position(|a| a == "--database")
        .and_then(|i| args.get(i + 1).cloned());
    let dir = tempfile::tempdir()?;
    let storage: Box<dyn SyncStorage> = match &database {
        Some(url) => Box::new(PostgresStorage::open(url, PostgresOptions::default())?),
        None => Box::new(SqliteStorage::open(&dir.path().join("fieldsync.db"))?),
    };
    let backend = if database.is_some() {
        "postgres"
    } else {
        "sqlite"
    };
    let started = Instant::now();
    fieldsync_server::demo::seed_with(dir.path(), storage.as_ref(), true, None)?;
    println!(
        "{backend}: demo district seeded in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let replica = Replica::new(dir.path());
    let started = Instant::now();
    let stores = replica.warm(storage.as_ref())?;
    println!(
        "{backend}: first pull of the console replica ({stores} stores): {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let mut overview_times = Vec::new();
    let mut bytes = 0;
    let mut memo = fieldsync_core::PriceTagsOverTime::default();
    for _ in 0..LOADS {
        let started = Instant::now();
        let html = replica.with(storage.as_ref(), |local| {
            let options = options_for(None, 4, local.calendar())?;
            let overview = Overview::compute(local, storage.users()?, options, &mut memo)?;
            Ok(render(Lang::Zh, &overview, started.elapsed()))
        })?;
        overview_times.push(started.elapsed());
        bytes = html.len();
    }
    report(
        &format!("{backend}: overview ({bytes} bytes)"),
        overview_times,
    );
    // Of which `admin report`'s computation alone (the rest: charts, clocks met, HTML).
    let mut report_times = Vec::new();
    for _ in 0..LOADS {
        let started = Instant::now();
        replica.with(storage.as_ref(), |local| {
            let options = options_for(None, 4, local.calendar())?;
            report_over(local, storage.users()?, &options)
        })?;
        report_times.push(started.elapsed());
    }
    report(
        &format!("{backend}: of which the report's rows"),
        report_times,
    );
    // The store with the most visits: the heaviest store page of the district.
    let store = replica.with(storage.as_ref(), |local| {
        let mut best = None;
        let mut most = 0;
        for id in local.document_ids(DocKind::Store)? {
            let n = local.visits_of_store(&id)?.len();
            if n >= most {
                most = n;
                best = Some(id);
            }
        }
        Ok(best)
    })?;
    let store = store.ok_or("the demo has no store")?;
    let mut store_times = Vec::new();
    for _ in 0..LOADS {
        let started = Instant::now();
        replica.with(storage.as_ref(), |local| {
            store_page::render(local, Lang::Zh, &store, None)
        })?;
        store_times.push(started.elapsed());
    }
    report(&format!("{backend}: store page"), store_times);
    Ok(())
}
