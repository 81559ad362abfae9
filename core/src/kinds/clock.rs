//! What only the server judges of a device's new changes: the author of every stamp, the
//! device times they carry, and the state changes they make.
//!
//! Stamps are read by [`Fields::parse`], the one function every reader uses, so the
//! author the server checks is exactly the author every device will show.
//!
//! Device times (decided in `docs/adr/0006-device-times.md`): a change's time and every
//! time it writes may not be later than the server's receive time plus
//! [`MAX_CLOCK_DRIFT_MS`]; a change's time and its stamps may not be earlier than the
//! latest change it built on, minus twice the drift (that change's clock may have run
//! ahead, this one's behind) (a change cannot be made before what it
//! depends on reached its device); and no time predates 2020. An old time alone is not
//! suspect: phones are offline for days.

use std::collections::HashMap;

use automerge::legacy::{Key, ObjectId, OpType};
use automerge::{Change, ChangeHash, ScalarValue};

use crate::doc::{CommitMessage, Doc, Fields};
use crate::ids::DocKind;
use crate::kinds::RuleViolation;

/// How far a device's clock may run ahead of the server's, or behind what it built on.
pub const MAX_CLOCK_DRIFT_MS: i64 = 15 * 60_000;

/// Root fields whose string names the author of the document's creation.
const AUTHOR_KEYS: [&str; 5] = [
    "visitor",
    "started_by",
    "supervisor",
    "created_by",
    "received_by",
];

/// Fields whose integer is a device time (what happened when, by the phone's clock).
const DEVICE_TIME_KEYS: [&str; 5] = ["at", "started_at", "created_at", "received_at", "when"];

/// Who sent the changes, and when the server received them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sender<'a> {
    pub user: &'a str,
    /// The server's receive time, milliseconds.
    pub now: i64,
}

/// Judges `new` (already applied to `doc`, whose other changes the server had): the
/// merged document reads as its kind, the document as the sender made it passes the value
/// rules, and every change's author, times and state changes are the sender's to make.
/// Returns the document's index rows for a first sync (`crate::kinds::feed_index`), read
/// with the judge's own reading of it.
pub(crate) fn judge(
    doc: &mut Doc,
    new: &[Change],
    before: &[ChangeHash],
    sender: &Sender,
) -> Result<Option<Vec<u8>>, RuleViolation> {
    // What needs the document itself, not only a read of it: the times of the changes
    // built on (most of a push's changes build on one another, and Automerge looks a
    // stored change up by rebuilding it) and the heads.
    // (time, last operation) of each change built on.
    let mut built_on: HashMap<ChangeHash, (i64, u64)> = new
        .iter()
        .map(|c| (c.hash(), (c.timestamp(), c.max_op())))
        .collect();
    for dep in new.iter().flat_map(|c| c.deps()) {
        if !built_on.contains_key(dep)
            && let Some(meta) = doc.am.get_change_meta_by_hash(dep)
        {
            let seen = (meta.timestamp, meta.max_op);
            built_on.insert(*dep, seen);
        }
    }
    for change in new {
        super::seen::numbered_after(change, &built_on)?;
    }
    let times: HashMap<ChangeHash, i64> = built_on.iter().map(|(h, (t, _))| (*h, *t)).collect();
    let heads = sender_heads(new);
    let mut merged = doc.heads();
    merged.sort();
    let linear = merged == heads;

    let mut touched = super::fixed::Touched::default();
    let (moves, index, named) = doc.reading(|doc| {
        super::check_header_and_fields(doc)?;
        let mut moves = Vec::new();
        let mut named = Vec::new();
        let entries = super::entries::Entries::of(doc);
        let held = super::fixed::FixedObjects::of(doc);
        for change in new {
            let mut made = judge_change(
                doc,
                change,
                sender,
                &times,
                (&entries, &held, before),
                &mut touched,
            )?;
            if !made.named.is_empty() {
                named.push((change, std::mem::take(&mut made.named)));
            }
            if !made.is_empty() {
                moves.push((change, made));
            }
        }
        let mut index = None;
        if moves.is_empty() {
            finish(doc, before, &heads, (&touched, &held), linear)?;
            index = crate::kinds::feed_index::encode(doc, &merged);
        }
        Ok((moves, index, named))
    })?;
    // Before anything reads the document at a change's heads (Automerge fails there on
    // a change that overwrote what it had not seen).
    for (change, ops) in &named {
        super::seen::check(doc, change, ops)?;
    }
    if moves.is_empty() {
        if !linear {
            sender_view(doc, &heads)?;
        }
        return Ok(index);
    }
    // Task moves and scores are judged on the document as each change found it.
    for (change, made) in &moves {
        if !made.states.is_empty() {
            super::task_moves::check(doc, change, &made.states, sender)?;
        }
        if made.scores && !change.deps().is_empty() {
            let before = doc
                .fork_at(change.deps())
                .map_err(|e| RuleViolation::unreadable(&e))?;
            super::scorecard::scores_final(&before)?;
        }
    }
    let index = doc.reading(|doc| {
        let held = super::fixed::FixedObjects::of(doc);
        finish(doc, before, &heads, (&touched, &held), linear)?;
        Ok(crate::kinds::feed_index::encode(doc, &merged))
    })?;
    if !linear {
        sender_view(doc, &heads)?;
    }
    Ok(index)
}

/// What is judged of the document after its changes: the fixed fields, and that it reads
/// as its kind (with its value rules, when the sender's view is the merged document).
fn finish(
    doc: &Doc,
    before: &[ChangeHash],
    heads: &[ChangeHash],
    (touched, held): (&super::fixed::Touched, &super::fixed::FixedObjects),
    linear: bool,
) -> Result<(), RuleViolation> {
    if !before.is_empty() {
        super::fixed::unchanged(doc, before, heads, touched, held)?;
    }
    if linear {
        // The sender's view is the merged document: its value rules read it as its kind.
        super::check_read_and_values(doc)
    } else {
        super::readable(doc)
            .map(drop)
            .map_err(|e| RuleViolation::unreadable(&e))
    }
}

/// The document as the sender made it, when others' changes merged into it: its shape (a
/// value written into a map that a concurrent change replaced is not in the merged
/// document, but it is in history) and its value rules.
fn sender_view(doc: &mut Doc, heads: &[ChangeHash]) -> Result<(), RuleViolation> {
    let view = doc
        .fork_at(heads)
        .map_err(|e| RuleViolation::unreadable(&e))?;
    view.reading(|view| {
        super::check_header_and_fields(view)?;
        super::check_values(view)
    })
}

/// What a change wrote that is judged on the document as the change found it.
#[derive(Default)]
struct Made {
    /// The task states it wrote.
    states: Vec<Fields>,
    /// Whether it wrote a score.
    scores: bool,
    /// Operations of other changes it names as overwritten ([`super::seen`]).
    named: Vec<super::seen::Named>,
}

impl Made {
    fn is_empty(&self) -> bool {
        self.states.is_empty() && !self.scores
    }
}

/// The heads of the sender's own view: its new changes that none of the others built on.
fn sender_heads(new: &[Change]) -> Vec<ChangeHash> {
    let deps: std::collections::HashSet<ChangeHash> =
        new.iter().flat_map(|c| c.deps().iter().copied()).collect();
    let mut heads: Vec<ChangeHash> = new
        .iter()
        .map(Change::hash)
        .filter(|h| !deps.contains(h))
        .collect();
    heads.sort();
    heads
}

fn clock(field: impl Into<String>, reason: String) -> RuleViolation {
    RuleViolation::at("clock", field, reason)
}

fn author(field: impl Into<String>, by: &str, sender: &str) -> RuleViolation {
    RuleViolation::at(
        "stamp_author",
        field,
        format!(
            "is stamped as written by `{}` but `{sender}` sent it",
            super::shape::quote(by)
        ),
    )
}

fn judge_change(
    doc: &Doc,
    change: &Change,
    sender: &Sender,
    times: &HashMap<ChangeHash, i64>,
    (entries, held, before): (
        &super::entries::Entries,
        &super::fixed::FixedObjects,
        &[ChangeHash],
    ),
    touched: &mut super::fixed::Touched,
) -> Result<Made, RuleViolation> {
    // The document as this change found it, and as it left it. A change that builds on
    // nothing found the document the server held (nothing, for a document it creates):
    // Automerge lets such a change name stored operations as the ones it overwrites.
    let hash = change.hash();
    let joined: Vec<ChangeHash>;
    let (found, left): (&[ChangeHash], &[ChangeHash]) = if change.deps().is_empty() {
        joined = before.iter().copied().chain([hash]).collect();
        (before, &joined)
    } else {
        (change.deps(), std::slice::from_ref(&hash))
    };
    let latest = sender.now + MAX_CLOCK_DRIFT_MS;
    let built_on = change
        .deps()
        .iter()
        .filter_map(|d| times.get(d).copied())
        .max()
        .map(|t| t - 2 * MAX_CLOCK_DRIFT_MS);
    // Why `t` is refused, if it is (`with_floor`: it may not precede what it built on).
    let refused = |t: i64, with_floor: bool| -> Option<String> {
        if t > latest {
            return Some(format!(
                "`{t}` is {} s ahead of the server's clock (the most a device may be is {} s)",
                (t - sender.now) / 1000,
                MAX_CLOCK_DRIFT_MS / 1000
            ));
        }
        if with_floor && t < super::shape::EARLIEST_MS {
            return Some(format!(
                "`{t}` is before 2020: device times are milliseconds since the Unix epoch"
            ));
        }
        match built_on {
            Some(floor) if with_floor && t < floor => Some(format!(
                "`{t}` is earlier than the change it builds on (`{floor}`)"
            )),
            _ => None,
        }
    };
    if let Some(reason) = refused(change.timestamp(), true) {
        return Err(clock("change.time", reason));
    }
    if let Some(message) = change.message() {
        match CommitMessage::parse(message) {
            Some(m) if m.by == sender.user => {}
            Some(m) => return Err(author("change.message.by", &m.by, sender.user)),
            // Anything else names an author some reader may take for it.
            None => {
                return Err(RuleViolation::at(
                    "stamp_author",
                    "change.message",
                    format!(
                        "must be the JSON object {{\"by\": \"{}\", \"what\": text}}, each key once, or no message",
                        sender.user
                    ),
                ));
            }
        }
    }
    let mut state_writes = Vec::new();
    let mut score_writes = false;
    // What this change wrote, for its own fixed-field check below.
    let mut mine = super::fixed::Touched::default();
    let mut named = Vec::new();
    for (n, op) in change.decode().operations.into_iter().enumerate() {
        mine.op(&op);
        super::seen::named_elsewhere(change, n as u64, &op, &mut named);
        entries.check(doc, found, &op, sender.user)?;
        let (Key::Map(key), OpType::Put(value)) = (&op.key, &op.action) else {
            continue;
        };
        let at_root = matches!(op.obj, ObjectId::Root);
        let key = key.as_str();
        // The dotted path of `rest` under the operation's key, for a refusal only.
        let path = |rest: &str| super::paths::path_to(doc, &op.obj, key, rest);
        match value {
            ScalarValue::Str(text) => {
                if AUTHOR_KEYS.contains(&key) && at_root && text.as_str() != sender.user {
                    return Err(author(key, text, sender.user));
                }
                let Some(fields) = Fields::parse(text) else {
                    continue;
                };
                if let Some(by) = fields.str("by")
                    && by != sender.user
                {
                    return Err(author(path("by"), &by, sender.user));
                }
                for time_key in ["at", "when"] {
                    if let Some(t) = fields.i64(time_key)
                        && let Some(reason) = refused(t, time_key == "at")
                    {
                        return Err(clock(path(time_key), reason));
                    }
                }
                if !at_root && doc.kind == DocKind::Scorecard && fields.get("v").is_some() {
                    score_writes |= super::scorecard::DIMENSIONS.contains(&key);
                }
                if at_root && key == "state" && doc.kind == DocKind::Task {
                    state_writes.push(fields);
                }
            }
            ScalarValue::Int(t) | ScalarValue::Timestamp(t) if DEVICE_TIME_KEYS.contains(&key) => {
                if let Some(reason) = refused(*t, false) {
                    return Err(clock(path(""), reason));
                }
            }
            _ => {}
        }
    }
    // A fixed field rewritten by one change and put back by a later one is refused too:
    // the changes in between were judged on the document with the rewritten value (a
    // task's assignee renamed so that its own assignee could verify it).
    if !found.is_empty() {
        super::fixed::unchanged(doc, found, left, &mine, held)?;
    }
    touched.absorb(mine);
    Ok(Made {
        states: state_writes,
        scores: score_writes,
        named,
    })
}
