//! The floor under a new phone's first sync: what Automerge alone costs to build every
//! document of a territory, with nothing of ours around it (no download, no check, no index,
//! no SQLite). Issue 19 asks for a whole territory on a new phone in 2 s; this says how much
//! of those 2 s any design that builds each document on the phone spends before it stores
//! anything.
//!
//! Reads every stored change of the server data folder `--server-dir DIR` (the embedded
//! SQLite backend, as `fieldsync-sync-bench --new-phone-only --server-dir DIR` seeds it),
//! groups them by document, and times on `--threads N` threads (default: this machine's
//! cores), each taking the next document not yet taken, the median of `--rounds R` rounds
//! (wall time, and the process's CPU time from `/proc/self/stat`) of:
//! - `parse`: every change parsed (`automerge::Change::try_from`, which hashes it and
//!   checks its operations);
//! - `apply`: parsed and applied to a new document, what a first sync that sends changes
//!   needs at the least;
//! - `load_saved`: each document loaded from its saved form (`Automerge::save`, made before
//!   timing), what a first sync that sends saved documents needs at the least (ADR 0024).
//!
//! `--json FILE` writes the figures.
//!
//! ```text
//! fieldsync-sync-bench --new-phone-only --server-dir /tmp/np
//! fieldsync-first-sync-floor --server-dir /tmp/np
//! ```

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use automerge::{Automerge, Change};
use fieldsync_tests::sync_cost::cpu_ms;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const USAGE: &str =
    "usage: fieldsync-first-sync-floor --server-dir DIR [--threads N] [--rounds R] [--json PATH]";

/// One document's stored changes, oldest first.
type Changes = Vec<Vec<u8>>;

fn main() {
    if let Err(e) = run() {
        eprintln!("fieldsync-first-sync-floor: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), BoxError> {
    let mut dir = None;
    let mut threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut rounds = 3usize;
    let mut json = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("`{arg}` needs a value\n{USAGE}"));
        match arg.as_str() {
            "--server-dir" => dir = Some(PathBuf::from(value()?)),
            "--threads" => threads = value()?.parse().map_err(|e| format!("--threads: {e}"))?,
            "--rounds" => rounds = value()?.parse().map_err(|e| format!("--rounds: {e}"))?,
            "--json" => json = Some(PathBuf::from(value()?)),
            _ => return Err(format!("unknown argument `{arg}`\n{USAGE}").into()),
        }
    }
    let dir = dir.ok_or(USAGE)?;
    let threads = threads.clamp(1, 64);
    let rounds = rounds.clamp(1, 100);
    let docs = read_changes(&dir.join("fieldsync.db"))?;
    let changes: usize = docs.iter().map(Vec::len).sum();
    let bytes: usize = docs.iter().flatten().map(Vec::len).sum();
    println!(
        "first-sync floor: {} documents, {changes} changes ({:.1} MB), {threads} threads, {rounds} rounds",
        docs.len(),
        bytes as f64 / 1e6
    );
    let saved = docs
        .iter()
        .map(|changes| Ok(build(changes)?.save()))
        .collect::<Result<Vec<_>, BoxError>>()?;
    let saved_bytes: usize = saved.iter().map(Vec::len).sum();

    let parse = timed(rounds, || {
        on_threads(&docs, threads, |changes| {
            changes
                .iter()
                .try_for_each(|c| Change::try_from(&c[..]).map(drop))?;
            Ok(())
        })
    })?;
    let apply = timed(rounds, || {
        on_threads(&docs, threads, |changes| build(changes).map(drop))
    })?;
    let load_saved = timed(rounds, || {
        on_threads(&saved, threads, |bytes| {
            Automerge::load(bytes).map(drop).map_err(Into::into)
        })
    })?;

    for (name, (wall, cpu)) in [
        ("parse", parse),
        ("apply", apply),
        ("load_saved", load_saved),
    ] {
        let key = format!("first_sync_floor_{name}_ms");
        println!(
            "  {key:<34} {wall:>9.1} ms  (CPU {cpu:.0} ms, {:.1} µs a document)",
            cpu * 1000.0 / docs.len().max(1) as f64
        );
    }
    println!("  saved forms: {:.1} MB", saved_bytes as f64 / 1e6);
    if let Some(path) = json {
        let figures = serde_json::json!({
            "first_sync_floor_documents": docs.len(),
            "first_sync_floor_changes": changes,
            "first_sync_floor_change_bytes": bytes,
            "first_sync_floor_saved_bytes": saved_bytes,
            "first_sync_floor_threads": threads,
            "first_sync_floor_parse_ms": parse.0,
            "first_sync_floor_apply_ms": apply.0,
            "first_sync_floor_load_saved_ms": load_saved.0,
            "first_sync_floor_parse_cpu_ms": parse.1,
            "first_sync_floor_apply_cpu_ms": apply.1,
            "first_sync_floor_load_saved_cpu_ms": load_saved.1,
        });
        std::fs::write(path, serde_json::to_vec_pretty(&figures)?)?;
    }
    Ok(())
}

/// Every document's changes in the server's database, each document's in log order.
fn read_changes(db: &std::path::Path) -> Result<Vec<Changes>, BoxError> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| format!("{}: {e}", db.display()))?;
    let mut statement = conn.prepare("SELECT doc_id, bytes FROM changes ORDER BY doc_id, seq")?;
    let mut rows = statement.query([])?;
    let mut docs: Vec<(String, Changes)> = Vec::new();
    // Bounded by the table's rows.
    while let Some(row) = rows.next()? {
        let (doc, bytes): (String, Vec<u8>) = (row.get(0)?, row.get(1)?);
        match docs.last_mut() {
            Some((last, changes)) if *last == doc => changes.push(bytes),
            _ => docs.push((doc, vec![bytes])),
        }
    }
    if docs.is_empty() {
        return Err(format!("{} holds no changes", db.display()).into());
    }
    Ok(docs.into_iter().map(|(_, changes)| changes).collect())
}

/// A new document with `changes` applied.
fn build(changes: &[Vec<u8>]) -> Result<Automerge, BoxError> {
    let parsed = changes
        .iter()
        .map(|c| Change::try_from(&c[..]))
        .collect::<Result<Vec<_>, _>>()?;
    let mut doc = Automerge::new();
    doc.apply_changes(parsed)?;
    Ok(doc)
}

/// Runs `each` on every item on `threads` threads, each taking the next item not taken
/// yet (a share of equal counts would leave one thread the larger documents).
fn on_threads<T: Sync>(
    items: &[T],
    threads: usize,
    each: impl Fn(&T) -> Result<(), BoxError> + Sync,
) -> Result<(), BoxError> {
    let next = AtomicUsize::new(0);
    let worker = || -> Result<(), BoxError> {
        // Bounded: each pass takes an index, and the items end.
        while let Some(item) = items.get(next.fetch_add(1, Ordering::Relaxed)) {
            each(item)?;
        }
        Ok(())
    };
    std::thread::scope(|scope| {
        let running: Vec<_> = (0..threads).map(|_| scope.spawn(worker)).collect();
        running
            .into_iter()
            .try_for_each(|t| t.join().map_err(|_| BoxError::from("a thread panicked"))?)
    })
}

/// The median wall time of `rounds` runs of `work`, and the median CPU time of the whole
/// process during them (every thread), in milliseconds.
fn timed(rounds: usize, work: impl Fn() -> Result<(), BoxError>) -> Result<(f64, f64), BoxError> {
    let (mut walls, mut cpus) = (Vec::with_capacity(rounds), Vec::with_capacity(rounds));
    for _ in 0..rounds {
        let (start, cpu) = (Instant::now(), cpu_ms().unwrap_or(0.0));
        work()?;
        walls.push(start.elapsed().as_secs_f64() * 1000.0);
        cpus.push(cpu_ms().unwrap_or(0.0) - cpu);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    Ok((median(&mut walls), median(&mut cpus)))
}
