//! The first pass of a push: each document's stored state read in the request's order
//! (unless it is outside the device's scope and the push brings nothing for it), with its
//! access and size.

use fieldsync_core::IncomingChange;

use super::work::Job;
use super::{PushTx, Stored};
use crate::error::AppResult;
use crate::storage::scope_guard::{Access, Scopes};

/// What the first pass learnt of a document besides its state.
pub(super) struct Seen {
    /// `None`: a document the server does not have.
    pub(super) access: Option<Access>,
    pub(super) stored_bytes: u64,
}

/// Reads what the push needs of one document: its state (unless it is outside the
/// device's scope and the push brings nothing for it), its access and size.
pub(super) fn read_one(
    tx: &mut impl PushTx,
    scopes: &mut Scopes<'_>,
    doc: String,
    changes: Vec<IncomingChange>,
) -> AppResult<(Job, Seen)> {
    let row = tx.doc_row(&doc)?;
    let access = match &row {
        Some(row) => Some(scopes.of_doc(tx, row)?),
        None => None,
    };
    let hidden = access == Some(Access::Out);
    let stored = if hidden && changes.is_empty() {
        Stored::Unread
    } else {
        tx.stored(&doc, row.as_ref().map(|r| r.heads.as_str()))?
    };
    let stored_bytes = row.map_or(0, |r| u64::try_from(r.bytes).unwrap_or(0));
    Ok((
        Job {
            doc,
            stored,
            changes,
            hidden,
        },
        Seen {
            access,
            stored_bytes,
        },
    ))
}
