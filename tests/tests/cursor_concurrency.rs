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
//! The writers are added with the library before the server starts, the pollers with the
//! admin CLI while it runs.

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
use fieldsync_tests::phone::{ChangeRef, Phone, SyncError, http_client, phones_dir};
use fieldsync_tests::{Seed, ServerProcess};

const WRITERS: usize = 16;
const POLLERS: usize = 4;
/// Each writer syncs this many times, each time with a new visit (two changes) and, every
/// other time, new notes on its previous visit.
const ROUNDS_PER_WRITER: usize = 12;
/// Bounds on the pollers.
const MAX_POLLS: usize = 100_000;
const DEADLINE: Duration = Duration::from_secs(60);

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
            response
                .cursor
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

#[test]
fn pollers_receive_every_acknowledged_change_while_many_writers_commit_concurrently() {
    // Built (if stale) before the clock starts: that can take a while when its sources changed.
    fieldsync_tests::server::server_binary().expect("the server binary");
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("server");
    let phone_dir = phones_dir().expect("phones' folder");
    let writers: Vec<String> = (0..WRITERS).map(|i| format!("am-{i:02}")).collect();
    let (stores, codes) = {
        let seed = Seed::open(&data).expect("open the server database");
        for w in &writers {
            seed.add_user(w, Role::AccountManager)
                .expect("add a writer");
        }
        let territories: Vec<&str> = writers.iter().map(String::as_str).collect();
        let stores = seed.add_stores(&territories, 1).expect("stores");
        let codes: Vec<String> = writers
            .iter()
            .map(|w| seed.enrollment_code(w).expect("code"))
            .collect();
        (stores, codes)
    };
    let server = ServerProcess::start(&data).expect("start the server");
    let base = server.base_url();
    // Pollers are added through the admin CLI while the server runs.
    let pollers: Vec<String> = (0..=POLLERS).map(|i| format!("sup-{i}")).collect();
    let poller_codes: Vec<String> = pollers
        .iter()
        .map(|p| {
            server
                .admin(&["add-user", p, "supervisor", &format!("Supervisor {p}")])
                .expect("add-user");
            server
                .admin(&["enroll-code", p])
                .expect("enroll-code")
                .trim()
                .to_owned()
        })
        .collect();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let http = http_client(Duration::from_secs(30)).expect("http client");
    let (writer_phones, poller_phones) = runtime.block_on(async {
        let mut writer_phones = Vec::new();
        for (i, (user, code)) in writers.iter().zip(&codes).enumerate() {
            let name = format!("writer-{i}");
            let phone = Phone::enroll(
                &http,
                &base,
                code,
                &name,
                local_store(phone_dir.path(), &name, user),
            )
            .await
            .expect("enroll a writer");
            phone.sync_until_idle(10).await.expect("pull the store");
            writer_phones.push(phone);
        }
        let mut poller_phones = Vec::new();
        for (i, (user, code)) in pollers.iter().zip(&poller_codes).enumerate() {
            let name = format!("poller-{i}");
            let phone = Phone::enroll(
                &http,
                &base,
                code,
                &name,
                local_store(phone_dir.path(), &name, user),
            )
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
        .zip(&stores)
        .map(|(phone, stores)| runtime.spawn(writer(phone.clone(), stores[0].clone())))
        .collect();
    let (written, polled) = runtime.block_on(async {
        let mut written = Vec::new();
        for task in write_tasks {
            written.push(task.await.expect("writer task").expect("a writer failed"));
        }
        done.store(true, Ordering::SeqCst);
        let mut polled = Vec::new();
        for task in poll_tasks {
            polled.push(task.await.expect("poller task").expect("a poller failed"));
        }
        (written, polled)
    });

    let acked: BTreeSet<&str> = written
        .iter()
        .flat_map(|(acked, _)| acked.iter().map(|c| c.hash.as_str()))
        .collect();
    // More acknowledgements than changes: a phone resends a document's whole history
    // with its next edit once the document has left the outbox (the server stores it once).
    let acknowledgements: usize = written.iter().map(|(a, _)| a.len()).sum();
    for (i, p) in polled[..POLLERS].iter().enumerate() {
        let lost = missing(&acked, p);
        assert!(
            lost.is_empty(),
            "poller {i} never received {} of {} acknowledged changes, e.g. {:?}",
            lost.len(),
            acked.len(),
            &lost[..lost.len().min(5)]
        );
        let twice: Vec<_> = p.seen.iter().filter(|(_, n)| **n > 1).collect();
        assert!(
            twice.is_empty(),
            "poller {i} received changes twice: {twice:?}"
        );
    }
    let mut checked_visits = 0;
    for phone in &poller_phones[..POLLERS] {
        for ((_, visits), writer) in written.iter().zip(&writer_phones) {
            for id in visits {
                let theirs = writer.local().visit(id).expect("writer's visit");
                let seen = phone
                    .local()
                    .visit(id)
                    .unwrap_or_else(|e| panic!("{} lacks visit `{id}`: {e}", phone.user));
                assert_eq!(seen.notes, theirs.notes);
                checked_visits += 1;
            }
        }
    }
    let skipped = missing(&acked, &polled[POLLERS]);
    assert!(
        !skipped.is_empty(),
        "the checker must catch the poller that skips positions"
    );
    let polls: usize = polled[..POLLERS].iter().map(|p| p.polls).sum();
    let mut during: Vec<Duration> = polled[..POLLERS]
        .iter()
        .flat_map(|p| p.during_writes.iter().copied())
        .collect();
    during.sort();
    let median = during.get(during.len() / 2).copied().unwrap_or_default();
    let slowest = during.last().copied().unwrap_or_default();
    let non_empty: usize = polled[..POLLERS].iter().map(|p| p.non_empty).sum();
    report(&format!(
        "cursor concurrency: {WRITERS} writers, {} acknowledged changes ({acknowledgements} \
         acknowledgements) in {ROUNDS_PER_WRITER} pushes each; {POLLERS} pollers made {polls} polls ({non_empty} brought changes) and \
         each received all of them once ({} polls during the writes, median {median:?}, slowest \
         {slowest:?}); {checked_visits} visit reads matched; the skipping \
         poller missed {} (caught); {:.1} s",
        acked.len(),
        during.len(),
        skipped.len(),
        started.elapsed().as_secs_f64()
    ));
}
