//! What a killed writer acknowledged, and the check that a reopened store still holds it.
//!
//! [`Acks::parse`] reads the writer's output (see [`crate::visit_writer`]); only complete
//! lines count, so a line the writer was killed while printing is not an acknowledgement.
//! [`check_store`] opens nothing itself: give it the store reopened after the kill and every
//! acknowledgement made so far, and it lists each way the store falls short.

use std::collections::{BTreeMap, BTreeSet};

use fieldsync_core::{DocId, DocKind, LocalStore};

use crate::visit_writer::{PHOTO_CAPTION, Step, VISIT_MINUTES, notes_for, photo_hash_for};

/// The writes a writer acknowledged.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Acks {
    pub stores: BTreeSet<DocId>,
    /// Each visit with the steps acknowledged for it.
    pub visits: BTreeMap<DocId, BTreeSet<Step>>,
    /// Compactions that returned `Ok`, and how many documents they folded in all.
    pub compactions: usize,
    pub compacted_documents: usize,
    /// Every acknowledged write: stores, visit steps and compactions.
    pub writes: usize,
    /// The last complete line was `begin compact`: the writer stopped during a compaction.
    pub stopped_in_compaction: bool,
}

impl Acks {
    /// Reads a writer's output. A last line without its newline is ignored: the writer was
    /// killed while printing it. Any other line that is not the writer's is an error.
    pub fn parse(output: &[u8]) -> Result<Acks, String> {
        let text = String::from_utf8_lossy(output);
        let mut lines: Vec<&str> = text.split('\n').collect();
        // The piece after the last newline is empty, or a line cut short by the kill.
        lines.pop();
        let mut acks = Acks::default();
        for line in lines {
            acks.stopped_in_compaction = false;
            let words: Vec<&str> = line.split(' ').collect();
            match words.as_slice() {
                ["ok", "store", id] => {
                    acks.stores.insert(parse_id(id, line)?);
                }
                ["ok", "visit", id, step] => {
                    let step = Step::parse(step)
                        .ok_or_else(|| format!("unknown step in writer line `{line}`"))?;
                    acks.visits
                        .entry(parse_id(id, line)?)
                        .or_default()
                        .insert(step);
                }
                ["ok", "compact", n] => {
                    acks.compacted_documents += n
                        .parse::<usize>()
                        .map_err(|_| format!("bad count in writer line `{line}`"))?;
                    acks.compactions += 1;
                }
                ["begin", "compact"] => {
                    acks.stopped_in_compaction = true;
                    continue;
                }
                _ => return Err(format!("unexpected writer line `{line}`")),
            }
            acks.writes += 1;
        }
        Ok(acks)
    }

    /// Adds what a later run of the writer acknowledged.
    pub fn merge(&mut self, later: Acks) {
        self.stores.extend(later.stores);
        for (id, steps) in later.visits {
            self.visits.entry(id).or_default().extend(steps);
        }
        self.compactions += later.compactions;
        self.compacted_documents += later.compacted_documents;
        self.writes += later.writes;
        self.stopped_in_compaction = later.stopped_in_compaction;
    }
}

fn parse_id(text: &str, line: &str) -> Result<DocId, String> {
    DocId::parse("id", text).map_err(|e| format!("bad id in writer line `{line}`: {e}"))
}

/// Why an acknowledged document that loads is still counted lost.
const HELD_OTHER: &str = "it loads but does not hold what was written";

/// Which documents [`check_store`] loads. Loading is the costly part (an unoptimised build
/// of Automerge takes milliseconds a document), so a long test loads everything only now
/// and then and, in between, what changed since.
#[derive(Clone, Copy, Debug)]
pub enum Scope<'a> {
    /// Every document of every kind.
    Everything,
    /// The acknowledged documents and every document whose id is not in the set (the ids a
    /// previous check listed): what the last writer acknowledged or created.
    Since(&'a BTreeSet<DocId>),
}

/// What a passing [`check_store`] looked at.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Checked {
    /// Every document of every kind in the store.
    pub ids: BTreeSet<DocId>,
    /// How many of them were loaded.
    pub loaded: usize,
}

/// Checks a store reopened after the writer was killed against what it acknowledged: the
/// file passes `PRAGMA integrity_check`; every acknowledged store and visit loads and shows
/// each acknowledged step; every document in `scope` loads; a visit shows the writer's steps
/// in order with none missing before the last (each step is one transaction); a document's
/// outbox count equals its number of changes, and every visit is in the visit index and
/// nothing else is (chunk, outbox and index rows commit together).
///
/// The outbox check holds because the writer is the store's only author: every change is a
/// local edit and none has been confirmed by a server.
pub fn check_store(db: &LocalStore, acks: &Acks, scope: Scope<'_>) -> Result<Checked, Vec<String>> {
    let mut problems = Vec::new();
    match db.integrity_check() {
        Ok(verdict) if verdict == "ok" => {}
        Ok(verdict) => problems.push(format!("integrity check says `{verdict}`")),
        Err(e) => problems.push(format!("integrity check failed: {e}")),
    }
    let outbox = match db.pending_documents() {
        Ok(pending) => pending
            .into_iter()
            .map(|p| (p.id, p.local_edits))
            .collect::<BTreeMap<_, _>>(),
        Err(e) => {
            problems.push(format!("the outbox does not read: {e}"));
            BTreeMap::new()
        }
    };
    let mut checked = Checked::default();
    let mut listed: Vec<(DocKind, Vec<DocId>)> = Vec::new();
    for kind in DocKind::ALL {
        match db.document_ids(kind) {
            Ok(ids) => {
                checked.ids.extend(ids.iter().cloned());
                listed.push((kind, ids));
            }
            Err(e) => problems.push(format!("ids of {kind} documents do not read: {e}")),
        }
    }
    // Each document is loaded once; acknowledgements are then checked against what loaded.
    let mut stores = BTreeSet::new();
    let mut visits: BTreeMap<DocId, BTreeSet<Step>> = BTreeMap::new();
    for (kind, ids) in &listed {
        for id in ids {
            let wanted = match scope {
                Scope::Everything => true,
                Scope::Since(seen) => {
                    !seen.contains(id) || acks.stores.contains(id) || acks.visits.contains_key(id)
                }
            };
            if !wanted {
                continue;
            }
            checked.loaded += 1;
            let loaded = match *kind {
                DocKind::Visit => visible_steps(db, id).map(|steps| match steps {
                    Ok(steps) => {
                        if let Err(wrong) = in_order(id, &steps) {
                            problems.push(wrong);
                        }
                        visits.insert(id.clone(), steps);
                    }
                    Err(wrong) => problems.push(wrong),
                }),
                DocKind::Store => db.store(id).map(|_| {
                    stores.insert(id.clone());
                }),
                _ => Ok(()),
            };
            // `history` loads any kind (from the cache when just read above).
            match loaded.and_then(|()| db.history(id)) {
                Err(e) => problems.push(format!("{kind} `{id}` does not load: {e}")),
                Ok(history) => {
                    let changes = history.len() as i64;
                    let edits = outbox.get(id).copied().unwrap_or(0);
                    if changes != edits {
                        problems.push(format!(
                            "{kind} `{id}` has {changes} changes but the outbox counts {edits} local edits"
                        ));
                    }
                }
            }
        }
    }
    for id in &acks.stores {
        if !stores.contains(id) {
            let why = db
                .store(id)
                .err()
                .map_or_else(|| HELD_OTHER.to_owned(), |e| e.to_string());
            problems.push(format!("acknowledged store `{id}` is lost: {why}"));
        }
    }
    for (id, steps) in &acks.visits {
        match visits.get(id) {
            None => {
                let why = db
                    .visit(id)
                    .err()
                    .map_or_else(|| HELD_OTHER.to_owned(), |e| e.to_string());
                problems.push(format!("acknowledged visit `{id}` is lost: {why}"));
            }
            Some(visible) => {
                for step in steps.difference(visible) {
                    problems.push(format!(
                        "visit `{id}`: acknowledged step `{}` is not visible",
                        step.code()
                    ));
                }
            }
        }
    }
    let mut indexed = BTreeSet::new();
    let of = |kind: DocKind| {
        listed
            .iter()
            .filter(move |(k, _)| *k == kind)
            .flat_map(|(_, ids)| ids)
    };
    for store in of(DocKind::Store) {
        match db.visits_of_store(store) {
            Ok(ids) => indexed.extend(ids),
            Err(e) => problems.push(format!("visits of store `{store}` do not read: {e}")),
        }
    }
    let visit_ids: BTreeSet<DocId> = of(DocKind::Visit).cloned().collect();
    for id in indexed.symmetric_difference(&visit_ids) {
        if indexed.contains(id) {
            problems.push(format!("the visit index lists `{id}`, which is no visit"));
        } else {
            problems.push(format!("visit `{id}` is missing from the visit index"));
        }
    }
    if problems.is_empty() {
        Ok(checked)
    } else {
        Err(problems)
    }
}

/// Loads a visit and says which of the writer's steps it shows: `Err` when it does not
/// load, `Ok(Err(problem))` when a step's value is not the one the writer wrote.
fn visible_steps(
    db: &LocalStore,
    id: &DocId,
) -> fieldsync_core::Result<Result<BTreeSet<Step>, String>> {
    let visit = db.visit(id)?;
    let mut steps = BTreeSet::from([Step::Created]);
    if !visit.notes.is_empty() {
        if visit.notes != notes_for(id) {
            return Ok(Err(format!(
                "visit `{id}` has notes `{}`, not the ones written",
                visit.notes
            )));
        }
        steps.insert(Step::Notes);
    }
    if !visit.photos.is_empty() {
        let hash = photo_hash_for(id);
        if visit.photos.len() != 1
            || visit.photos[0].hash != hash
            || visit.photos[0].caption != PHOTO_CAPTION
        {
            return Ok(Err(format!(
                "visit `{id}` has photos {:?}, not the one written",
                visit.photos
            )));
        }
        steps.insert(Step::Photo);
    }
    if let Some(out) = visit.check_out {
        if out.at.0 - visit.check_in.at.0 != VISIT_MINUTES * 60_000 {
            return Ok(Err(format!(
                "visit `{id}` checks out at `{}` after checking in at `{}`",
                out.at.0, visit.check_in.at.0
            )));
        }
        steps.insert(Step::CheckedOut);
    }
    Ok(Ok(steps))
}

/// The writer makes the steps in order, one transaction each: what is visible must be the
/// first few, never a later step without an earlier one.
fn in_order(id: &DocId, steps: &BTreeSet<Step>) -> Result<(), String> {
    let prefix = Step::ALL
        .iter()
        .take(steps.len())
        .copied()
        .collect::<BTreeSet<_>>();
    if &prefix == steps {
        Ok(())
    } else {
        let codes: Vec<&str> = steps.iter().map(|s| s.code()).collect();
        Err(format!(
            "visit `{id}` shows steps {codes:?}, not a prefix of the writer's order"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_cut_short_by_the_kill_is_not_an_acknowledgement() {
        let id = DocId::new();
        let output = format!("ok visit {id} created\nok visit {id} notes\nok visit {id} pho");
        let acks = Acks::parse(output.as_bytes()).expect("writer output");
        assert_eq!(
            acks.visits.get(&id),
            Some(&BTreeSet::from([Step::Created, Step::Notes]))
        );
        assert_eq!(acks.writes, 2);
    }

    #[test]
    fn a_kill_after_begin_compact_is_seen_as_stopped_in_compaction() {
        let id = DocId::new();
        let output = format!("ok visit {id} checked_out\nbegin compact\nok comp");
        let acks = Acks::parse(output.as_bytes()).expect("writer output");
        assert!(acks.stopped_in_compaction);
        assert_eq!(acks.writes, 1);
    }

    #[test]
    fn a_line_the_writer_never_prints_is_refused() {
        let err = Acks::parse(b"ok visit not-an-id created\n").expect_err("must refuse");
        assert!(err.starts_with("bad id in writer line"), "{err}");
    }
}
