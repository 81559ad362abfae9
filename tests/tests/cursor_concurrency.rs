//! The change cursor never skips a change, even when writes commit concurrently.
//!
//! Sixteen account managers' phones push small changes at once, as fast as the server
//! takes them, while supervisors' phones follow the feed with their cursors in a loop.
//! When the writers are done, each poller syncs once more; by then it must have received
//! every change any writer got acknowledged, exactly once, and its local store (which
//! refuses changes whose dependencies are missing) must show every visit with its notes.
//! A cursor that passed a change committed late would lose that change for good: the
//! final poll starts from the cursor, so it cannot make up for a skip.
//!
//! One more poller is deliberately broken: it moves its cursor one position past what the
//! server gave whenever it received something. The same check must find the changes it
//! skipped, which shows the check can fail.
//!
//! Users, stores and enrollment codes are seeded with the server's library before the
//! servers start.
//!
//! On PostgreSQL the same run goes through two server instances on one database (writers
//! and pollers enrolled with either, in turn), and every push sleeps a random 0–15 ms
//! between reserving its cursors and committing, so transactions commit out of order all
//! the time. With the locked counter the pollers still miss nothing. With a plain
//! sequence (`CursorAllocation::NaiveSequence`, a mode that exists only for this test) the
//! same run makes correct pollers miss changes: the check sees the difference.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use fieldsync_core::protocol::{PROTOCOL_VERSION, SyncRequest};
use fieldsync_core::{
    CheckPoint, DeviceIdentity, DocId, IncomingChange, LocalStore, NewVisit, Role, StoreOptions,
    Timestamp, VisitKind,
};
use fieldsync_server::storage::postgres::CursorAllocation;
use fieldsync_server::{PostgresOptions, PostgresStorage};
use fieldsync_tests::in_process::InProcessServer;
use fieldsync_tests::phone::{ChangeRef, Phone, SyncError, http_client, phones_dir};
use fieldsync_tests::{Seed, ServerProcess, TestDatabase};

const WRITERS: usize = 16;
const POLLERS: usize = 4;
/// Each writer syncs this many times, each time with a new visit (two changes) and, every
/// other time, new notes on its previous visit.
const ROUNDS_PER_WRITER: usize = 12;
/// Bounds on the pollers.
const MAX_POLLS: usize = 100_000;
const DEADLINE: Duration = Duration::from_secs(60);
/// On PostgreSQL, each push sleeps up to this long before it commits.
const COMMIT_DELAY: Duration = Duration::from_millis(15);
/// Runs of the naive cursor allowed to find a skip before the test gives up on it.
const NAIVE_RUNS: usize = 3;

fn report(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn local_store(dir: &std::path::Path, name: &str, user: &str) -> LocalStore {
    LocalStore::open(
        dir.join(format!("{name}.db")),
        DeviceIdentity::new(user, name),
        StoreOptions::default(),
    )
    .expect("open a phone's store")
}

fn notes(visit: &DocId, round: usize) -> String {
    format!("visit `{visit}`, round {round}")
}

/// A writer: one visit per round, synced at once. Returns what the server acknowledged
/// and its visits.
async fn writer(phone: Phone, store: DocId) -> Result<(Vec<ChangeRef>, Vec<DocId>), SyncError> {
    let mut acked = Vec::new();
    let mut visits: Vec<DocId> = Vec::new();
    for round in 0..ROUNDS_PER_WRITER {
        let (store, previous) = (store.clone(), visits.last().cloned());
        let visit = phone
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
                local.set_visit_notes(&visit, &notes(&visit, round))?;
                if let Some(previous) = previous.filter(|_| round % 2 == 1) {
                    local.set_visit_notes(&previous, &notes(&previous, round))?;
                }
                Ok(visit)
            })
            .await?;
        visits.push(visit);
        acked.extend(phone.sync_once().await?.acknowledged);
    }
    Ok((acked, visits))
}

/// What a poller received.
#[derive(Debug, Default)]
struct Polled {
    seen: BTreeMap<String, usize>,
    polls: usize,
    non_empty: usize,
    /// How long each poll took, while the writers were still writing.
    during_writes: Vec<Duration>,
}

impl Polled {
    fn add(&mut self, changes: impl IntoIterator<Item = ChangeRef>) {
        let mut any = false;
        for c in changes {
            *self.seen.entry(c.hash).or_default() += 1;
            any = true;
        }
        self.polls += 1;
        if any {
            self.non_empty += 1;
        }
    }
}

/// A supervisor's phone following the feed until the writers are done, then once more.
async fn poller(phone: Phone, done: Arc<AtomicBool>) -> Result<Polled, SyncError> {
    let started = Instant::now();
    let mut polled = Polled::default();
    for _ in 0..MAX_POLLS {
        let writers_done = done.load(Ordering::SeqCst);
        let began = Instant::now();
        let synced = phone.sync_once().await?;
        if !writers_done {
            polled.during_writes.push(began.elapsed());
        }
        let idle = synced.pulled.is_empty();
        polled.add(synced.pulled);
        if writers_done && !synced.more {
            return Ok(polled);
        }
        if started.elapsed() > DEADLINE {
            break;
        }
        if idle {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    Err(SyncError::BadResponse("the poller ran out of time".into()))
}

/// The broken poller: skips one log position after every response that brought changes.
async fn skipping_poller(phone: Phone, done: Arc<AtomicBool>) -> Result<Polled, SyncError> {
    let started = Instant::now();
    let mut polled = Polled::default();
    let mut cursor = phone.with_local(|l| l.sync_cursor()).await?;
    for _ in 0..MAX_POLLS {
        let writers_done = done.load(Ordering::SeqCst);
        let request = SyncRequest {
            protocol: PROTOCOL_VERSION,
            cursor: cursor.clone(),
            push: Vec::new(),
            max_response_bytes: None,
            device: None,
            working_set: None,
            index_version: None,
        };
        let response = match phone.post_sync(&request, &[]).await {
            Ok((response, _)) => response,
            // Skipped past the end of the log: back to the last cursor the server gave.
            Err(SyncError::Refused { status: 409, .. }) => {
                cursor = cursor
                    .and_then(|c| c.parse::<u64>().ok())
                    .map(|c| c.saturating_sub(1).to_string());
                continue;
            }
            Err(e) => return Err(e),
        };
        let mut received = Vec::new();
        for doc in &response.changes {
            for c in &doc.changes {
                received.push(ChangeRef {
                    doc: doc.doc.clone(),
                    hash: IncomingChange::parse(c)?.hash(),
                });
            }
        }
        let idle = received.is_empty();
        polled.add(received);
        cursor = if idle {
            Some(response.cursor)
        } else {
            // The bug: one position too far.
            fieldsync_core::protocol::split_mark(&response.cursor)
                .0
                .parse::<u64>()
                .ok()
                .map(|c| (c + 1).to_string())
        };
        if writers_done && !response.more {
            return Ok(polled);
        }
        if started.elapsed() > DEADLINE {
            break;
        }
        if idle {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    Err(SyncError::BadResponse("the poller ran out of time".into()))
}

/// Acknowledged changes the poller never received.
fn missing<'a>(acked: &'a BTreeSet<&'a str>, polled: &Polled) -> Vec<&'a str> {
    acked
        .iter()
        .filter(|h| !polled.seen.contains_key(**h))
        .copied()
        .collect()
}

/// The seeded district: writers (user, code, store) and pollers (user, code); the last
/// poller is the skipping one.
struct District {
    writers: Vec<(String, String, DocId)>,
    pollers: Vec<(String, String)>,
}

fn seed_district(seed: &Seed) -> District {
    let users: Vec<String> = (0..WRITERS).map(|i| format!("am-{i:02}")).collect();
    for w in &users {
        seed.add_user(w, Role::AccountManager)
            .expect("add a writer");
    }
    let territories: Vec<&str> = users.iter().map(String::as_str).collect();
    let stores = seed.add_stores(&territories, 1).expect("stores");
    let writers = users
        .iter()
        .zip(stores)
        .map(|(w, stores)| {
            let code = seed.enrollment_code(w).expect("code");
            (w.clone(), code, stores[0].clone())
        })
        .collect();
    let pollers = (0..=POLLERS)
        .map(|i| {
            let p = format!("sup-{i}");
            seed.add_user(&p, Role::Supervisor).expect("add a poller");
            let code = seed.enrollment_code(&p).expect("code");
            (p, code)
        })
        .collect();
    District { writers, pollers }
}

/// What one run of the writers and pollers gave.
struct Outcome {
    acked: BTreeSet<String>,
    acknowledgements: usize,
    polled: Vec<Polled>,
    /// Pollers that failed, with why (a poller whose cursor skipped a document's first
    /// change cannot store the later ones: its store refuses changes with missing history).
    poller_errors: Vec<String>,
    checked_visits: usize,
    /// Visits a correct poller's store lacks or holds with other notes.
    visit_problems: Vec<String>,
}

impl Outcome {
    /// Acknowledged changes each correct poller never received, and changes it got twice.
    fn lost_and_doubled(&self) -> (Vec<usize>, Vec<usize>) {
        let acked: BTreeSet<&str> = self.acked.iter().map(String::as_str).collect();
        self.polled[..POLLERS]
            .iter()
            .map(|p| {
                (
                    missing(&acked, p).len(),
                    p.seen.values().filter(|n| **n > 1).count(),
                )
            })
            .unzip()
    }

    fn skipped_by_broken_poller(&self) -> usize {
        let acked: BTreeSet<&str> = self.acked.iter().map(String::as_str).collect();
        missing(&acked, &self.polled[POLLERS]).len()
    }
}

/// Enrolls everyone (with the servers at `bases` in turn), then lets the writers write
/// while the pollers poll, and reads what each poller holds.
fn exercise(runtime: &tokio::runtime::Runtime, bases: &[String], district: &District) -> Outcome {
    let phone_dir = phones_dir().expect("phones' folder");
    let http = http_client(Duration::from_secs(30)).expect("http client");
    let base = |i: usize| bases[i % bases.len()].clone();
    let (writer_phones, poller_phones) = runtime.block_on(async {
        let mut writer_phones = Vec::new();
        for (i, (user, code, _)) in district.writers.iter().enumerate() {
            let name = format!("writer-{i}");
            let local = local_store(phone_dir.path(), &name, user);
            let phone = Phone::enroll(&http, &base(i), code, &name, local)
                .await
                .expect("enroll a writer");
            phone.sync_until_idle(10).await.expect("pull the store");
            writer_phones.push(phone);
        }
        let mut poller_phones = Vec::new();
        for (i, (user, code)) in district.pollers.iter().enumerate() {
            let name = format!("poller-{i}");
            let local = local_store(phone_dir.path(), &name, user);
            let phone = Phone::enroll(&http, &base(i + 1), code, &name, local)
                .await
                .expect("enroll a poller");
            // Start from the current end of the log, so the loop only sees the writers.
            phone.sync_until_idle(100).await.expect("catch up");
            poller_phones.push(phone);
        }
        (writer_phones, poller_phones)
    });

    let done = Arc::new(AtomicBool::new(false));
    let poll_tasks: Vec<_> = poller_phones
        .iter()
        .enumerate()
        .map(|(i, phone)| {
            let (phone, done) = (phone.clone(), done.clone());
            if i < POLLERS {
                runtime.spawn(poller(phone, done))
            } else {
                runtime.spawn(skipping_poller(phone, done))
            }
        })
        .collect();
    let write_tasks: Vec<_> = writer_phones
        .iter()
        .zip(&district.writers)
        .map(|(phone, (_, _, store))| runtime.spawn(writer(phone.clone(), store.clone())))
        .collect();
    let (written, polled) = runtime.block_on(async {
        let mut written = Vec::new();
        for task in write_tasks {
            written.push(task.await.expect("writer task").expect("a writer failed"));
        }
        done.store(true, Ordering::SeqCst);
        let mut polled = Vec::new();
        for task in poll_tasks {
            polled.push(task.await.expect("poller task"));
        }
        (written, polled)
    });
    let poller_errors: Vec<String> = polled
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.as_ref().err().map(|e| format!("poller {i}: {e}")))
        .collect();
    let polled: Vec<Polled> = polled.into_iter().map(Result::unwrap_or_default).collect();

    let acked: BTreeSet<String> = written
        .iter()
        .flat_map(|(acked, _)| acked.iter().map(|c| c.hash.clone()))
        .collect();
    // More acknowledgements than changes: a phone resends a document's whole history
    // with its next edit once the document has left the outbox (the server stores it once).
    let acknowledgements: usize = written.iter().map(|(a, _)| a.len()).sum();
    let mut checked_visits = 0;
    let mut visit_problems = Vec::new();
    for phone in &poller_phones[..POLLERS] {
        for ((_, visits), writer) in written.iter().zip(&writer_phones) {
            for id in visits {
                let theirs = writer.local().visit(id).expect("writer's visit");
                match phone.local().visit(id) {
                    Ok(seen) if seen.notes == theirs.notes => {}
                    Ok(_) => visit_problems.push(format!("{}: other notes on `{id}`", phone.user)),
                    Err(e) => {
                        visit_problems.push(format!("{} lacks visit `{id}`: {e}", phone.user))
                    }
                }
                checked_visits += 1;
            }
        }
    }
    Outcome {
        acked,
        acknowledgements,
        polled,
        poller_errors,
        checked_visits,
        visit_problems,
    }
}

/// Asserts that every correct poller received every acknowledged change once and holds
/// every visit, and that the checker caught the skipping poller; prints the figures.
fn assert_nothing_skipped(what: &str, outcome: &Outcome, started: Instant) {
    assert!(
        outcome.poller_errors.is_empty(),
        "{what}: {:?}",
        outcome.poller_errors
    );
    let (lost, doubled) = outcome.lost_and_doubled();
    for (i, (lost, doubled)) in lost.iter().zip(&doubled).enumerate() {
        assert_eq!(
            *lost,
            0,
            "{what}: poller {i} never received {lost} of {} acknowledged changes",
            outcome.acked.len()
        );
        assert_eq!(
            *doubled, 0,
            "{what}: poller {i} received {doubled} changes twice"
        );
    }
    assert!(
        outcome.visit_problems.is_empty(),
        "{what}: {:?}",
        &outcome.visit_problems[..outcome.visit_problems.len().min(5)]
    );
    let skipped = outcome.skipped_by_broken_poller();
    assert!(
        skipped > 0,
        "{what}: the checker must catch the poller that skips positions"
    );
    let polled = &outcome.polled[..POLLERS];
    let polls: usize = polled.iter().map(|p| p.polls).sum();
    let mut during: Vec<Duration> = polled
        .iter()
        .flat_map(|p| p.during_writes.iter().copied())
        .collect();
    during.sort();
    let median = during.get(during.len() / 2).copied().unwrap_or_default();
    let slowest = during.last().copied().unwrap_or_default();
    let non_empty: usize = polled.iter().map(|p| p.non_empty).sum();
    report(&format!(
        "cursor concurrency ({what}): {WRITERS} writers, {} acknowledged changes \
         ({} acknowledgements) in {ROUNDS_PER_WRITER} pushes each; {POLLERS} pollers made \
         {polls} polls ({non_empty} brought changes) and each received all of them once ({} \
         polls during the writes, median {median:?}, slowest {slowest:?}); {} visit reads \
         matched; the skipping poller missed {skipped} (caught); {:.1} s",
        outcome.acked.len(),
        outcome.acknowledgements,
        during.len(),
        outcome.checked_visits,
        started.elapsed().as_secs_f64()
    ));
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

#[test]
fn pollers_receive_every_acknowledged_change_while_many_writers_commit_concurrently() {
    // Built (if stale) before the clock starts: that can take a while when its sources changed.
    fieldsync_tests::server::server_binary().expect("the server binary");
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("server");
    let district = seed_district(&Seed::open(&data).expect("open the server database"));
    let server = ServerProcess::start(&data).expect("start the server");
    let outcome = exercise(&runtime(), &[server.base_url()], &district);
    assert_nothing_skipped("sqlite", &outcome, started);
}

/// Two in-process instances, each with its own PostgreSQL storage (pool, replica cache)
/// and port, on one fresh database, pushes committing after a random delay.
fn postgres_instances(
    runtime: &tokio::runtime::Runtime,
    dir: &std::path::Path,
    cursor: CursorAllocation,
) -> (TestDatabase, District, Vec<InProcessServer>) {
    let database = TestDatabase::create("cursor").expect("a test database");
    let data = dir.join("server");
    let district = seed_district(&Seed::open_on(&data, Some(database.url())).expect("seed"));
    let options = PostgresOptions {
        cursor,
        commit_delay: Some(COMMIT_DELAY),
        ..PostgresOptions::default()
    };
    let servers = (0..2)
        .map(|i| {
            let storage = PostgresStorage::open(database.url(), options.clone())
                .expect("open the PostgreSQL storage");
            runtime
                .block_on(InProcessServer::start_on(
                    &data.join(format!("instance-{i}")),
                    Arc::new(storage),
                    None,
                ))
                .expect("start an instance")
        })
        .collect();
    (database, district, servers)
}

#[test]
fn pollers_of_two_postgres_instances_receive_every_change_while_commits_land_out_of_order() {
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("temp dir");
    let runtime = runtime();
    let (_database, district, servers) =
        postgres_instances(&runtime, dir.path(), CursorAllocation::LockedCounter);
    let bases: Vec<String> = servers.iter().map(InProcessServer::url).collect();
    let outcome = exercise(&runtime, &bases, &district);
    assert_nothing_skipped("postgres, 2 instances, delayed commits", &outcome, started);
    drop(servers);
}

#[test]
fn a_naive_sequence_cursor_on_postgres_makes_pollers_miss_changes_that_commit_late() {
    let started = Instant::now();
    for run in 1..=NAIVE_RUNS {
        let dir = tempfile::tempdir().expect("temp dir");
        let runtime = runtime();
        let (_database, district, servers) =
            postgres_instances(&runtime, dir.path(), CursorAllocation::NaiveSequence);
        let bases: Vec<String> = servers.iter().map(InProcessServer::url).collect();
        let outcome = exercise(&runtime, &bases, &district);
        drop(servers);
        // A poller that skipped a document's first change fails on the next one (its
        // store refuses changes whose history is missing); one that skipped a later change
        // finishes without it.
        let broken_history: Vec<&String> = outcome
            .poller_errors
            .iter()
            .filter(|e| !e.starts_with(&format!("poller {POLLERS}:")))
            .collect();
        let (lost, _) = outcome.lost_and_doubled();
        let completed_but_lost: Vec<usize> = lost
            .iter()
            .enumerate()
            .filter(|(i, n)| {
                **n > 0
                    && !broken_history
                        .iter()
                        .any(|e| e.starts_with(&format!("poller {i}:")))
            })
            .map(|(_, n)| *n)
            .collect();
        for e in &broken_history {
            // A skipped creation, or a skipped change a later one depends on.
            assert!(
                e.contains("do not hold") || e.contains("which this device does not have"),
                "a poller failed for another reason than a skipped change: {e}"
            );
        }
        if !broken_history.is_empty() || !completed_but_lost.is_empty() {
            report(&format!(
                "cursor concurrency (postgres, naive sequence): run {run}: of {} acknowledged \
                 changes, correct pollers that finished missed {completed_but_lost:?}, and {} \
                 failed on changes whose history they had skipped ({:?}); as a plain sequence \
                 must; {:.1} s",
                outcome.acked.len(),
                broken_history.len(),
                broken_history.first(),
                started.elapsed().as_secs_f64()
            ));
            return;
        }
    }
    panic!(
        "in {NAIVE_RUNS} runs with out-of-order commits the naive sequence never made a poller \
         miss a change: this test cannot tell a correct cursor from a wrong one"
    );
}
