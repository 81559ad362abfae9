//! What a feed tells a device of the stores that left its scope: the documents it drops
//! (`removed`), and the log position the backend then records as told to it, on which a
//! later push of the device to such a store is judged (`scope_guard.rs`).

use std::collections::{HashMap, HashSet};

use super::{FeedTx, LogRow};
use crate::error::AppResult;
use crate::storage::push::store_in_scope;
use crate::storage::{DeviceInfo, Feed};

/// Lists in `feed.removed` the documents of every store that left the device's scope since
/// the server last recorded telling it, up to the snapshot's `end`, whatever cursor the
/// device presents, and sets `feed.told_upto` to `end`: the log position the backend
/// records as handed to the device once the feed is answered. Nothing when no scope row
/// lies between the recorded position and `end` (no write for the common sync).
///
/// A push to a store that left is judged on whether its device was told (`scope_guard.rs`):
/// edits made before the device heard of the move are still delivered. The record only has
/// to be exact at scope rows: for every scope row at `M`, "recorded ≥ M" is "told of `M`".
/// If only the pass of the device's cursor told it, a device that never moved its cursor
/// past the move (an old cursor sent again, a response of one byte asked for) would never
/// be told, and could write to the store for ever.
///
/// Run only for a sync after which the device holds nothing the server lacks (it pushed
/// nothing, or its report says its outbox is empty once this push is stored): a phone
/// catching up pushes its outbox in several requests, and the edits it made before a move
/// must not be refused because an earlier response of the catch-up passed the move. A
/// device that always claims more to send is held to `scope_guard::UNHEARD_FOR_MS`
/// instead.
pub(super) fn tell_what_left(
    tx: &mut impl FeedTx,
    device: &DeviceInfo,
    end: i64,
    feed: &mut Feed,
) -> AppResult<()> {
    let Some(handed) = tx.handed_before_scope_row(&device.device_id, end)? else {
        return Ok(());
    };
    let listed: HashSet<String> = feed.removed.iter().cloned().collect();
    let left = left_between(tx, device, handed, end)?;
    feed.removed
        .extend(left.into_iter().filter(|doc| !listed.contains(doc)));
    feed.told_upto = Some(end);
    Ok(())
}

/// Whether a store was in the device's scope before a scope row and is after it.
pub(super) fn moved(
    device: &DeviceInfo,
    (old_territory, old_demo): (Option<&str>, Option<bool>),
    (new_territory, new_demo): (Option<&str>, Option<bool>),
) -> (bool, bool) {
    (
        store_in_scope(
            device,
            old_territory.unwrap_or_default(),
            old_demo.unwrap_or(false),
        ),
        store_in_scope(
            device,
            new_territory.unwrap_or_default(),
            new_demo.unwrap_or(false),
        ),
    )
}

/// The documents of stores that left the device's scope at or before `upto` and were not
/// back in it at `upto`: what a sync reading the log from its start would list as removed
/// (a device that syncs from the start may hold documents from before).
pub(super) fn left_before(
    tx: &mut impl FeedTx,
    device: &DeviceInfo,
    upto: i64,
) -> AppResult<Vec<String>> {
    left_between(tx, device, i64::MIN, upto)
}

/// The documents of stores that left the device's scope after `after` and at or before
/// `upto`, and were not back in it at `upto`.
fn left_between(
    tx: &mut impl FeedTx,
    device: &DeviceInfo,
    after: i64,
    upto: i64,
) -> AppResult<Vec<String>> {
    // Per store: the last row that took it out of the scope, and whether it was in the
    // scope after its last move.
    let mut stores: Vec<(String, Option<i64>, bool)> = Vec::new();
    let mut by_store: HashMap<String, usize> = HashMap::new();
    for row in tx.scope_rows(after, upto)? {
        let LogRow::Scope {
            seq,
            store,
            old_territory,
            new_territory,
            old_demo,
            new_demo,
        } = row
        else {
            continue;
        };
        let (was, is) = moved(
            device,
            (old_territory.as_deref(), old_demo),
            (new_territory.as_deref(), new_demo),
        );
        let index = *by_store.entry(store.clone()).or_insert_with(|| {
            stores.push((store, None, false));
            stores.len() - 1
        });
        if let Some(entry) = stores.get_mut(index) {
            if was && !is {
                entry.1 = Some(seq);
            }
            entry.2 = is;
        }
    }
    let mut removed = Vec::new();
    for (store, left_at, back) in stores {
        // Only what the device could have held: a document others made after the store
        // left is none of its business, not even its id.
        if let Some(left_at) = left_at.filter(|_| !back) {
            removed.extend(tx.store_documents(&store, left_at, &device.device_id)?);
        }
    }
    Ok(removed)
}
