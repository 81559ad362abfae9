//! What a new visit or complaint copied from its store, held to every value the store has
//! held (docs/adr/0019-store-copies.md): those the backend recorded (`store_held`), and
//! those the push itself writes to its store documents, so that the office can move a
//! store and visit it at its new place in one push.

use std::collections::HashMap;

use fieldsync_core::protocol::Rejection;
use fieldsync_core::{DocKind, HeldValue, IncomingChange, Replica};

use super::work::Worked;
use super::{PushTx, rejection};
use crate::error::{AppError, AppResult};

/// Every value the copied fields of a store held in its stored changes (for a store stored
/// before the server recorded them).
pub fn held_by_stored(store: &str, changes: &[Vec<u8>]) -> AppResult<Vec<HeldValue>> {
    let mut held = Vec::new();
    for bytes in changes {
        let change = IncomingChange::stored(bytes).map_err(|e| {
            AppError::Internal(format!(
                "a stored change of store `{store}` is unreadable: {e}"
            ))
        })?;
        held.extend(change.store_values());
    }
    held.sort();
    held.dedup();
    Ok(held)
}

/// The values each store document of the push writes to the copied fields, by store: what
/// the visits of the same push may copy, and what the backend records once it is stored.
pub(super) fn pushed_held(
    docs: &[String],
    worked: &[AppResult<Worked>],
) -> HashMap<String, Vec<HeldValue>> {
    let mut held: HashMap<String, Vec<HeldValue>> = HashMap::new();
    for (doc, w) in docs.iter().zip(worked) {
        if let Ok(w) = w
            && let Some(Ok(Ok((_, _, after, _, _)))) = &w.applied
            && after.kind == DocKind::Store
        {
            let entry = held.entry(doc.clone()).or_default();
            entry.extend(w.new.iter().flat_map(IncomingChange::store_values));
        }
    }
    held
}

/// The rejection of a new visit or complaint whose copy of its store is not made of values
/// the store has held; `None` for the other kinds and for a good copy.
pub(super) fn refusal(
    tx: &mut impl PushTx,
    doc: &str,
    replica: &Replica,
    store: Option<&str>,
    pushed_held: &HashMap<String, Vec<HeldValue>>,
) -> AppResult<Option<Rejection>> {
    let (Some(copy), Some(store)) = (replica.store_copy(), store) else {
        return Ok(None);
    };
    let mut held = tx.store_held(store)?;
    if let Some(pushed) = pushed_held.get(store) {
        held.extend(pushed.iter().cloned());
    }
    Ok(fieldsync_core::check_store_copy(&copy, store, &held)
        .err()
        .map(|v| rejection(doc.to_owned(), v)))
}
