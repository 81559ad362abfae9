//! The log after a device's cursor: the changes of documents in its scope, and what the
//! stores that entered or left it bring or take.
//!
//! A change is sent only if the device held its document when it was made: scope is judged
//! at each row, not as it stands at the end of the snapshot. A store that entered the scope
//! after a change arrives whole at its scope row (every change up to that row), so a
//! change sent on its own always comes after those it builds on, which the device holds.
//! What leaves and comes back within one response is not removed: the device keeps what it
//! holds, and the store's documents arrive again whole.

use std::collections::HashMap;

use super::{Budget, Changes, FeedTx, LogRow, PAGE, moved};
use crate::error::AppResult;
use crate::storage::{DeviceInfo, Feed};
use fieldsync_core::protocol::FeedCursor;

/// Reads the log after `position` up to `end` into `out` until the budget is spent, moving
/// `feed.cursor` (and `feed.more` when rows remain).
pub(super) fn read_log(
    tx: &mut impl FeedTx,
    device: &DeviceInfo,
    (position, floor): (i64, i64),
    end: i64,
    budget: &Budget,
    feed: &mut Feed,
    out: &mut Changes,
) -> AppResult<()> {
    let moves = Moves::read(tx, device, position, end)?;
    let mut left = Left::default();
    let read = read_rows(
        tx,
        device,
        (position, floor, end),
        (budget, &moves),
        feed,
        out,
        &mut left,
    );
    left.settle(feed);
    read
}

/// [`read_log`]'s rows, with what left the scope noted in `left`.
fn read_rows(
    tx: &mut impl FeedTx,
    device: &DeviceInfo,
    (mut position, floor, end): (i64, i64, i64),
    (budget, moves): (&Budget, &Moves),
    feed: &mut Feed,
    out: &mut Changes,
    left: &mut Left,
) -> AppResult<()> {
    // Bounded: each page advances `position`, and the loop stops at the end of the snapshot.
    loop {
        let rows = tx.page(device, position, end, PAGE, floor)?;
        let page_len = rows.len() as i64;
        for row in rows {
            if budget.spent(out) {
                feed.more = true;
                return Ok(());
            }
            let seq = match row {
                LogRow::Change {
                    seq,
                    doc,
                    hash,
                    bytes,
                    store,
                } => {
                    // The device's own changes come back only when it lacks them (its
                    // cursor is behind them: restored from a backup); never the ones it
                    // just sent. A change of a store the device did not hold then comes
                    // with the store, whole, when it enters.
                    let held = store.is_none_or(|store| moves.held_at(&store, seq));
                    if held && !budget.just_pushed.contains(&hash) {
                        out.push(doc, bytes);
                    }
                    seq
                }
                LogRow::Scope {
                    seq,
                    store,
                    old_territory,
                    new_territory,
                    old_demo,
                    new_demo,
                } => {
                    let (was, is) = moved(
                        device,
                        (old_territory.as_deref(), old_demo),
                        (new_territory.as_deref(), new_demo),
                    );
                    if is && !was {
                        for (doc, hash, bytes) in tx.store_changes(&store, seq, floor)? {
                            if !budget.just_pushed.contains(&hash) {
                                out.push(doc, bytes);
                            }
                        }
                        left.entered(store);
                    } else if was && !is {
                        let docs = tx.store_documents(&store, seq, &device.device_id)?;
                        left.left(store, docs);
                    }
                    seq
                }
            };
            feed.cursor = FeedCursor::Log(seq as u64);
            position = seq;
        }
        if page_len < PAGE {
            // Everything up to the end of the snapshot was read: rows not in scope need not
            // be read again by the next sync.
            feed.cursor = FeedCursor::Log(end as u64);
            return Ok(());
        }
    }
}

/// The scope rows between a cursor and the end of the snapshot, by store: whether the
/// device held a store at a row before them.
struct Moves {
    /// Per store, its scope rows in log order, as (position, in scope before it).
    by_store: HashMap<String, Vec<(i64, bool)>>,
}

impl Moves {
    fn read(tx: &mut impl FeedTx, device: &DeviceInfo, after: i64, end: i64) -> AppResult<Self> {
        let mut by_store: HashMap<String, Vec<(i64, bool)>> = HashMap::new();
        for row in tx.scope_rows(after, end)? {
            if let LogRow::Scope {
                seq,
                store,
                old_territory,
                old_demo,
                new_territory,
                new_demo,
            } = row
            {
                let (was, _) = moved(
                    device,
                    (old_territory.as_deref(), old_demo),
                    (new_territory.as_deref(), new_demo),
                );
                by_store.entry(store).or_default().push((seq, was));
            }
        }
        Ok(Self { by_store })
    }

    /// Whether the device held `store` at log position `seq`, for a store in its scope at
    /// the end of the snapshot (the page reads only those): as the first scope row of the
    /// store after `seq` found it, and held when none follows.
    fn held_at(&self, store: &str, seq: i64) -> bool {
        self.by_store
            .get(store)
            .and_then(|rows| rows.iter().find(|(at, _)| *at > seq))
            .is_none_or(|(_, was)| *was)
    }
}

/// The stores that left the scope in one response, and those that entered it after.
#[derive(Default)]
struct Left {
    /// Per store, the documents its last leaving listed, and whether it came back after.
    stores: HashMap<String, (Vec<String>, bool)>,
}

impl Left {
    fn left(&mut self, store: String, docs: Vec<String>) {
        self.stores.insert(store, (docs, false));
    }

    fn entered(&mut self, store: String) {
        if let Some(entry) = self.stores.get_mut(&store) {
            entry.1 = true;
        }
    }

    /// Lists in `feed.removed` the documents of the stores that left and did not come back
    /// within the response: one that came back is the device's again, its documents sent
    /// whole at its return.
    fn settle(self, feed: &mut Feed) {
        for (docs, back) in self.stores.into_values() {
            if !back {
                feed.removed.extend(docs);
            }
        }
    }
}
