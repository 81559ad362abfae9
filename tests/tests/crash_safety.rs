//! Crash safety of the local store: a process recording visits is killed with SIGKILL at
//! random moments, again and again on one database, and after each kill the reopened store
//! must hold every write that had returned `Ok`, load every document and pass
//! `PRAGMA integrity_check`.
//!
//! After each kill the checker loads what the last writer acknowledged or created; about
//! [`SWEEPS`] times in a run (at most every [`SWEEP_EVERY`] cycles), and after the last, it
//! loads every document and checks every acknowledgement since the start, so damage done
//! to older documents (by a compaction, say) is found within a twentieth of the run.
//! Loading everything after every kill would make the test quadratic: an unoptimised
//! Automerge takes milliseconds a document.
//!
//! The kill delays come from a seeded RNG; the seed is printed, and
//! `FIELDSYNC_CRASH_SEED=<seed>` replays the same delays (the writer's speed still varies).
//! `FIELDSYNC_CRASH_CYCLES=N` runs N cycles instead of [`CYCLES`] (a soak).
#![cfg(unix)]

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use fieldsync_core::{CheckPoint, DocId, NewVisit, Timestamp, VisitKind};
use fieldsync_tests::visit_writer::{self, Step};
use fieldsync_tests::{Acks, Scope, check_store};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const WRITER: &str = env!("CARGO_BIN_EXE_fieldsync-visit-writer");
/// Kill cycles on the one database in the normal test run.
const CYCLES: usize = 1_000;
/// Most cycles `FIELDSYNC_CRASH_CYCLES` may ask for.
const MAX_CYCLES: usize = 100_000;
/// Each writer is killed after a delay drawn from `0..=MAX_DELAY_MS`.
const MAX_DELAY_MS: u64 = 40;
/// Bounds each writer, should a kill come late: it stops after this many visits.
const VISITS_PER_RUN: usize = 40;
/// A full check (every document, every acknowledgement so far) after this many cycles at
/// least, and about [`SWEEPS`] of them in a run: each loads every document, so checking
/// every few cycles would make a long run quadratic.
const SWEEP_EVERY: usize = 10;
const SWEEPS: usize = 20;
const SIGKILL: i32 = 9;

/// One run of the writer: what it acknowledged and how it ended.
struct Run {
    acks: Acks,
    killed: bool,
}

/// Starts the writer on `db`, kills it after `delay` (or finds it finished) and reads every
/// line it printed.
fn run_writer(db: &Path, delay: Duration) -> Run {
    let mut child = Command::new(WRITER)
        .arg(db)
        .arg(VISITS_PER_RUN.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the visit writer");
    // Read while it runs, so a full pipe never stalls the writer.
    let mut stdout = child.stdout.take().expect("writer stdout is piped");
    let mut stderr = child.stderr.take().expect("writer stderr is piped");
    let out = thread::spawn(move || {
        let mut bytes = Vec::new();
        stdout.read_to_end(&mut bytes).map(|_| bytes)
    });
    let err = thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).map(|_| text)
    });
    thread::sleep(delay);
    // SIGKILL on Unix; a no-op when the writer has already finished.
    child.kill().expect("kill the visit writer");
    let status = child.wait().expect("reap the visit writer");
    let out = out
        .join()
        .expect("stdout reader")
        .expect("read writer stdout");
    let err = err.join().expect("stderr reader").unwrap_or_default();
    let killed = status.signal() == Some(SIGKILL);
    assert!(
        killed || status.success(),
        "the visit writer failed ({status}): {err}"
    );
    let acks = Acks::parse(&out).unwrap_or_else(|e| panic!("{e}; stderr: {err}"));
    Run { acks, killed }
}

fn seed() -> u64 {
    match std::env::var("FIELDSYNC_CRASH_SEED") {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("FIELDSYNC_CRASH_SEED `{text}` is not a u64")),
        Err(_) => rand::random(),
    }
}

/// Printed past the test harness's capture, so the seed and figures show in a normal run.
fn report(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// [`CYCLES`], or `FIELDSYNC_CRASH_CYCLES` (1 to [`MAX_CYCLES`]).
fn cycles() -> usize {
    match std::env::var("FIELDSYNC_CRASH_CYCLES") {
        Ok(n) => n
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_CYCLES).contains(n))
            .unwrap_or_else(|| {
                panic!("FIELDSYNC_CRASH_CYCLES must be 1 to {MAX_CYCLES}, not `{n}`")
            }),
        Err(_) => CYCLES,
    }
}

#[test]
fn kill_during_visit_writes_loses_nothing_acknowledged() {
    let seed = seed();
    report(&format!(
        "crash safety: seed {seed} (replay with FIELDSYNC_CRASH_SEED={seed})"
    ));
    let mut rng = StdRng::seed_from_u64(seed);
    let cycles = cycles();
    let sweep_every = (cycles / SWEEPS).max(SWEEP_EVERY);
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("device.db");
    let started = Instant::now();
    let mut all = Acks::default();
    let mut seen = BTreeSet::new();
    let (mut killed, mut killed_after_ack, mut killed_in_compaction) = (0, 0, 0);
    let (mut loaded, mut sweeps) = (0, 0);
    for cycle in 1..=cycles {
        let delay = rng.random_range(0..=MAX_DELAY_MS);
        let run = run_writer(&path, Duration::from_millis(delay));
        if run.killed {
            killed += 1;
            if run.acks.writes > 0 {
                killed_after_ack += 1;
            }
            if run.acks.stopped_in_compaction {
                killed_in_compaction += 1;
            }
        }
        let db = visit_writer::open(&path).unwrap_or_else(|e| {
            panic!("cycle {cycle} (seed {seed}, kill after {delay} ms): store does not open: {e}")
        });
        let quick = check_store(&db, &run.acks, Scope::Since(&seen));
        all.merge(run.acks);
        let sweep = cycle % sweep_every == 0 || cycle == cycles;
        let checked = if sweep {
            sweeps += 1;
            quick.and_then(|_| check_store(&db, &all, Scope::Everything))
        } else {
            quick
        };
        match checked {
            Ok(checked) => {
                loaded += checked.loaded;
                seen = checked.ids;
            }
            Err(problems) => panic!(
                "cycle {cycle} (seed {seed}, kill after {delay} ms{}): {} problems:\n{}",
                if sweep { ", full check" } else { "" },
                problems.len(),
                problems.join("\n")
            ),
        }
    }
    let steps: usize = all.visits.values().map(|s| s.len()).sum();
    report(&format!(
        "crash safety: {cycles} cycles in {:.1} s; {killed} killed ({killed_after_ack} after \
         acknowledging at least one write, {killed_in_compaction} during a compaction), {} \
         finished on their own",
        started.elapsed().as_secs_f64(),
        cycles - killed
    ));
    report(&format!(
        "crash safety: {} acknowledged writes ({} stores, {steps} visit steps over {} visits, \
         {} compactions folding {} documents), all present; {} documents in the store, \
         {loaded} loads in {sweeps} full and {cycles} quick checks",
        all.writes,
        all.stores.len(),
        all.visits.len(),
        all.compactions,
        all.compacted_documents,
        seen.len()
    ));
    // Guards the test itself: kills that all land before the store opens would prove nothing.
    assert!(
        killed_after_ack >= cycles / 4,
        "only {killed_after_ack} of {cycles} cycles killed the writer after it acknowledged a write"
    );
}

#[test]
fn the_checker_reports_an_acknowledged_visit_that_is_missing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = visit_writer::open(&dir.path().join("device.db")).expect("open store");
    let mut out = Vec::new();
    visit_writer::run(&db, 2, &mut out).expect("record two visits");
    let mut acks = Acks::parse(&out).expect("writer output");
    assert_eq!(acks.visits.len(), 2);
    check_store(&db, &acks, Scope::Everything).expect("the real acknowledgements all hold");

    let never_written = DocId::new();
    acks.visits
        .insert(never_written.clone(), [Step::Created, Step::Notes].into());
    let problems =
        check_store(&db, &acks, Scope::Everything).expect_err("a lost visit must be reported");
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with(&format!("acknowledged visit `{never_written}` is lost")),
        "{problems:?}"
    );
}

#[test]
fn the_checker_reports_an_acknowledged_step_that_is_not_visible() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = visit_writer::open(&dir.path().join("device.db")).expect("open store");
    let mut out = Vec::new();
    visit_writer::run(&db, 0, &mut out).expect("create the stores");
    let mut acks = Acks::parse(&out).expect("writer output");
    let store = acks.stores.first().cloned().expect("a store");
    let visit = db
        .create_visit(NewVisit {
            store_id: store,
            kind: VisitKind::Routine,
            check_in: CheckPoint {
                at: Timestamp::now(),
                gps: None,
            },
            complaint_id: None,
        })
        .expect("create a visit");
    acks.visits
        .insert(visit.clone(), [Step::Created, Step::Notes].into());
    let problems =
        check_store(&db, &acks, Scope::Everything).expect_err("a lost step must be reported");
    assert_eq!(
        problems,
        vec![format!(
            "visit `{visit}`: acknowledged step `notes` is not visible"
        )]
    );
}
