//! A first sync's pass through the documents in scope: which part a document belongs to
//! (what a new phone needs first, or the history), where a pass stands, and one part read
//! page by page (docs/protocol.md, "A first sync"; ADR 0020).

use std::collections::HashMap;

use fieldsync_core::Role;
use fieldsync_core::protocol::{FeedCursor, Part};

use super::{Budget, ChangeRow, Changes, FeedTx};
use crate::error::{AppError, AppResult};
use crate::storage::{DeviceInfo, Feed};

/// Which documents of the scope a part of a first sync's pass reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PassPart {
    pub part: Part,
    /// Visits and counts that happened before this (ms since the epoch) are history.
    pub since: i64,
    /// Visits and counts that happened before this are outside the device's working set
    /// and not sent at all; `None`: the whole scope.
    pub floor: Option<i64>,
}

impl PassPart {
    /// The value to bind for [`part_condition`]'s `floor`.
    pub fn floor_bound(&self) -> i64 {
        self.floor.unwrap_or(i64::MIN)
    }
}

/// How far back a first sync counts visits and counts as needed for first use: this week,
/// whichever day it is, and the day before it began.
pub const FIRST_USE_DAYS: i64 = 8;
const DAY_MS: i64 = 86_400_000;

/// The SQL condition for "the document of row `d` is in part `part.part`" of a pass whose
/// history ends before the `since` bound as `since` (`?n` in SQLite, `$n::bigint` in
/// PostgreSQL), for a backend's [`FeedTx::scope_documents`] and
/// [`FeedTx::documents_changes`].
///
/// A document's `happened_at` is written once (by the first push that has it) and never
/// changed, and one without it counts as needed for first use, so a document can only move
/// from the first part to the history, never back: a pass that reads the first part, then
/// the history, misses none (one that moved between the two reads arrives twice).
///
/// Both parts leave out what happened before the floor bound as `floor` (the working set's
/// start; the smallest `i64` for the whole scope: see [`window_condition`]).
pub fn part_condition(part: Part, since: &str, floor: &str) -> String {
    match part {
        Part::FirstUse => format!(
            "(d.kind NOT IN ('visit', 'inventory_count') OR d.happened_at IS NULL OR d.happened_at >= {since}) AND {}",
            window_condition(floor)
        ),
        Part::History => format!(
            "(d.kind IN ('visit', 'inventory_count') AND d.happened_at < {since} AND d.happened_at >= {floor})"
        ),
    }
}

/// The SQL condition for "the document of row `d` is in the working set that starts at the
/// instant bound as `floor`": every document but visits and counts that happened before it
/// (docs/protocol.md, "The working set"). Bound to the smallest `i64`, it holds for every
/// document.
pub fn window_condition(floor: &str) -> String {
    format!(
        "(d.kind NOT IN ('visit', 'inventory_count') OR d.happened_at IS NULL OR d.happened_at >= {floor})"
    )
}

/// A subquery of two columns, `id` and `bytes` (its stored changes' size): the documents
/// in scope of the user bound as `user` (as [`scope_condition`](super::scope_condition)
/// says) that pass `filter`, a condition on the docs row `d`; for a backend's
/// [`FeedTx::scope_documents`] and [`FeedTx::documents_changes`].
///
/// An account manager's are drawn from its territory's stores (the stores' index by
/// territory, then the documents' by store) and its own scorecards, so a pass costs what
/// the territory holds, not a scan of the district's documents in id order keeping one in
/// twenty (an account manager's first sync against a district of 20 took 1.39x its time on
/// a server holding its territory alone). `filter` appears once per branch, so it may bind
/// the same parameters twice. Every other role reads the documents with their stores.
pub fn scope_ids(role: Role, user: &str, filter: &str) -> String {
    match role {
        Role::AccountManager => format!(
            "SELECT d.id AS id, d.bytes AS bytes FROM stores s JOIN docs d ON d.store_id = s.id
              WHERE s.territory = {user} AND {filter}
             UNION
             SELECT d.id AS id, d.bytes AS bytes FROM docs d WHERE d.manager = {user} AND {filter}"
        ),
        _ => format!(
            "SELECT d.id AS id, d.bytes AS bytes FROM docs d LEFT JOIN stores s ON s.id = d.store_id
              WHERE {} AND {filter}",
            super::scope_condition(role, user)
        ),
    }
}

/// Where a first sync's pass stands.
pub(super) struct Pass {
    pub(super) upto: i64,
    pub(super) part: PassPart,
    /// The last document sent of the current part, if any.
    pub(super) after: Option<String>,
    /// A pass a `d...` cursor began (before the ordered pass): every document in one part,
    /// by id.
    pub(super) by_id: bool,
}

impl Pass {
    /// The cursor of a response that stops inside the pass.
    pub(super) fn cursor(&self) -> FeedCursor {
        match (&self.after, self.by_id) {
            (Some(after), true) => FeedCursor::Documents {
                upto: self.upto as u64,
                after: after.clone(),
            },
            (after, _) => FeedCursor::Ordered {
                upto: self.upto as u64,
                since: self.part.since,
                floor: self.part.floor,
                part: self.part.part,
                after: after.clone().unwrap_or_default(),
            },
        }
    }
}

/// The start of a first sync's pass, or where its cursor stands inside one. A pass that
/// starts with a working set (`floor`: its start) keeps that floor in its cursor to the end.
pub(super) fn pass_of(
    cursor: &FeedCursor,
    end: i64,
    now_ms: i64,
    floor: Option<i64>,
) -> Option<Pass> {
    match cursor {
        FeedCursor::Log(0) => Some(Pass {
            upto: end,
            part: PassPart {
                part: Part::FirstUse,
                // What first use needs never reaches before the working set's start.
                since: now_ms
                    .saturating_sub(FIRST_USE_DAYS * DAY_MS)
                    .max(floor.unwrap_or(i64::MIN)),
                floor,
            },
            after: None,
            by_id: false,
        }),
        FeedCursor::Log(_) => None,
        FeedCursor::Documents { upto, after } => Some(Pass {
            upto: *upto as i64,
            // Every document happened at or after the earliest instant: all in one part.
            part: PassPart {
                part: Part::FirstUse,
                since: i64::MIN,
                floor: None,
            },
            after: Some(after.clone()),
            by_id: true,
        }),
        FeedCursor::Ordered {
            upto,
            since,
            floor,
            part,
            after,
        } => Some(Pass {
            upto: *upto as i64,
            part: PassPart {
                part: *part,
                since: *since,
                floor: *floor,
            },
            after: (!after.is_empty()).then(|| after.clone()),
            by_id: false,
        }),
    }
}

/// Documents in scope listed per query in a first sync's pass. Listing costs about what
/// the scope holds whatever the limit (the documents are sorted by id), so a response lists
/// once, many, and reads changes only for those it has room for ([`within_room`]).
const LISTED_DOCS: i64 = 4_000;

/// The first of `listed` (documents with the bytes of their stored changes) that a
/// response with `room` bytes left takes, as the pass's loop takes them: documents while
/// less than `room` is taken, so the last one may cross it, and always the first. What a
/// pass reads changes for, so that a response never reads many documents' changes to send
/// a few (a page that went from stores of 1 KB to shelf displays with a year of checks read
/// 50 MB of changes to send 4 MB). A document's stored bytes count every change it has,
/// those pushed since the pass began too, so the estimate errs on the side of reading less.
fn within_room(listed: Vec<(String, i64)>, room: usize) -> Vec<String> {
    let room = room as u64;
    let mut used = 0u64;
    let mut ids = Vec::with_capacity(listed.len());
    for (id, bytes) in listed {
        if !ids.is_empty() && used >= room {
            break;
        }
        used = used.saturating_add(u64::try_from(bytes).unwrap_or(0));
        ids.push(id);
    }
    ids
}

/// One part of a first sync's pass through the documents in scope after `pass.after`,
/// each with its changes up to `pass.upto`, until the budget is spent (returns false, with
/// `feed.cursor` inside the pass and `feed.more`) or the part ends (returns true).
///
/// A document appears in one response only, whole: the cursor moves past a document only
/// with all of its changes up to `upto`. What changes after `upto`, and documents entering
/// or leaving the scope after it, the log after `upto` brings once the pass ends.
pub(super) fn read_pass(
    tx: &mut impl FeedTx,
    device: &DeviceInfo,
    pass: &mut Pass,
    budget: &Budget,
    feed: &mut Feed,
    out: &mut Changes,
) -> AppResult<bool> {
    let limit = LISTED_DOCS;
    // Bounded: each round moves `after` past at least one document, or ends the part.
    loop {
        let from = pass.after.clone().unwrap_or_default();
        let listed = tx.scope_documents(device, pass.part, &from, limit)?;
        let (listed_len, part_ends) = (listed.len(), (listed.len() as i64) < limit);
        let ids = within_room(listed, budget.max_bytes.saturating_sub(out.bytes));
        if ids.is_empty() {
            return Ok(true);
        }
        let cut = ids.len() < listed_len;
        let mut changes = changes_by_document(tx.documents_changes(&ids, pass.upto)?);
        let mut index: HashMap<String, Vec<u8>> =
            tx.documents_index(&ids, pass.upto)?.into_iter().collect();
        for id in &ids {
            if budget.spent(out) {
                feed.cursor = pass.cursor();
                feed.more = true;
                return Ok(false);
            }
            let mut whole = true;
            for (hash, bytes) in changes.remove(id).unwrap_or_default() {
                if budget.just_pushed.contains(&hash) {
                    whole = false;
                } else {
                    out.push(id.clone(), bytes);
                }
            }
            // Rows derived at the heads of every change the document has: only with all of
            // them in this response.
            if let Some(rows) = index.remove(id)
                && whole
            {
                out.set_index(id, rows);
            }
            pass.after = Some(id.clone());
        }
        if let Some(doc) = changes.keys().next() {
            // The query read only the documents listed; a change left over would be lost.
            return Err(AppError::internal(format!(
                "the pass read a change of `{doc}`, which it did not list"
            )));
        }
        if part_ends && !cut {
            return Ok(true);
        }
        if budget.spent(out) {
            feed.cursor = pass.cursor();
            feed.more = true;
            return Ok(false);
        }
    }
}

/// The changes `rows` read, by document, each document's oldest first.
fn changes_by_document(rows: Vec<ChangeRow>) -> HashMap<String, Vec<(String, Vec<u8>)>> {
    let mut by_doc: HashMap<String, Vec<(i64, String, Vec<u8>)>> = HashMap::new();
    for (doc, seq, hash, bytes) in rows {
        by_doc.entry(doc).or_default().push((seq, hash, bytes));
    }
    by_doc
        .into_iter()
        .map(|(doc, mut changes)| {
            changes.sort_unstable_by_key(|(seq, _, _)| *seq);
            let changes = changes.into_iter().map(|(_, h, b)| (h, b)).collect();
            (doc, changes)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::within_room;

    fn listed(sizes: &[i64]) -> Vec<(String, i64)> {
        sizes
            .iter()
            .enumerate()
            .map(|(i, b)| (format!("d{i}"), *b))
            .collect()
    }

    #[test]
    fn a_pass_reads_changes_only_for_the_documents_its_response_has_room_for() {
        // Three small stores, then shelf displays of 50 KB: a response with 100 KB left
        // takes the stores and the displays until it has taken 100 KB, the one that
        // crosses it included, as the pass's loop would have sent them.
        let taken = within_room(
            listed(&[1_000, 1_000, 1_000, 50_000, 50_000, 50_000]),
            100_000,
        );
        assert_eq!(taken, ["d0", "d1", "d2", "d3", "d4"]);
    }

    #[test]
    fn a_pass_always_reads_at_least_one_document_even_one_larger_than_its_room() {
        assert_eq!(within_room(listed(&[9_000_000, 10]), 4_000), ["d0"]);
        assert_eq!(within_room(listed(&[10, 10]), 0), ["d0"]);
        assert!(within_room(Vec::new(), 4_000).is_empty());
    }

    #[test]
    fn documents_whose_size_is_unknown_are_taken_and_left_to_the_budget() {
        // A size of zero (or a nonsense negative one) never stops the list early: the
        // pass's own budget, counted on the changes actually read, stops the response.
        assert_eq!(within_room(listed(&[0, -5, 0]), 10), ["d0", "d1", "d2"]);
    }
}
