//! Preparing one document of a merge, on a worker thread or the writer's: its changes
//! parsed and applied to what the store held of it, checked to read as its kind, and what
//! must be written encoded and derived. No database is touched here but to read what the
//! store holds of the document, on the writer's thread.

use automerge::{ActorId, ChangeHash};
use rusqlite::OptionalExtension;

use super::{Prepared, Ready, Stored, Unbuilt};
use crate::doc::Doc;
use crate::error::{Error, Result};
use crate::ids::{DocId, DocKind};
use crate::kinds::feed_index::FeedIndex;
use crate::store::Inner;
use crate::store::damaged::{self, Damage};
use crate::store::index::Derived;

/// Parses `changes`, applies them (with the changes `held` aside for it, when it is
/// damaged) to what the store held of document `id`, checks that the result reads as its
/// kind, and encodes and derives what must be written. Every change must parse and every
/// dependency must be present, or nothing is prepared; a document that does not read is
/// prepared as damaged. Unless `cache`, a document whose index rows are derived here is
/// dropped here.
#[allow(clippy::too_many_arguments)]
pub(super) fn prepare(
    id: &DocId,
    changes: &[Vec<u8>],
    stored: Stored,
    held: Option<Vec<Vec<u8>>>,
    sent_rows: Option<FeedIndex>,
    actor: &ActorId,
    cache: bool,
) -> Result<Prepared> {
    if let Some(sent) = sent_rows
        && let Some(unbuilt) = unbuilt(changes, sent)
    {
        return Ok(unbuilt);
    }
    let parse = |i: usize, bytes: &[u8], what: &str| {
        automerge::Change::try_from(bytes).map_err(|e| {
            Error::invalid(
                "changes",
                format!("{what} {i} of `{id}` is not an automerge change: {e}"),
            )
        })
    };
    let repairing = held.is_some();
    let held = held.unwrap_or_default();
    let mut parsed = held
        .iter()
        .enumerate()
        .map(|(i, bytes)| parse(i, bytes, "kept-aside change"))
        .collect::<Result<Vec<_>>>()?;
    // What arrives is compared with its checksum: a byte altered on the way would otherwise
    // parse as another change, stored under another hash, or fail later as a dependency no
    // one sent. Changes kept aside are this device's own bytes, some kept before it compared.
    for (i, bytes) in changes.iter().enumerate() {
        let change = parse(i, bytes, "change")?;
        if !crate::doc::checksum_holds(bytes, &change) {
            return Err(Error::invalid(
                "changes",
                format!(
                    "change {i} of `{id}` is not an automerge change: its checksum does not \
                     hold (its bytes were altered on the way)"
                ),
            ));
        }
        parsed.push(change);
    }
    let (mut doc, before, new) = match stored {
        Stored::New => match damaged::new_document(id, parsed, actor)? {
            Ok(doc) => (doc, Vec::new(), true),
            Err(damage) => return Ok(Prepared::Damaged(damage)),
        },
        Stored::Cached(doc) => grow(*doc, parsed)?,
        Stored::Saved {
            kind,
            snapshot,
            chunks,
        } => {
            let loaded = Doc::load(
                id,
                kind,
                actor,
                snapshot.as_deref(),
                chunks.iter().map(Vec::as_slice),
            );
            match loaded {
                Ok(doc) => grow(doc, parsed)?,
                Err(e) => {
                    return Ok(Prepared::Damaged(Damage::unloadable(
                        kind, &e, &held, changes,
                    )));
                }
            }
        }
    };
    doc.check_identity()?;
    if let Some(hash) = doc.am.get_missing_deps(&[]).first() {
        return Err(Error::invalid(
            "changes",
            format!("they depend on change `{hash}` of `{id}`, which this device does not have"),
        ));
    }
    let heads = doc.heads();
    if heads == before && !repairing {
        return Ok(Prepared::Unchanged(cache.then_some(doc), heads));
    }
    // One read of each map serves the check, the index rows it derives, the fields in
    // conflict and the store: the writer does not read the document again for them.
    let (checked, conflicts, store) = doc.reading(|doc| match damaged::check_readable(doc) {
        Ok(rows) => (
            Ok(rows),
            doc.conflicted_fields(),
            crate::kinds::store_of(doc),
        ),
        Err(e) => (Err(e), Vec::new(), None),
    });
    match checked {
        Ok(Some(rows)) => doc.set_derived(rows),
        Ok(None) => {}
        Err(e) => return Ok(Prepared::Damaged(Damage::of(&mut doc, &e, &before))),
    }
    let bytes = if new {
        doc.save_full_uncompressed()
    } else {
        doc.save_new_changes()
    };
    let mut ready = Ready {
        kind: doc.kind,
        heads,
        store,
        doc: None,
        rows: None,
        conflicts,
        repaired: repairing,
    };
    if cache {
        ready.doc = Some(doc);
    } else {
        ready.rows = doc.take_derived::<Derived>();
        if ready.rows.is_none() {
            ready.doc = Some(doc);
        }
    }
    Ok(if new {
        Prepared::New(ready, bytes)
    } else {
        Prepared::Grown(ready, bytes)
    })
}

/// A document this device does not hold, prepared from the rows the server sent without
/// building it: its changes kept as they came, one after the other, as one chunk (what
/// [`Doc::load`] reads), its heads read from them. `None` when a change is not one whole
/// uncompressed Automerge change whose checksum holds, or depends on one not given, or the
/// rows were derived at other heads: the document is then built (and refused or set aside
/// as damaged as it would be without the rows).
fn unbuilt(changes: &[Vec<u8>], sent: FeedIndex) -> Option<Prepared> {
    let heads = crate::kinds::feed_index::heads_of(changes)?;
    // Rows of other heads (kept by a server past a change stored another way) are not
    // this document's.
    if heads.is_empty() || !sent.derived_at(&heads) {
        return None;
    }
    let mut chunk = Vec::with_capacity(changes.iter().map(Vec::len).sum());
    for change in changes {
        chunk.extend_from_slice(change);
    }
    Some(Prepared::Unbuilt(
        Unbuilt {
            kind: sent.rows.kind(),
            heads,
            rows: sent.rows,
            conflicts: sent.conflicts,
        },
        chunk,
    ))
}

/// Applies changes to a document the store has; returns it with its heads before.
fn grow(mut doc: Doc, parsed: Vec<automerge::Change>) -> Result<(Doc, Vec<ChangeHash>, bool)> {
    let before = doc.heads();
    doc.am.apply_changes(parsed)?;
    Ok((doc, before, false))
}

impl Inner {
    /// The rows the server sent for `id`, taken for a document this device does not hold
    /// and has no changes kept aside for; left for any other.
    pub(super) fn feed_index_for(
        &mut self,
        id: &DocId,
        stored: &Stored,
        held: &Option<Vec<Vec<u8>>>,
    ) -> Option<FeedIndex> {
        if matches!(stored, Stored::New) && held.is_none() {
            self.feed_index.remove(id)
        } else {
            None
        }
    }

    /// What the store holds of `id` for a merge: the document taken out of the cache, or
    /// its bytes (the caller puts the document back, or drops it on failure).
    pub(super) fn stored_for_merge(&mut self, id: &DocId) -> Result<Stored> {
        let kind: Option<String> = self
            .conn
            .prepare_cached("SELECT kind FROM documents WHERE id = ?1")?
            .query_row([id.as_str()], |r| r.get(0))
            .optional()?;
        let Some(kind) = kind else {
            return Ok(Stored::New);
        };
        let kind = DocKind::parse(&kind)?;
        // A cached document not of the kind disk says is read again from disk.
        if let Some(doc) = self.cache.take(id)
            && doc.kind == kind
        {
            return Ok(Stored::Cached(Box::new(doc)));
        }
        let snapshot: Option<Vec<u8>> = self
            .conn
            .prepare_cached("SELECT snapshot FROM documents WHERE id = ?1")?
            .query_row([id.as_str()], |r| r.get(0))?;
        let chunks = self
            .conn
            .prepare_cached("SELECT bytes FROM chunks WHERE doc_id = ?1 ORDER BY seq")?
            .query_map([id.as_str()], |r| r.get::<_, Vec<u8>>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(Stored::Saved {
            kind,
            snapshot,
            chunks,
        })
    }
}
