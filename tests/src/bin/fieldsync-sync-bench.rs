//! Sync benchmark: what one sync costs after "a week offline", and what "a new phone"
//! downloads.
//!
//! ```text
//! cargo run --release -p fieldsync-tests --bin fieldsync-sync-bench -- [--quick] [--json PATH]
//! ```
//!
//! Setup: the server runs in this process (`fieldsync_server::serve`, release when this is)
//! on 127.0.0.1:0, its data on disk in the system's temporary folder. The admin device
//! makes 300 stores for the account manager `am-li`. Her phone (the "old phone") then
//! records a year of the territory ([`fieldsync_tests::territory_year`]): 15,000 visits,
//! 60 a day, each with its shelf-display check and a 30-line inventory count, synced every
//! five days (`--quick`: 1,500 visits; `--year-visits N`: N). How long that takes is printed; it is setup.
//!
//! **A new phone**: a second phone of `am-li` enrolls and downloads its territory from
//! scratch with core's `SyncClient`, in a child process (this binary re-run with
//! `--new-phone`), so that its peak memory (`VmHWM`, read at the end) is the phone's own;
//! its memory after each round trip is printed too, and the time the server spent in its
//! handlers (`new_phone_server_ms`, from the server's `fieldsync_sync_seconds`), the rest
//! being the phone's merging and the transfer. `new_phone_first_use_ms` is when the phone
//! could first be used: from the start of its sync to the progress event that says the
//! first part of the first sync is stored (every store, display, scorecard, task and
//! complaint, and the last 8 days' visits and counts; docs/protocol.md, "A first sync").
//!
//! **A week offline**: five days of 12 visits (60 visits: a visit, a display check, a
//! 30-line count, as above), 10 notes added to older visits and 10 standards marked on
//! displays not visited that week, then one sync. Measured twice:
//! - `week_offline_*` on the old phone: every document it holds was synced before (the
//!   steady state of a phone in use);
//! - `week_offline_fresh_*` on the new phone after its download: all its documents came
//!   from the server;
//! - `week_offline_repeat_1_*`, `_2_*`: two more weeks of the same work on the old phone
//!   right after it (other stores), and `week_offline_median_ms`, the median of the old
//!   phone's three, which the field benchmark reports.
//!
//! `*_server_ms` is the time the server spent in its sync handler (as for the new phone);
//! the rest of `*_ms` is the phone's own work (reading its outbox, storing the answer) and
//! the transfer. `*_cpu_ms` is the CPU time of this process during the sync (the server's
//! threads and the phone's together, user + system, in ticks of 10 ms), which varies less
//! than wall times on a shared machine and counts work spread over several threads.
//!
//! Bytes on the wire are HTTP bodies as sent, counted by the server's own metrics for
//! `/v1/sync` (`fieldsync_request_bytes_total`, `fieldsync_response_bytes_total`): requests
//! as the client sent them (compressed when it compresses), responses after the server's
//! compression (reqwest, built with its `gzip` and `zstd` features, asks for it). The
//! client's `SyncReport` counts the response after decompression; both are printed. The
//! size of the new changes is the sum of the encoded Automerge changes pushed that the
//! server did not have; `*_pushed_change_bytes` is all the changes the push carried, and
//! `*_wire_ratio_if_only_new` what the ratio would be if the push carried only the new ones
//! (their request encoded and gzipped as the client does, plus the measured response).
//! Wall times include the phone's local store work; the phone, the server and the child
//! share the machine's cores.
//!
//! **Bad links** (`--links`): two more weeks of the same work on the old phone, each synced
//! through the tests crate's fault proxy emulating a path like 3G (400 kbit/s, 150 ms round
//! trip) and like 2G (50 kbit/s, 500 ms round trip, 1% of segments lost):
//! `bad_link_3g_*`, `bad_link_2g_*` (see `fieldsync_tests::fault_proxy::EmulatedLink`).
//!
//! Profiling the week offline alone: with `FIELDSYNC_PERF_CTL=FIFO` the benchmark writes
//! `enable` to that FIFO as each week's sync begins and `disable` as it ends, as
//! `perf record --control fifo:FIFO -D -1` expects.
//!
//! `--export DIR` writes `DIR/before.bin` (every document on the server as the measured week
//! offline begins), `DIR/week.bin` (the changes of that week) and `DIR/new-phone.json` (the
//! ids of the documents the new phone downloads), for the field benchmark's peers
//! ([`fieldsync_tests::bundle`]).
//!
//! `--new-phone-only` stops after the new phone's download, and `--server-dir DIR` (only
//! with it) keeps the server's data in `DIR` instead of a temporary folder. Together they
//! make quick iteration on the download: the first run seeds `DIR` (and marks it seeded for its year
//! plan), later runs with the same plan reuse it and measure only the new phone. With
//! `--new-phone-only` the year ends yesterday (by this machine's clock), so that the first
//! sync's first part holds the last week's visits and counts as in the field; a whole run's
//! year ends in 2026 (the weeks after it must not be in the server's future). The child
//! reports its CPU time during the download (`new_phone_cpu_ms`, user + system of every
//! thread, from `/proc/self/stat`), which varies less than its wall time on a shared
//! machine.
//!
//! `FIELDSYNC_BENCH_CHILD_WRAPPER="valgrind --tool=callgrind"` (any command and its
//! arguments) runs the new phone's child under that command, to count its instructions
//! apart from the server's.
//!
//! `FIELDSYNC_BENCH_WORKING_WEEKS=N` makes the new phone hold a working set of N weeks
//! (docs/protocol.md, "The working set") instead of its whole territory.
//!
//! `--json PATH` writes `{"figures": {"<name>": {"value": n, "unit": "..."}}, "config": {...}}`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fieldsync_core::fixtures::{at, sample_store};
use fieldsync_core::{
    DocId, DocKind, LocalStore, Role, SyncPhase, SyncProgress, SyncReport, Timestamp,
};
use fieldsync_server::{Limits, SqliteStorage};
use fieldsync_tests::bundle;
use fieldsync_tests::client_device::{ClientDevice, Who};
use fieldsync_tests::fault_proxy::{EmulatedLink, FaultProxy};
use fieldsync_tests::in_process::InProcessServer;
use fieldsync_tests::sync_cost::{Wire, cpu_ms, outbox};
use fieldsync_tests::territory_year::{
    OLDER_EDITS, WEEK_DAYS, WEEK_VISITS_PER_DAY, YearPlan, day_start, record_week, record_year,
};
use metrics_exporter_prometheus::PrometheusHandle;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const USAGE: &str = "usage: fieldsync-sync-bench [--quick] [--year-visits N] [--json PATH] [--links] \
                     [--export DIR] [--server-dir DIR] [--new-phone-only]";
/// The file in a `--server-dir` that says it was seeded, and for which year plan.
const SEEDED: &str = "seeded.json";
const DAY_MS: i64 = 86_400_000;
const USER: &str = "am-li";
const STORES: u32 = 300;
/// Longest the new phone's download may take.
const CHILD_TIMEOUT: Duration = Duration::from_secs(3 * 3600);

#[derive(Clone, Debug)]
struct Config {
    quick: bool,
    json: Option<PathBuf>,
    year: YearPlan,
    links: bool,
    export: Option<PathBuf>,
    server_dir: Option<PathBuf>,
    new_phone_only: bool,
}

enum Mode {
    Bench(Config),
    NewPhone {
        url: String,
        token: String,
        path: PathBuf,
    },
}

fn parse_args() -> Result<Mode, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--new-phone") {
        return match &args[1..] {
            [url, token, path] => Ok(Mode::NewPhone {
                url: url.clone(),
                token: token.clone(),
                path: PathBuf::from(path),
            }),
            _ => Err("`--new-phone` wants URL TOKEN PATH".into()),
        };
    }
    let mut config = Config {
        quick: false,
        json: None,
        year: YearPlan::year(),
        links: false,
        export: None,
        server_dir: None,
        new_phone_only: false,
    };
    let mut it = args.iter();
    // Bounded by the argument list.
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" => {
                config.quick = true;
                config.year.visits = 1_500;
            }
            "--json" => {
                let path = it.next().ok_or(format!("`--json` needs a path\n{USAGE}"))?;
                config.json = Some(PathBuf::from(path));
            }
            "--links" => config.links = true,
            "--year-visits" => {
                let n = it
                    .next()
                    .ok_or(format!("`--year-visits` needs a number\n{USAGE}"))?;
                config.year.visits = n
                    .parse()
                    .map_err(|_| format!("`--year-visits` wants a number, not `{n}`"))?;
            }
            "--export" => {
                let dir = it
                    .next()
                    .ok_or(format!("`--export` needs a folder\n{USAGE}"))?;
                config.export = Some(PathBuf::from(dir));
            }
            "--server-dir" => {
                let dir = it
                    .next()
                    .ok_or(format!("`--server-dir` needs a folder\n{USAGE}"))?;
                config.server_dir = Some(PathBuf::from(dir));
            }
            "--new-phone-only" => config.new_phone_only = true,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    if config.server_dir.is_some() && !config.new_phone_only {
        // The week offline would change the territory that later runs reuse.
        return Err(format!("`--server-dir` needs `--new-phone-only`\n{USAGE}"));
    }
    Ok(Mode::Bench(config))
}

/// Figures by name, as printed and written.
#[derive(Debug, Default)]
struct Figures(BTreeMap<String, (f64, &'static str)>);

impl Figures {
    fn add(&mut self, name: &str, value: f64, unit: &'static str) {
        println!("  {name:<40} {value:>14.2} {unit}");
        self.0.insert(name.to_owned(), (value, unit));
    }

    fn get(&self, name: &str) -> Option<f64> {
        self.0.get(name).map(|(value, _)| *value)
    }

    fn json(&self, config: &Config) -> serde_json::Value {
        let figures: serde_json::Map<String, serde_json::Value> = self
            .0
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
                "stores": STORES,
                "year_visits": config.year.visits,
                "count_lines": config.year.count_lines,
                "week_visits": WEEK_DAYS * WEEK_VISITS_PER_DAY,
                "week_older_edits": 2 * OLDER_EDITS,
                "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
                "release": !cfg!(debug_assertions),
            }
        })
    }
}

/// Records a week on `device` and measures its one sync; adds the figures under `prefix`.
async fn week_offline(
    prefix: &str,
    device: &ClientDevice,
    server: &InProcessServer,
    metrics: &PrometheusHandle,
    stores: &[DocId],
    (first_round, older, start): (usize, usize, Timestamp),
    figures: &mut Figures,
) -> Result<(), BoxError> {
    let visits = record_week(
        &device.local,
        &device.clock,
        stores,
        first_round,
        older,
        start,
    )?;
    let pending = outbox(&device.local, server.storage().as_ref())?;
    let before = Wire::read(metrics);
    let server_before = Wire::server_seconds(metrics);
    let cpu_before = cpu_ms().unwrap_or(f64::NAN);
    let profiler = std::env::var_os("FIELDSYNC_PERF_CTL");
    if let Some(fifo) = &profiler {
        std::fs::write(fifo, "enable\n")?;
    }
    let began = Instant::now();
    let report = device.sync().await?;
    let took = began.elapsed();
    if let Some(fifo) = &profiler {
        std::fs::write(fifo, "disable\n")?;
    }
    let cpu = cpu_ms().unwrap_or(f64::NAN) - cpu_before;
    let server_ms = (Wire::server_seconds(metrics) - server_before) * 1000.0;
    let wire = Wire::read(metrics).since(before);
    println!(
        "{prefix}: {visits} visits and {} older edits; the outbox held {} documents, {} changes \
         ({} of them new to the server)",
        2 * OLDER_EDITS,
        pending.docs,
        pending.changes,
        pending.new_changes
    );
    figures.add(&format!("{prefix}_ms"), ms(took), "ms");
    figures.add(&format!("{prefix}_server_ms"), server_ms, "ms");
    figures.add(&format!("{prefix}_cpu_ms"), cpu, "ms");
    figures.add(
        &format!("{prefix}_round_trips"),
        f64::from(report.round_trips),
        "round trips",
    );
    figures.add(&format!("{prefix}_bytes"), wire.total() as f64, "bytes");
    figures.add(&format!("{prefix}_bytes_sent"), wire.sent as f64, "bytes");
    figures.add(
        &format!("{prefix}_bytes_received"),
        wire.received as f64,
        "bytes",
    );
    client_view(prefix, &report, figures);
    figures.add(
        &format!("{prefix}_new_change_bytes"),
        pending.new_bytes as f64,
        "bytes",
    );
    figures.add(
        &format!("{prefix}_pushed_change_bytes"),
        pending.bytes as f64,
        "bytes",
    );
    figures.add(
        &format!("{prefix}_wire_ratio"),
        wire.total() as f64 / pending.new_bytes.max(1) as f64,
        "x",
    );
    // What the ratio would be if the push carried only the changes the server lacks.
    figures.add(
        &format!("{prefix}_new_only_request_bytes"),
        pending.new_only_request as f64,
        "bytes",
    );
    figures.add(
        &format!("{prefix}_wire_ratio_if_only_new"),
        (pending.new_only_request + wire.received) as f64 / pending.new_bytes.max(1) as f64,
        "x",
    );
    Ok(())
}

fn client_view(prefix: &str, report: &SyncReport, figures: &mut Figures) {
    figures.add(
        &format!("{prefix}_client_bytes_sent"),
        report.bytes_sent as f64,
        "bytes",
    );
    figures.add(
        &format!("{prefix}_client_bytes_received_decoded"),
        report.bytes_received as f64,
        "bytes",
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A `/proc/self/status` field in KiB (Linux).
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn new_phone_who() -> Who<'static> {
    Who {
        user: USER,
        role: Role::AccountManager,
        name: "new-phone",
    }
}

/// The child: downloads the territory into a new store and prints one JSON line.
fn new_phone(url: &str, token: &str, path: &Path) -> Result<serde_json::Value, BoxError> {
    let rss_at_start = status_kib("VmRSS").unwrap_or(0);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let rounds = std::sync::Arc::new(std::sync::Mutex::new(Vec::<serde_json::Value>::new()));
    let seen = rounds.clone();
    // When the sync began, and when the phone could first be used (ms after that).
    let sync_began = std::sync::Arc::new(std::sync::OnceLock::<Instant>::new());
    let first_use = std::sync::Arc::new(std::sync::OnceLock::<(f64, usize)>::new());
    let (began, ready) = (sync_began.clone(), first_use.clone());
    let progress = move |p: SyncProgress| {
        let elapsed = began.get().map_or(0.0, |b| ms(b.elapsed()));
        if p.first_use_ready {
            let _ = ready.set((elapsed, p.docs_pulled));
        }
        if p.phase == SyncPhase::Done {
            return;
        }
        let round = serde_json::json!({
            "ms": elapsed,
            "docs_pulled": p.docs_pulled,
            "first_use_ready": p.first_use_ready,
            "rss_kib": status_kib("VmRSS").unwrap_or(0),
            "peak_rss_kib": status_kib("VmHWM").unwrap_or(0),
        });
        if let Ok(mut rounds) = seen.lock() {
            rounds.push(round);
        }
    };
    let (report, took, docs, checked) = runtime.block_on(async {
        // A working set of N weeks instead of the whole territory (docs/protocol.md).
        let weeks = std::env::var("FIELDSYNC_BENCH_WORKING_WEEKS")
            .ok()
            .and_then(|w| w.parse::<u32>().ok());
        let device = ClientDevice::open(url, token, path, new_phone_who(), Timestamp::now())?
            .with_working_weeks(weeks)?;
        let cpu_before = cpu_ms().unwrap_or(f64::NAN);
        let began = Instant::now();
        let _ = sync_began.set(began);
        let report = device.sync_reporting(&progress).await?;
        let took = began.elapsed();
        let cpu = cpu_ms().unwrap_or(f64::NAN) - cpu_before;
        let mut docs = 0;
        for kind in DocKind::ALL {
            docs += device.local.document_ids(kind)?.len();
        }
        // The sync's own peak, before the idle check below.
        let peak = status_kib("VmHWM").unwrap_or(0);
        // Only when asked (`--new-phone-only`): the full run's week offline goes on from
        // this store, as in the sessions before the check existed.
        let checked = if std::env::var("FIELDSYNC_BENCH_CHECK").as_deref() == Ok("1") {
            check_received(&device.local)?
        } else {
            serde_json::Value::Null
        };
        Ok::<_, BoxError>((report, (took, cpu, peak), docs, checked))
    })?;
    let (took, cpu, peak) = took;
    drop(runtime);
    let (first_use_ms, first_use_docs) = first_use.get().copied().unwrap_or((f64::NAN, 0));
    Ok(serde_json::json!({
        "ms": ms(took),
        "first_use_ms": first_use_ms,
        "first_use_docs": first_use_docs,
        "cpu_ms": cpu,
        "round_trips": report.round_trips,
        "bytes_sent": report.bytes_sent,
        "bytes_received": report.bytes_received,
        "docs": docs,
        "rss_at_start_kib": rss_at_start,
        "peak_rss_kib": peak,
        "rounds": rounds.lock().map(|r| r.clone()).unwrap_or_default(),
        "check": checked,
    }))
}

/// After the first sync: the idle-time check of the documents stored from the server's
/// rows (ADR 0036), in batches of 100 as the Android library runs it, with what it took
/// and the documents' stored bytes before and after.
fn check_received(local: &LocalStore) -> Result<serde_json::Value, BoxError> {
    let stored = || -> Result<i64, BoxError> {
        let mut bytes = 0;
        for kind in DocKind::ALL {
            bytes += local.stored_bytes(kind)?.0;
        }
        Ok(bytes)
    };
    let before = stored()?;
    let began = Instant::now();
    let cpu_before = cpu_ms().unwrap_or(f64::NAN);
    let (mut checked, mut corrected, mut damaged, mut batches) = (0, 0, 0, 0);
    // Bounded: a territory is far below 100,000 batches of 100.
    for _ in 0..100_000 {
        let batch = local.check_received(100)?;
        batches += 1;
        checked += batch.checked;
        corrected += batch.corrected.len();
        damaged += batch.damaged.len();
        if batch.remaining == 0 {
            break;
        }
    }
    Ok(serde_json::json!({
        "ms": ms(began.elapsed()),
        "cpu_ms": cpu_ms().unwrap_or(f64::NAN) - cpu_before,
        "batches": batches,
        "checked": checked,
        "corrected": corrected,
        "damaged": damaged,
        "stored_bytes_before": before,
        "stored_bytes_after": stored()?,
    }))
}

/// Runs the new phone's download in a child process; returns its JSON line.
async fn run_new_phone(
    url: &str,
    token: &str,
    path: &Path,
    check: bool,
) -> Result<serde_json::Value, BoxError> {
    let exe = std::env::current_exe()?;
    // A profiler around the child alone, say `valgrind --tool=callgrind`.
    let wrapper = std::env::var("FIELDSYNC_BENCH_CHILD_WRAPPER").unwrap_or_default();
    let mut words = wrapper.split_whitespace();
    let mut command = match words.next() {
        Some(program) => {
            let mut command = tokio::process::Command::new(program);
            command.args(words).arg(exe);
            command
        }
        None => tokio::process::Command::new(exe),
    };
    let child = command
        .env("FIELDSYNC_BENCH_CHECK", if check { "1" } else { "0" })
        .arg("--new-phone")
        .arg(url)
        .arg(token)
        .arg(path)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .spawn()?;
    let output = tokio::time::timeout(CHILD_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| "the new phone's download did not finish in time")??;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!("the new phone failed ({}): {stdout}", output.status).into());
    }
    let line = stdout.lines().last().unwrap_or_default();
    Ok(serde_json::from_str(line)?)
}

fn field(json: &serde_json::Value, name: &str) -> f64 {
    json.get(name)
        .and_then(serde_json::Value::as_f64)
        .unwrap_or(f64::NAN)
}

async fn run(config: &Config, metrics: PrometheusHandle) -> Result<Figures, BoxError> {
    let mut figures = Figures::default();
    let dir = tempfile::Builder::new()
        .prefix("fieldsync-sync-bench-")
        .tempdir()?;
    let server_dir = match &config.server_dir {
        Some(kept) => kept.clone(),
        None => dir.path().join("server"),
    };
    std::fs::create_dir_all(&server_dir)?;
    let storage = Arc::new(SqliteStorage::open(&server_dir.join("fieldsync.db"))?);
    // The old phone records a year in minutes: about 80 MB of changes in one UTC day, over
    // the default daily budget of a device. The budget is still checked on every push.
    let limits = Limits {
        device_bytes_per_day: 1 << 30,
        ..Limits::default()
    };
    let server =
        InProcessServer::start_with(&server_dir, storage, Some(metrics.clone()), limits).await?;
    // The weeks measured after the year must not be in the server's future, so a whole
    // run's year ends months ago; a new phone alone gets a year that ended yesterday, so
    // that its first sync's first part holds the last week's visits and counts as a phone
    // in the field would (the server splits by its own clock).
    let (year_start, plan) = if config.new_phone_only {
        let days = config.year.days() as i64 + 1;
        let start = Timestamp(Timestamp::now().0 / DAY_MS * DAY_MS - days * DAY_MS);
        (
            start,
            format!("{:?} ending {}", config.year, start.0 / DAY_MS + days - 1),
        )
    } else {
        (
            at("2025-11-24T00:00:00+08:00"),
            format!("{:?}", config.year),
        )
    };
    let phones = dir.path().join("phones");
    std::fs::create_dir_all(&phones)?;
    let seeded = std::fs::read_to_string(server_dir.join(SEEDED)).ok();
    let seeded = match seeded {
        Some(seeded) if config.server_dir.is_some() => {
            let (_stores, seeded_plan): (Vec<String>, String) = serde_json::from_str(&seeded)?;
            if seeded_plan != plan {
                return Err(format!(
                    "`{}` was seeded for {seeded_plan}, not {plan}",
                    server_dir.display()
                )
                .into());
            }
            println!("reusing the territory seeded in {}", server_dir.display());
            None
        }
        _ => Some(seed(config, &server, &metrics, &phones, year_start, &mut figures).await?),
    };
    if let (Some((stores, _)), Some(kept)) = (&seeded, &config.server_dir) {
        let ids: Vec<String> = stores.iter().map(ToString::to_string).collect();
        std::fs::write(kept.join(SEEDED), serde_json::to_string(&(ids, &plan))?)?;
    }

    // What the new phone downloads, for the peers' new phones to fetch the same.
    if let Some(dir) = &config.export {
        std::fs::create_dir_all(dir)?;
        let ids: Vec<String> = server
            .storage()
            .documents()?
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        std::fs::write(dir.join("new-phone.json"), serde_json::to_string(&ids)?)?;
    }

    // A new phone, in a child process.
    let enrolled = server.enroll(USER, "new-phone").await?;
    let new_path = phones.join("new-phone.db");
    let before = Wire::read(&metrics);
    let server_before = Wire::server_seconds(&metrics);
    let child = run_new_phone(
        &server.url(),
        &enrolled.token,
        &new_path,
        config.new_phone_only,
    )
    .await?;
    let wire = Wire::read(&metrics).since(before);
    let server_ms = (Wire::server_seconds(&metrics) - server_before) * 1000.0;
    println!("new phone: downloaded {} documents", field(&child, "docs"));
    for round in child
        .get("rounds")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
    {
        let ready = round.get("first_use_ready") == Some(&serde_json::Value::Bool(true));
        println!(
            "  after {:>8.0} ms: {:>6} documents, RSS {:>6.1} MiB, peak {:>6.1} MiB{}",
            field(round, "ms"),
            field(round, "docs_pulled"),
            field(round, "rss_kib") / 1024.0,
            field(round, "peak_rss_kib") / 1024.0,
            if ready { ", usable" } else { "" }
        );
    }
    figures.add(
        "new_phone_first_use_ms",
        field(&child, "first_use_ms"),
        "ms",
    );
    figures.add(
        "new_phone_first_use_docs",
        field(&child, "first_use_docs"),
        "documents",
    );
    figures.add("new_phone_ms", field(&child, "ms"), "ms");
    figures.add("new_phone_cpu_ms", field(&child, "cpu_ms"), "ms");
    figures.add(
        "new_phone_round_trips",
        field(&child, "round_trips"),
        "round trips",
    );
    figures.add("new_phone_server_ms", server_ms, "ms");
    figures.add("new_phone_bytes", wire.total() as f64, "bytes");
    figures.add("new_phone_bytes_sent", wire.sent as f64, "bytes");
    figures.add("new_phone_bytes_received", wire.received as f64, "bytes");
    figures.add(
        "new_phone_client_bytes_received_decoded",
        field(&child, "bytes_received"),
        "bytes",
    );
    figures.add("new_phone_docs", field(&child, "docs"), "documents");
    if let Some(check) = child.get("check").filter(|c| !c.is_null()) {
        println!(
            "new phone, idle check (ADR 0036): {} documents in {:.0} ms ({} batches, CPU {:.0} ms), \
             {} corrected, {} damaged; stored {:.1} MB -> {:.1} MB",
            field(check, "checked"),
            field(check, "ms"),
            field(check, "batches"),
            field(check, "cpu_ms"),
            field(check, "corrected"),
            field(check, "damaged"),
            field(check, "stored_bytes_before") / 1e6,
            field(check, "stored_bytes_after") / 1e6,
        );
        figures.add("new_phone_check_ms", field(check, "ms"), "ms");
        figures.add("new_phone_check_docs", field(check, "checked"), "documents");
        figures.add(
            "new_phone_check_corrected",
            field(check, "corrected"),
            "documents",
        );
        figures.add(
            "new_phone_stored_mb_before_check",
            field(check, "stored_bytes_before") / 1e6,
            "MB",
        );
        figures.add(
            "new_phone_stored_mb_after_check",
            field(check, "stored_bytes_after") / 1e6,
            "MB",
        );
    }
    figures.add(
        "new_phone_peak_rss_mb",
        field(&child, "peak_rss_kib") / 1024.0,
        "MiB",
    );
    figures.add(
        "new_phone_rss_at_start_mb",
        field(&child, "rss_at_start_kib") / 1024.0,
        "MiB",
    );

    let Some((stores, mut old)) = seeded.filter(|_| !config.new_phone_only) else {
        server.stop().await?;
        return Ok(figures);
    };
    // A week offline on the new phone (its store, opened again here), then on the old one.
    let after_year = day_start(year_start, config.year.days() + 7);
    let fresh = ClientDevice::open(
        &server.url(),
        &enrolled.token,
        &new_path,
        new_phone_who(),
        after_year,
    )?;
    let fresh_week = (0, 0, after_year);
    week_offline(
        "week_offline_fresh",
        &fresh,
        &server,
        &metrics,
        &stores,
        fresh_week,
        &mut figures,
    )
    .await?;
    // The old phone takes the new phone's week in, then goes offline for its own week on
    // other stores, so that its measured sync pushes its week and nothing else.
    old.sync().await?;
    let before = match &config.export {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            Some(bundle::export_all(
                server.storage().as_ref(),
                &dir.join("before.bin"),
            )?)
        }
        None => None,
    };
    let old_week = (10, 150, day_start(year_start, config.year.days() + 14));
    week_offline(
        "week_offline",
        &old,
        &server,
        &metrics,
        &stores,
        old_week,
        &mut figures,
    )
    .await?;
    if let (Some(dir), Some(before)) = (&config.export, &before) {
        let (docs, changes, bytes) =
            bundle::export_since(server.storage().as_ref(), before, &dir.join("week.bin"))?;
        println!(
            "exported to {}: the week is {docs} documents, {changes} changes, {bytes} bytes",
            dir.display()
        );
    }
    // Two more weeks of the same work on other stores, right after it: the week offline is
    // also reported as the median of the three (`week_offline_median_ms`), since one sync's
    // time varies with what the disk and the machine are doing.
    let mut weeks: Vec<f64> = figures.get("week_offline_ms").into_iter().collect();
    for (n, (round, day)) in [(15, 21), (25, 28)].into_iter().enumerate() {
        let name = format!("week_offline_repeat_{}", n + 1);
        let week = (
            round,
            50 + 2 * round,
            day_start(year_start, config.year.days() + day),
        );
        week_offline(&name, &old, &server, &metrics, &stores, week, &mut figures).await?;
        weeks.extend(figures.get(&format!("{name}_ms")));
    }
    weeks.sort_by(f64::total_cmp);
    if let Some(median) = weeks.get(weeks.len() / 2) {
        figures.add("week_offline_median_ms", *median, "ms");
    }
    if config.links {
        let upstream = server
            .url()
            .trim_start_matches("http://")
            .parse::<std::net::SocketAddr>()?;
        let proxy = FaultProxy::start(upstream).await?;
        let links = [
            ("bad_link_3g", EmulatedLink::three_g(), 20, 35),
            ("bad_link_2g", EmulatedLink::two_g(), 30, 42),
        ];
        for (name, link, round, day) in links {
            proxy.set_emulated_link(Some(link));
            // A new opening has a new HTTP client: no connection made under another link.
            old = old.via(&proxy.url())?;
            let week = (
                round,
                50 + 2 * round,
                day_start(year_start, config.year.days() + day),
            );
            week_offline(name, &old, &server, &metrics, &stores, week, &mut figures).await?;
        }
    }
    server.stop().await?;
    Ok(figures)
}

/// Makes the stores and records the year on the old phone; returns the stores and the
/// old phone.
async fn seed(
    config: &Config,
    server: &InProcessServer,
    metrics: &PrometheusHandle,
    phones: &Path,
    year_start: Timestamp,
    figures: &mut Figures,
) -> Result<(Vec<DocId>, ClientDevice), BoxError> {
    server.add_user(USER, Role::AccountManager)?;
    let began = Instant::now();
    let stores = {
        let admin = server.admin()?;
        let mut ids = Vec::with_capacity(STORES as usize);
        for n in 1..=STORES {
            ids.push(admin.local.create_store(sample_store(USER, n))?);
        }
        admin.push()?;
        ids
    };
    figures.add("seed_stores_ms", ms(began.elapsed()), "ms");
    let old = ClientDevice::enroll(
        server,
        phones,
        USER,
        Role::AccountManager,
        "old-phone",
        year_start,
    )
    .await?;
    old.sync().await?;
    println!(
        "recording a year on the old phone: {} visits, {} a day, synced every {} days",
        config.year.visits, config.year.visits_per_day, config.year.sync_every_days
    );
    let began = Instant::now();
    let server_before = Wire::server_seconds(metrics);
    let progress = |line: &str| {
        let server = Wire::server_seconds(metrics) - server_before;
        eprintln!("{line} (the server {server:.0} s)");
    };
    let year = record_year(&old, &stores, config.year, year_start, &progress).await?;
    figures.add("seed_year_ms", ms(began.elapsed()), "ms");
    figures.add("seed_year_recording_ms", ms(year.recording), "ms");
    figures.add("seed_year_syncing_ms", ms(year.syncing), "ms");
    figures.add(
        "seed_year_server_ms",
        (Wire::server_seconds(metrics) - server_before) * 1000.0,
        "ms",
    );
    figures.add("seed_year_visits", year.visits as f64, "visits");
    figures.add("seed_year_edits", year.edits as f64, "changes");
    Ok((stores, old))
}

fn main() -> ExitCode {
    let config = match parse_args() {
        Ok(Mode::Bench(config)) => config,
        Ok(Mode::NewPhone { url, token, path }) => {
            return match new_phone(&url, &token, &path) {
                Ok(line) => {
                    println!("{line}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("new phone: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if cfg!(debug_assertions) {
        eprintln!("warning: a debug build measures mostly itself; run with `cargo run --release`");
    }
    let metrics = match metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder() {
        Ok(m) => m,
        Err(e) => {
            eprintln!("cannot install the metrics recorder: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start tokio: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "fieldsync-sync-bench{}: {STORES} stores, a year of {} visits",
        if config.quick { " --quick" } else { "" },
        config.year.visits
    );
    let figures = match runtime.block_on(run(&config, metrics)) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("sync bench failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(path) = &config.json {
        let written = serde_json::to_string_pretty(&figures.json(&config))
            .map_err(|e| e.to_string())
            .and_then(|t| std::fs::write(path, t).map_err(|e| e.to_string()));
        if let Err(e) = written {
            eprintln!("cannot write `{}`: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
