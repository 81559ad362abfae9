//! Phones that push while `scripts/soak` attacks the server, and the check that nothing
//! the server acknowledged was lost.
//!
//! ```text
//! fieldsync-soak-phones --url http://127.0.0.1:PORT --codes FILE --db DATA/fieldsync.db
//!                       [--seconds 60] [--json FILE]
//! ```
//!
//! `FILE` holds one line per phone, `USER CODE`: an account manager with stores in its
//! territory and a one-time enrollment code. Each phone enrolls, pulls its territory, then
//! until `--seconds` have passed records a visit with notes and syncs, again and again
//! (a transient failure or a `429` is waited out and retried with the same push). Then the
//! phones stop editing and empty their outboxes, and every change the server answered `200`
//! for is looked up in the server's SQLite database `--db`. Prints the figures (and writes
//! them as JSON); exits 1 if anything acknowledged is missing, an outbox could not be
//! emptied, or a phone failed in a way a correct server never causes.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fieldsync_core::{
    CheckPoint, DeviceIdentity, DocId, DocKind, LocalStore, NewVisit, StoreOptions, Timestamp,
    VisitKind,
};
use fieldsync_tests::ServerDb;
use fieldsync_tests::phone::{ChangeRef, Phone, SyncError, http_client, phones_dir};

const USAGE: &str = "usage: fieldsync-soak-phones --url URL --codes FILE --db SERVER_DB \
                     [--seconds N] [--json FILE]";
/// A soak is bounded: at most an hour of pushing, and this long to empty the outboxes.
const MAX_SECONDS: u64 = 3_600;
const DRAIN: Duration = Duration::from_secs(120);

struct Args {
    url: String,
    codes: PathBuf,
    db: PathBuf,
    seconds: u64,
    json: Option<PathBuf>,
}

fn args() -> Result<Args, String> {
    let mut raw = std::env::args().skip(1);
    let (mut url, mut codes, mut db, mut seconds, mut json) = (None, None, None, 60, None);
    while let Some(flag) = raw.next() {
        let mut value = || raw.next().ok_or(format!("`{flag}` needs a value\n{USAGE}"));
        match flag.as_str() {
            "--url" => url = Some(value()?),
            "--codes" => codes = Some(PathBuf::from(value()?)),
            "--db" => db = Some(PathBuf::from(value()?)),
            "--seconds" => {
                let v = value()?;
                seconds = v
                    .parse()
                    .ok()
                    .filter(|s| (1..=MAX_SECONDS).contains(s))
                    .ok_or(format!("--seconds is 1 to {MAX_SECONDS}, not `{v}`"))?;
            }
            "--json" => json = Some(PathBuf::from(value()?)),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    Ok(Args {
        url: url.ok_or(USAGE)?,
        codes: codes.ok_or(USAGE)?,
        db: db.ok_or(USAGE)?,
        seconds,
        json,
    })
}

/// What the phones saw, together.
#[derive(Default)]
struct Tally {
    latencies_ms: Vec<f64>,
    acked: Vec<ChangeRef>,
    visits: usize,
    /// Failed round trips by kind (waited out and retried).
    failures: BTreeMap<String, usize>,
    /// What a correct server never causes.
    errors: Vec<String>,
    left_in_outbox: usize,
}

fn failure_kind(e: &SyncError) -> String {
    match e {
        SyncError::Unreachable(_) => "unreachable".into(),
        SyncError::Interrupted { .. } => "interrupted".into(),
        SyncError::Refused { status, .. } => format!("status_{status}"),
        other => format!("{other}"),
    }
}

fn retryable(e: &SyncError) -> bool {
    e.is_transient() || matches!(e, SyncError::Refused { status: 429, .. })
}

async fn record_visit(phone: &Phone, store: DocId, n: usize) -> Result<(), SyncError> {
    phone
        .with_local(move |local| {
            let visit = local.create_visit(NewVisit {
                store_id: store,
                kind: VisitKind::Routine,
                check_in: CheckPoint {
                    at: Timestamp::now(),
                    gps: None,
                },
                complaint_id: None,
            })?;
            local.set_visit_notes(&visit, &format!("soak visit {n}"))
        })
        .await
}

/// One phone: edit and sync until `until`, then empty the outbox (bounded by [`DRAIN`]).
async fn run_phone(phone: Phone, until: Instant, tally: Arc<Mutex<Tally>>) {
    let fail = |what: String| tally.lock().expect("tally").errors.push(what);
    if let Err(e) = phone.sync_until_idle(1_000).await {
        return fail(format!("{}: first sync: {e}", phone.user));
    }
    let stores = match phone.with_local(|l| l.document_ids(DocKind::Store)).await {
        Ok(stores) if !stores.is_empty() => stores,
        Ok(_) => return fail(format!("{}: no store in the territory", phone.user)),
        Err(e) => return fail(format!("{}: {e}", phone.user)),
    };
    let drain_until = until + DRAIN;
    let mut n = 0usize;
    // Bounded by the deadlines: every pass waits for a round trip or a pause.
    loop {
        let now = Instant::now();
        let editing = now < until;
        if now >= drain_until {
            break;
        }
        if editing {
            if let Err(e) = record_visit(&phone, stores[n % stores.len()].clone(), n).await {
                return fail(format!("{}: edit: {e}", phone.user));
            }
            n += 1;
        }
        let started = Instant::now();
        match phone.sync_once().await {
            Ok(synced) => {
                {
                    let mut t = tally.lock().expect("tally");
                    t.latencies_ms.push(started.elapsed().as_secs_f64() * 1e3);
                    t.acked.extend(synced.acknowledged);
                }
                if !editing {
                    match phone.with_local(|l| l.pending_documents()).await {
                        Ok(p) if p.is_empty() && !synced.more => break,
                        Ok(_) => {}
                        Err(e) => return fail(format!("{}: outbox: {e}", phone.user)),
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) if retryable(&e) => {
                *tally
                    .lock()
                    .expect("tally")
                    .failures
                    .entry(failure_kind(&e))
                    .or_default() += 1;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => return fail(format!("{}: sync: {e}", phone.user)),
        }
    }
    let left = phone
        .with_local(|l| l.pending_documents())
        .await
        .map_or(usize::MAX, |p| p.len());
    let mut t = tally.lock().expect("tally");
    t.visits += n;
    t.left_in_outbox += left;
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(e) => {
            eprintln!("fieldsync-soak-phones: {e}");
            std::process::ExitCode::from(2)
        }
    }
}

async fn run() -> Result<bool, Box<dyn std::error::Error>> {
    let args = args()?;
    let lines = std::fs::read_to_string(&args.codes)?;
    let http = http_client(Duration::from_secs(30))?;
    let dir = phones_dir()?;
    let mut phones = Vec::new();
    for (i, line) in lines.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        let (user, code) = line
            .trim()
            .split_once(' ')
            .ok_or(format!("`{line}` is not `USER CODE`"))?;
        let name = format!("soak-phone-{i}");
        let local = LocalStore::open(
            dir.path().join(format!("{name}.db")),
            DeviceIdentity::new(user, &name),
            StoreOptions::default(),
        )?;
        phones.push(Phone::enroll(&http, &args.url, code.trim(), &name, local).await?);
    }
    let tally = Arc::new(Mutex::new(Tally::default()));
    let until = Instant::now() + Duration::from_secs(args.seconds);
    let tasks: Vec<_> = phones
        .into_iter()
        .map(|p| tokio::spawn(run_phone(p, until, tally.clone())))
        .collect();
    for task in tasks {
        task.await?;
    }
    let mut t = std::mem::take(&mut *tally.lock().expect("tally"));
    let db = ServerDb::Sqlite(args.db.clone());
    // The checker finds a change that was never stored (else "nothing missing" means nothing).
    if db.has_change(&"0".repeat(64))? {
        return Err("the checker finds a change that was never sent".into());
    }
    let mut missing = Vec::new();
    for change in &t.acked {
        if !db.has_change(&change.hash)? {
            missing.push(change.clone());
        }
    }
    t.latencies_ms.sort_by(f64::total_cmp);
    let figures = serde_json::json!({
        "soak_phones_syncs": t.latencies_ms.len(),
        "soak_phones_visits": t.visits,
        "soak_phones_sync_p50_ms": percentile(&t.latencies_ms, 0.5),
        "soak_phones_sync_p99_ms": percentile(&t.latencies_ms, 0.99),
        "soak_phones_sync_max_ms": percentile(&t.latencies_ms, 1.0),
        "soak_phones_acked_changes": t.acked.len(),
        "soak_phones_acked_missing": missing.len(),
        "soak_phones_left_in_outbox": t.left_in_outbox,
        "soak_phones_failures_retried": t.failures,
        "soak_phones_errors": t.errors,
    });
    println!(
        "pushing phones: {} syncs answered, {} visits recorded; sync p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        t.latencies_ms.len(),
        t.visits,
        percentile(&t.latencies_ms, 0.5),
        percentile(&t.latencies_ms, 0.99),
        percentile(&t.latencies_ms, 1.0),
    );
    println!(
        "  acknowledged changes: {}, missing from the server: {}, left in outboxes: {}",
        t.acked.len(),
        missing.len(),
        t.left_in_outbox
    );
    println!("  round trips retried: {:?}", t.failures);
    for e in &t.errors {
        println!("  error: {e}");
    }
    for m in missing.iter().take(10) {
        println!("  missing: {} of {}", m.hash, m.doc);
    }
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&figures)?)?;
    }
    Ok(missing.is_empty() && t.left_in_outbox == 0 && t.errors.is_empty())
}
