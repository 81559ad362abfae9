//! Durability of the sync server under SIGKILL: phones push visits concurrently while the
//! server is killed at random moments and restarted on the same data folder, again and
//! again. Every change the server acknowledged (a `200` whose body decoded) must be in its
//! database after each kill, stored once and logged once; the phones resend whatever was
//! not acknowledged, and those retried pushes must not be stored twice. At the end a fresh
//! supervisor phone pulls the district and must see every visit with the notes its phone
//! last wrote.
//!
//! One phone is deliberately broken: it counts its pushes as acknowledged as soon as it
//! sends them (before any answer), as a fire-and-forget client would. The same checker must
//! find changes it "acknowledged" that the server never stored, which shows the check can
//! fail. `the_checker_reports_a_change_acknowledged_but_never_stored` shows it directly.
//!
//! Kill moments come from a seeded RNG; the seed is printed and `FIELDSYNC_DURABILITY_SEED`
//! replays the same moments (the phones' and server's speed still varies).
//!
//! The normal test run kills the server [`CYCLES`] times per backend; the soak mode the
//! README names runs more (`FIELDSYNC_DURABILITY_CYCLES=500`), the phones' bounds growing
//! with the cycles so that kills keep meeting pushes.
#![cfg(unix)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fieldsync_core::protocol::{DocChanges, PROTOCOL_VERSION, SyncRequest};
use fieldsync_core::{
    CheckPoint, DeviceIdentity, DocId, DocKind, IncomingChange, LocalStore, NewVisit, Role,
    StoreOptions, Timestamp, VisitKind,
};
use fieldsync_tests::phone::{ChangeRef, Phone, SyncError, http_client, phones_dir};
use fieldsync_tests::{Backend, Seed, ServerLog, ServerProcess, TestDatabase};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_bytes::ByteBuf;

/// Phones that follow the protocol, and one that does not.
const HONEST_PHONES: usize = 4;
const STORES_PER_PHONE: u32 = 2;
/// Kill and restart cycles in the normal test run.
const CYCLES: usize = 24;
/// Most cycles `FIELDSYNC_DURABILITY_CYCLES` may ask for.
const MAX_CYCLES: usize = 20_000;
/// The server runs this long (ms) before each kill ...
const RUN_MS: RangeInclusive<u64> = 60..=420;
/// ... and stays down this long before the restart.
const DOWN_MS: RangeInclusive<u64> = 0..=80;
/// Bounds on each phone's loop over [`CYCLES`] cycles (scaled with the cycles of a soak).
const MAX_VISITS_PER_PHONE: usize = 200;
const MAX_ROUNDS_PER_PHONE: usize = 20_000;

/// [`CYCLES`], or `FIELDSYNC_DURABILITY_CYCLES` (1 to [`MAX_CYCLES`]).
fn cycles() -> usize {
    match std::env::var("FIELDSYNC_DURABILITY_CYCLES") {
        Ok(n) => n
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_CYCLES).contains(n))
            .unwrap_or_else(|| {
                panic!("FIELDSYNC_DURABILITY_CYCLES must be 1 to {MAX_CYCLES}, not `{n}`")
            }),
        Err(_) => CYCLES,
    }
}

/// A phone's bound, scaled from [`CYCLES`] to this run's cycles (never below the bound).
fn scaled(bound: usize) -> usize {
    bound.max(bound * cycles() / CYCLES)
}
/// After the last cycle, the phones have this long to empty their outboxes.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);

/// What the phones share with the test, which kills the server.
#[derive(Default)]
struct Shared {
    /// No new edits: push what is left, then stop.
    stop_editing: AtomicBool,
    stop: AtomicBool,
    acked: Mutex<Vec<ChangeRef>>,
    broken_acked: Mutex<Vec<ChangeRef>>,
    /// Pushes that went out and got no complete answer: their changes and when (Unix ms).
    interrupted: Mutex<Vec<(Vec<ChangeRef>, i64)>>,
    /// Errors a correct server must never cause.
    errors: Mutex<Vec<String>>,
    syncs: AtomicUsize,
    unreachable: AtomicUsize,
}

impl Shared {
    fn error(&self, what: String) {
        if let Ok(mut e) = self.errors.lock() {
            e.push(what);
        }
    }
}

fn notes(visit: &DocId, edit: usize) -> String {
    format!("visit `{visit}`, notes edit {edit}")
}

fn seed() -> u64 {
    match std::env::var("FIELDSYNC_DURABILITY_SEED") {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("FIELDSYNC_DURABILITY_SEED `{text}` is not a u64")),
        Err(_) => rand::random(),
    }
}

/// Printed past the test harness's capture, so the seed and figures show in a normal run.
fn report(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn now_ms() -> i64 {
    Timestamp::now().0
}

/// One edit round of a phone: a new visit with notes, and now and then new notes on an
/// older one (so documents also grow across pushes).
async fn edit(
    phone: &Phone,
    stores: &[DocId],
    visits: &mut Vec<DocId>,
    rng: &mut StdRng,
    round: usize,
) -> Result<(), SyncError> {
    let store = stores[rng.random_range(0..stores.len())].clone();
    let older = (!visits.is_empty() && rng.random_bool(0.5))
        .then(|| visits[rng.random_range(0..visits.len())].clone());
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
            local.set_visit_notes(&visit, &notes(&visit, 0))?;
            if let Some(older) = older {
                local.set_visit_notes(&older, &notes(&older, round))?;
            }
            Ok(visit)
        })
        .await?;
    visits.push(visit);
    Ok(())
}

/// A phone that follows the protocol: edits, syncs, and on a failure retries the same push.
async fn honest_phone(phone: Phone, stores: Vec<DocId>, seed: u64, shared: Arc<Shared>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut visits = Vec::new();
    for round in 1..=scaled(MAX_ROUNDS_PER_PHONE) {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let draining = shared.stop_editing.load(Ordering::SeqCst);
        if !draining
            && visits.len() < scaled(MAX_VISITS_PER_PHONE)
            && let Err(e) = edit(&phone, &stores, &mut visits, &mut rng, round).await
        {
            shared.error(format!("{}: edit failed: {e}", phone.user));
            return;
        }
        match phone.sync_once().await {
            Ok(synced) => {
                shared.syncs.fetch_add(1, Ordering::SeqCst);
                if let Ok(mut acked) = shared.acked.lock() {
                    acked.extend(synced.acknowledged);
                }
                if draining {
                    match phone.with_local(|l| l.pending_documents()).await {
                        Ok(pending) if pending.is_empty() && !synced.more => return,
                        Ok(_) => {}
                        Err(e) => {
                            shared.error(format!("{}: outbox: {e}", phone.user));
                            return;
                        }
                    }
                }
            }
            Err(e) if e.is_transient() => {
                match &e {
                    SyncError::Interrupted { pushed, .. } => {
                        if let Ok(mut i) = shared.interrupted.lock() {
                            i.push((pushed.clone(), now_ms()));
                        }
                    }
                    _ => {
                        shared.unreachable.fetch_add(1, Ordering::SeqCst);
                    }
                }
                let pause = rng.random_range(5..=25);
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
            Err(e) => {
                shared.error(format!("{}: sync failed: {e}", phone.user));
                return;
            }
        }
    }
    shared.error(format!("{}: ran out of rounds", phone.user));
}

/// The broken client: confirms its outbox (and counts it acknowledged) before it sends,
/// and ignores the answer.
async fn broken_phone(phone: Phone, stores: Vec<DocId>, seed: u64, shared: Arc<Shared>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut visits = Vec::new();
    for round in 1..=scaled(MAX_ROUNDS_PER_PHONE) {
        if shared.stop_editing.load(Ordering::SeqCst) {
            return;
        }
        if visits.len() < scaled(MAX_VISITS_PER_PHONE)
            && edit(&phone, &stores, &mut visits, &mut rng, round)
                .await
                .is_err()
        {
            return;
        }
        let confirmed = phone
            .with_local(|local| {
                let batch = local.outbox_batch(200)?;
                let mut sent = Vec::new();
                let mut push = Vec::new();
                for d in &batch {
                    for c in &d.changes {
                        sent.push(ChangeRef {
                            doc: d.id.to_string(),
                            hash: IncomingChange::parse(c)?.hash(),
                        });
                    }
                    push.push(DocChanges {
                        doc: d.id.to_string(),
                        changes: d.changes.iter().cloned().map(ByteBuf::from).collect(),
                        index: None,
                    });
                    // The bug: the outbox forgets the changes before the server has them.
                    local.confirm_pushed(&d.id, d.local_edits, &d.heads)?;
                }
                Ok((sent, push))
            })
            .await;
        let Ok((sent, push)) = confirmed else { return };
        if let Ok(mut acked) = shared.broken_acked.lock() {
            acked.extend(sent);
        }
        let request = SyncRequest {
            protocol: PROTOCOL_VERSION,
            cursor: None,
            push,
            max_response_bytes: Some(1),
            device: None,
            working_set: None,
            index_version: None,
        };
        if phone.post_sync(&request, &[]).await.is_err() {
            let pause = rng.random_range(5..=25);
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
    }
}

fn local_store(dir: &std::path::Path, name: &str, user: &str) -> LocalStore {
    LocalStore::open(
        dir.join(format!("{name}.db")),
        DeviceIdentity::new(user, name),
        StoreOptions::default(),
    )
    .expect("open a phone's store")
}

#[test]
fn every_acknowledged_change_survives_repeated_sigkill_and_retries_are_stored_once() {
    durability(Backend::Sqlite);
}

/// Two instances on one PostgreSQL database; each cycle kills one of them (in turn) while
/// the phones of both push.
#[test]
fn every_acknowledged_change_survives_repeated_sigkill_of_one_instance_on_postgres() {
    durability(Backend::POSTGRES_PAIR);
}

fn durability(backend: Backend) {
    let seed = seed();
    report(&format!(
        "server durability ({backend}): seed {seed} (replay with FIELDSYNC_DURABILITY_SEED={seed})"
    ));
    // Built (if stale) before the clock starts: that can take a while when its sources changed.
    fieldsync_tests::server::server_binary().expect("the server binary");
    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("server");
    let phone_dir = phones_dir().expect("phones' folder");

    // The district, seeded while no server runs.
    let users: Vec<String> = (0..=HONEST_PHONES).map(|i| format!("am-{i}")).collect();
    let database = match backend {
        Backend::Sqlite => None,
        Backend::Postgres { .. } => Some(TestDatabase::create("durability").expect("a database")),
    };
    let url = database.as_ref().map(TestDatabase::url);
    let (stores, codes, sup_code) = {
        let seed = Seed::open_on(&data, url).expect("open the server database");
        for u in &users {
            seed.add_user(u, Role::AccountManager).expect("add a user");
        }
        seed.add_user("sup-0", Role::Supervisor)
            .expect("add the supervisor");
        let territories: Vec<&str> = users.iter().map(String::as_str).collect();
        let stores = seed
            .add_stores(&territories, STORES_PER_PHONE)
            .expect("create stores");
        let codes: Vec<String> = users
            .iter()
            .map(|u| seed.enrollment_code(u).expect("enrollment code"))
            .collect();
        (stores, codes, seed.enrollment_code("sup-0").expect("code"))
    };
    let mut servers: Vec<ServerProcess> = (0..backend.instances())
        .map(|i| {
            let dir = if i == 0 {
                data.clone()
            } else {
                data.join(format!("instance-{i}"))
            };
            ServerProcess::start_on(&dir, url).expect("start the server")
        })
        .collect();
    let bases: Vec<String> = servers.iter().map(ServerProcess::base_url).collect();
    let base = bases[0].clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let http = http_client(Duration::from_secs(20)).expect("http client");
    let phones: Vec<Phone> = runtime.block_on(async {
        let mut phones = Vec::new();
        for (i, (user, code)) in users.iter().zip(&codes).enumerate() {
            let name = format!("phone-{i}");
            let local = local_store(phone_dir.path(), &name, user);
            let phone = Phone::enroll(&http, &bases[i % bases.len()], code, &name, local)
                .await
                .expect("enroll");
            phone
                .sync_until_idle(10)
                .await
                .expect("first sync pulls the stores");
            phones.push(phone);
        }
        phones
    });

    let shared = Arc::new(Shared::default());
    let mut tasks = Vec::new();
    for (i, phone) in phones.iter().enumerate() {
        let (phone, stores, shared) = (phone.clone(), stores[i].clone(), shared.clone());
        let phone_seed = seed.wrapping_add(i as u64 + 1);
        tasks.push(if i < HONEST_PHONES {
            runtime.spawn(honest_phone(phone, stores, phone_seed, shared))
        } else {
            runtime.spawn(broken_phone(phone, stores, phone_seed, shared))
        });
    }

    let setup = started.elapsed();
    let mut restarting = Duration::ZERO;
    let cycles = cycles();
    for cycle in 1..=cycles {
        let run = rng.random_range(RUN_MS);
        std::thread::sleep(Duration::from_millis(run));
        let victim = cycle % servers.len();
        servers[victim].kill().expect("kill the server");
        // Everything a phone counted as acknowledged so far was answered before the kill.
        let acked = shared.acked.lock().expect("acks").clone();
        let log = ServerLog::read(&servers[0].database()).expect("read the killed server's data");
        match log.check(&acked) {
            Ok(_) => {}
            Err(problems) => panic!(
                "cycle {cycle} (seed {seed}, killed after {run} ms): {} problems:\n{}",
                problems.len(),
                problems.join("\n")
            ),
        }
        std::thread::sleep(Duration::from_millis(rng.random_range(DOWN_MS)));
        let restart = Instant::now();
        servers[victim].restart().expect("restart the server");
        restarting += restart.elapsed();
    }
    let killing = started.elapsed() - setup;

    shared.stop_editing.store(true, Ordering::SeqCst);
    let drained = runtime.block_on(async {
        tokio::time::timeout(DRAIN_TIMEOUT, async {
            for task in tasks {
                let _ = task.await;
            }
        })
        .await
    });
    shared.stop.store(true, Ordering::SeqCst);
    assert!(
        drained.is_ok(),
        "phones did not empty their outboxes within {DRAIN_TIMEOUT:?}"
    );
    let errors = shared.errors.lock().expect("errors").clone();
    assert!(errors.is_empty(), "phones failed:\n{}", errors.join("\n"));

    // Every acknowledged change once; the log never holds a change twice.
    let acked = shared.acked.lock().expect("acks").clone();
    let log = ServerLog::read(&servers[0].database()).expect("read the server's data");
    let verified = log.check(&acked).unwrap_or_else(|problems| {
        panic!(
            "after the last restart (seed {seed}): {} problems:\n{}",
            problems.len(),
            problems.join("\n")
        )
    });
    for phone in &phones[..HONEST_PHONES] {
        let pending = phone.local().pending_documents().expect("outbox");
        assert!(
            pending.is_empty(),
            "{} still has {} documents to push",
            phone.user,
            pending.len()
        );
    }

    // The checker catches the broken phone: it "acknowledged" changes the server never got.
    let broken_acked = shared.broken_acked.lock().expect("acks").clone();
    let caught = log
        .check(&broken_acked)
        .expect_err("the fire-and-forget phone must have lost changes the checker sees");
    let lost = caught
        .iter()
        .filter(|p| p.starts_with("acknowledged change") && p.ends_with("is not stored"))
        .count();
    assert!(lost > 0, "{caught:?}");

    // A retried push whose first attempt was stored: the change is logged once, with the
    // time of that first attempt.
    let logged_at: HashMap<&str, i64> = log.log.iter().map(|r| (r.hash.as_str(), r.at)).collect();
    let interrupted = shared.interrupted.lock().expect("interrupted").clone();
    let stored_before_retry: BTreeSet<&str> = interrupted
        .iter()
        .flat_map(|(pushed, at)| pushed.iter().map(move |c| (c, *at)))
        .filter(|(c, at)| logged_at.get(c.hash.as_str()).is_some_and(|t| t <= at))
        .map(|(c, _)| c.hash.as_str())
        .collect();

    // A supervisor's new phone pulls the district: every visit, with its last notes.
    let supervisor = runtime.block_on(async {
        let local = local_store(phone_dir.path(), "supervisor", "sup-0");
        let phone = Phone::enroll(&http, &base, &sup_code, "supervisor", local)
            .await
            .expect("enroll the supervisor");
        phone
            .sync_until_idle(1_000)
            .await
            .expect("the supervisor pulls everything");
        phone
    });
    let mut visits = 0;
    for phone in &phones[..HONEST_PHONES] {
        for id in phone
            .local()
            .document_ids(DocKind::Visit)
            .expect("visit ids")
        {
            let mine = phone.local().visit(&id).expect("own visit");
            let seen = supervisor
                .local()
                .visit(&id)
                .unwrap_or_else(|e| panic!("the supervisor lacks `{id}` of {}: {e}", phone.user));
            assert_eq!(seen.notes, mine.notes, "notes of `{id}`");
            assert_eq!(seen.visitor, phone.user);
            visits += 1;
        }
    }
    let by_device: BTreeMap<&str, usize> = log.log.iter().fold(BTreeMap::new(), |mut m, r| {
        *m.entry(r.device.as_str()).or_default() += 1;
        m
    });
    report(&format!(
        "server durability ({backend}): setup {:.1} s; {cycles} SIGKILL \
         cycles in {:.1} s ({} server starts, restarts took {:.0} ms on average); {:.1} s in all; \
         {} syncs completed, {} interrupted by a kill, {} refused while down",
        setup.as_secs_f64(),
        killing.as_secs_f64(),
        servers.iter().map(ServerProcess::starts).sum::<usize>(),
        restarting.as_secs_f64() * 1000.0 / cycles as f64,
        started.elapsed().as_secs_f64(),
        shared.syncs.load(Ordering::SeqCst),
        interrupted.len(),
        shared.unreachable.load(Ordering::SeqCst),
    ));
    report(&format!(
        "server durability ({backend}): {} acknowledged changes all stored once (and those acknowledged \
         so far checked after each kill); {} changes were stored by a push whose answer a kill \
         cut off, resent, and not stored again; {} changes stored in all from {} devices; the \
         supervisor saw all {visits} visits of the honest phones with their notes; the broken \
         phone lost {lost} of {} changes it counted as acknowledged",
        verified.acknowledged,
        stored_before_retry.len(),
        verified.stored,
        by_device.len(),
        broken_acked.len(),
    ));
    assert!(
        interrupted.len() >= cycles / 4,
        "only {} pushes were cut off by {cycles} kills: the kills missed the pushes",
        interrupted.len()
    );
}

#[test]
fn the_checker_reports_a_change_acknowledged_but_never_stored() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("server");
    let phone_dir = phones_dir().expect("phones' folder");
    let code = {
        let seed = Seed::open(&data).expect("open");
        seed.add_user("am-0", Role::AccountManager).expect("user");
        seed.add_stores(&["am-0"], 1).expect("store");
        seed.enrollment_code("am-0").expect("code")
    };
    let server = ServerProcess::start(&data).expect("start the server");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let acked = runtime.block_on(async {
        let http = http_client(Duration::from_secs(20)).expect("http");
        let local = local_store(phone_dir.path(), "phone", "am-0");
        let phone = Phone::enroll(&http, &server.base_url(), &code, "phone", local)
            .await
            .expect("enroll");
        phone.sync_until_idle(5).await.expect("pull the store");
        let store = phone.local().document_ids(DocKind::Store).expect("ids")[0].clone();
        let visit = phone
            .local()
            .create_visit(NewVisit {
                store_id: store,
                kind: VisitKind::Routine,
                check_in: CheckPoint {
                    at: Timestamp::now(),
                    gps: None,
                },
                complaint_id: None,
            })
            .expect("visit");
        let synced = phone.sync_once().await.expect("push the visit");
        assert_eq!(synced.acknowledged.len(), 1);
        assert_eq!(synced.acknowledged[0].doc, visit.as_str());
        synced.acknowledged
    });
    let log = ServerLog::read(&server.database()).expect("read");
    log.check(&acked).expect("the real acknowledgement holds");

    let never_stored = ChangeRef {
        doc: acked[0].doc.clone(),
        hash: "ab".repeat(32),
    };
    let mut forged = acked.clone();
    forged.push(never_stored.clone());
    let problems = log
        .check(&forged)
        .expect_err("a lost change must be reported");
    assert_eq!(
        problems,
        vec![format!(
            "acknowledged change `{}` of `{}` is not stored",
            never_stored.hash, never_stored.doc
        )]
    );

    // A change logged twice (what a retried push stored again would leave) is reported.
    let mut doubled = log.clone();
    let mut again = doubled.log[doubled.log.len() - 1].clone();
    again.seq += 1_000;
    doubled.log.push(again.clone());
    let problems = doubled
        .check(&acked)
        .expect_err("a duplicate must be reported");
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with(&format!("change `{}` is in the log 2 times", again.hash))),
        "{problems:?}"
    );
}
