//! The index rows a server derives from a document when it accepts a push, sent beside the
//! document's changes on a first sync so that a new phone can store the document without
//! building it (docs/protocol.md, "Index rows on a first sync"; ADR 0035).
//!
//! A phone that merges a document builds it with Automerge, checks it as its kind and
//! derives its rows: about 300 µs a document, 30,600 of them for a territory with a year of
//! history. The server has just done the same to judge the push, with this crate's own
//! readers, so what it derives is what the phone would. A new phone stores the changes as
//! they came, with these rows, and builds the document the first time something reads it.
//!
//! The bytes are this crate's own (CBOR, versioned by [`FEED_INDEX_VERSION`]): a client not
//! built on it does not ask for them. A phone ignores rows of another version, of another
//! document, or that do not decode, and builds the document as it would without them.

use automerge::ChangeHash;
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use crate::doc::Doc;
use crate::ids::DocKind;
use crate::store::index::Derived;

/// The version of the rows this build derives and reads; a request names it
/// (`index_version`).
pub const FEED_INDEX_VERSION: u32 = 1;

/// What a phone stores of a document it does not build: its rows, heads, store and fields
/// in conflict, as the server derived them at those heads.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct FeedIndex {
    /// [`FEED_INDEX_VERSION`] when it was derived.
    pub(crate) v: u32,
    pub(crate) doc: String,
    /// The heads the rows were derived at (32 bytes each).
    pub(crate) heads: Vec<ByteBuf>,
    pub(crate) store: Option<String>,
    pub(crate) conflicts: Vec<String>,
    pub(crate) rows: Derived,
}

impl FeedIndex {
    /// The document's kind, as its rows say.
    pub(crate) fn kind(&self) -> DocKind {
        match self.rows {
            Derived::Visit(_) => DocKind::Visit,
            Derived::Count(_) => DocKind::InventoryCount,
            Derived::Display(_) => DocKind::ShelfDisplay,
        }
    }

    /// The heads as Automerge's hashes; `None` when one is not 32 bytes.
    pub(crate) fn change_hashes(&self) -> Option<Vec<ChangeHash>> {
        self.heads
            .iter()
            .map(|h| <[u8; 32]>::try_from(h.as_slice()).ok().map(ChangeHash))
            .collect()
    }
}

/// The rows of `doc` as they would be sent, for the kinds whose rows a phone keeps
/// without the document (visits, counts, shelf displays); `None` for the others, and for
/// a document that does not read as its kind (the phone then builds it, and finds it
/// damaged itself).
pub(crate) fn derive(doc: &mut Doc) -> Option<Vec<u8>> {
    if !matches!(
        doc.kind,
        DocKind::Visit | DocKind::InventoryCount | DocKind::ShelfDisplay
    ) {
        return None;
    }
    let heads = doc.heads();
    let (rows, conflicts, store) = doc.reading(|doc| {
        (
            crate::kinds::readable(doc),
            doc.conflicted_fields(),
            crate::kinds::store_of(doc),
        )
    });
    let rows = match rows.ok()?? {
        crate::kinds::Rows::Count(r) => Derived::Count(r),
        crate::kinds::Rows::Display(r) => Derived::Display(r),
        crate::kinds::Rows::Visit(r) => Derived::Visit(r),
    };
    let index = FeedIndex {
        v: FEED_INDEX_VERSION,
        doc: doc.id.to_string(),
        heads: heads.iter().map(|h| ByteBuf::from(h.0.to_vec())).collect(),
        store,
        conflicts,
        rows,
    };
    Some(crate::sync::protocol::encode(&index))
}

/// The rows in `bytes`, if they are of this build's version and decode.
pub(crate) fn decode(bytes: &[u8]) -> Option<FeedIndex> {
    let index: FeedIndex = ciborium::from_reader(bytes).ok()?;
    (index.v == FEED_INDEX_VERSION).then_some(index)
}
