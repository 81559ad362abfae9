//! What the server's judge costs on the week offline, without HTTP, SQLite or a second
//! process: a quiet, repeatable loop to profile (`perf record`) and to compare builds.
//!
//! Reads the bundles `fieldsync-sync-bench --export DIR` writes (`before.bin`, the
//! server's documents as the week begins, and `week.bin`, the week's changes), builds each
//! touched document's replica as the server held it, then `--rounds N` times applies the
//! week's changes to a copy of every replica, as the server's push does (the document's
//! summary, [`Replica::apply_for_rules`]: apply, judge, work out what the changes touched
//! where the write rules read it, the summary again, and the index rows a first sync
//! sends with the document: `Replica::feed_index`), and, for
//! comparison, only applies them to a bare Automerge document (`--kind K`: only the
//! documents of kind `K`). Prints the median of each
//! (ms for the whole week) and their difference, the judge's cost; `--json FILE` writes
//! them.
//!
//! ```text
//! fieldsync-sync-bench --quick --export /tmp/exp
//! fieldsync-judge-bench --bundles /tmp/exp --rounds 30
//! ```

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use automerge::Automerge;
use fieldsync_core::{DocId, IncomingChange, Pusher, Replica};
use fieldsync_tests::bundle;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const USAGE: &str =
    "usage: fieldsync-judge-bench --bundles DIR [--rounds N] [--kind KIND] [--json FILE]";

/// One document the week touched: its replica before the week, and the week's changes.
struct Work {
    id: DocId,
    before: Replica,
    bare: Automerge,
    changes: Vec<IncomingChange>,
    raw: Vec<automerge::Change>,
    kind: String,
    user: String,
    received_at: i64,
}

fn main() {
    if let Err(e) = run() {
        eprintln!("fieldsync-judge-bench: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), BoxError> {
    let mut dir = None;
    let mut rounds = 20usize;
    let mut json = None;
    let mut only = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("`{arg}` needs a value\n{USAGE}"));
        match arg.as_str() {
            "--bundles" => dir = Some(PathBuf::from(value()?)),
            "--rounds" => rounds = value()?.parse().map_err(|e| format!("--rounds: {e}"))?,
            "--json" => json = Some(PathBuf::from(value()?)),
            "--kind" => only = Some(value()?),
            _ => return Err(format!("unknown argument `{arg}`\n{USAGE}").into()),
        }
    }
    let dir = dir.ok_or(USAGE)?;
    let rounds = rounds.clamp(1, 10_000);
    let mut work = load(&dir)?;
    if let Some(kind) = &only {
        work.retain(|w| &w.kind == kind);
    }
    let changes: usize = work.iter().map(|w| w.changes.len()).sum();
    println!(
        "judge bench: {} documents, {changes} changes, {rounds} rounds",
        work.len()
    );

    // Per kind, over every round: (documents, Automerge alone, as a push), seconds.
    let mut by_kind: std::collections::BTreeMap<&str, (usize, f64, f64)> = Default::default();
    let mut applied = Vec::with_capacity(rounds);
    let mut judged = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let mut spent = 0.0;
        for w in &work {
            let mut bare = w.bare.clone();
            let start = Instant::now();
            bare.apply_changes(w.raw.iter().cloned())?;
            let took = start.elapsed().as_secs_f64();
            spent += took;
            let entry = by_kind.entry(&w.kind).or_default();
            entry.0 += 1;
            entry.1 += took;
        }
        applied.push(spent * 1000.0);
        let mut spent = 0.0;
        for w in &work {
            let mut replica = w.before.clone();
            let pusher = Pusher {
                user: &w.user,
                received_at: w.received_at,
            };
            let start = Instant::now();
            let before = replica.summary()?;
            let verdict = replica.apply_for_rules(&w.changes, before.as_ref(), &pusher)?;
            replica.summary()?;
            // The rows a first sync sends with it, derived by every accepted push.
            replica.feed_index();
            let took = start.elapsed().as_secs_f64();
            spent += took;
            by_kind.entry(&w.kind).or_default().2 += took;
            if let Err(v) = verdict {
                return Err(format!("`{}` was refused: {v}", w.id).into());
            }
        }
        judged.push(spent * 1000.0);
    }
    // The fastest round too: on a busy machine, the least disturbed.
    let fastest = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let (applied_min, judged_min) = (fastest(&applied), fastest(&judged));
    let applied = median(&mut applied);
    let judged = median(&mut judged);
    println!("  judge_bench_apply_ms          {applied:10.2} ms  (Automerge alone)");
    println!("  judge_bench_apply_judge_ms    {judged:10.2} ms  (as a push)");
    println!(
        "  judge_bench_judge_ms          {:10.2} ms  (the difference)",
        judged - applied
    );
    println!(
        "  fastest rounds: {applied_min:.2} ms alone, {judged_min:.2} ms as a push ({:.2}x)",
        judged_min / applied_min
    );
    for (kind, (docs, bare, pushed)) in &by_kind {
        let per = |s: f64| s * 1e6 / *docs as f64;
        println!(
            "  {kind:<16} {:5} documents: {:7.1} µs alone, {:7.1} µs as a push",
            docs / rounds,
            per(*bare),
            per(*pushed)
        );
    }
    if let Some(path) = json {
        let figures = serde_json::json!({
            "judge_bench_documents": work.len(),
            "judge_bench_changes": changes,
            "judge_bench_rounds": rounds,
            "judge_bench_apply_ms": applied,
            "judge_bench_apply_judge_ms": judged,
            "judge_bench_judge_ms": judged - applied,
            "judge_bench_fastest_apply_ms": applied_min,
            "judge_bench_fastest_apply_judge_ms": judged_min,
        });
        std::fs::write(path, serde_json::to_vec_pretty(&figures)?)?;
    }
    Ok(())
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Every document of `week.bin`, with its replica as `before.bin` holds it.
fn load(dir: &std::path::Path) -> Result<Vec<Work>, BoxError> {
    let before: HashMap<String, Vec<u8>> = bundle::read(&dir.join("before.bin"))?
        .into_iter()
        .map(|r| (r.head.id, r.data))
        .collect();
    let mut work = Vec::new();
    for record in bundle::read(&dir.join("week.bin"))? {
        let id = DocId::parse("id", &record.head.id)?;
        let old = before.get(&record.head.id).map_or(&[][..], Vec::as_slice);
        let bare = Automerge::load(old)?;
        let mut all = bare.clone();
        all.load_incremental(&record.data)?;
        let raw: Vec<automerge::Change> = all.get_changes(&bare.get_heads()).into_iter().collect();
        let stored: Vec<Vec<u8>> = bare
            .get_changes(&[])
            .into_iter()
            .map(|c| c.raw_bytes().to_vec())
            .collect();
        let before = Replica::load(&id, stored.iter().map(Vec::as_slice))?;
        let changes = raw
            .iter()
            .map(|c| IncomingChange::parse(c.raw_bytes()))
            .collect::<Result<Vec<_>, _>>()?;
        let user = raw
            .iter()
            .find_map(|c| {
                let message: serde_json::Value = serde_json::from_str(c.message()?).ok()?;
                message.get("by")?.as_str().map(str::to_owned)
            })
            .ok_or(format!("no change of `{id}` names its author"))?;
        let received_at = raw.iter().map(|c| c.timestamp()).max().unwrap_or(0) + 1_000;
        work.push(Work {
            id,
            before,
            bare,
            changes,
            raw,
            kind: record.head.kind.clone(),
            user,
            received_at,
        });
    }
    Ok(work)
}
