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
//! The record holds the rows as the phone's index tables hold them (not what a loaded
//! document keeps to update them in place), the fields in conflict, and 8 bytes of a digest
//! of the heads they were derived at: the phone reads the heads from the changes it
//! received (`crate::doc::change_hash_and_deps`) and uses the rows only if they match, so
//! rows a server kept past a change stored another way (an older server, a repair) are
//! never taken for the document's. No ids: the record travels inside the document's entry. Its bytes are this crate's own, CBOR with short
//! keys, versioned by [`FEED_INDEX_VERSION`]: a client not built on it does not ask for
//! them. A phone ignores a record of another version, or that does not decode, and builds
//! the document as it would without it.

use automerge::ChangeHash;
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;
use sha2::{Digest, Sha256};

use crate::doc::Doc;
use crate::ids::DocKind;
use crate::kinds::inventory_count::CountRows;
use crate::kinds::shelf_display::DisplayRows;
use crate::kinds::visit::VisitRow;

/// The version of the records this build derives and reads; a request names it
/// (`index_version`).
pub const FEED_INDEX_VERSION: u32 = 1;

/// What a phone stores of a document it does not build, besides its changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct FeedIndex {
    /// [`FEED_INDEX_VERSION`] when it was derived.
    v: u32,
    /// The first 8 bytes of [`heads_digest`] of the heads the rows were derived at.
    h: ByteBuf,
    #[serde(rename = "r")]
    pub(crate) rows: SentRows,
    /// The paths of the fields in conflict.
    #[serde(rename = "x", default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) conflicts: Vec<String>,
}

/// A document's rows in the phone's index tables, as they are written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum SentRows {
    /// `visit_index`.
    #[serde(rename = "v")]
    Visit {
        s: String,
        by: String,
        k: String,
        i: i64,
        o: Option<i64>,
        r: Option<bool>,
    },
    /// `count_index`: store, started, finished, lines, counted lines, book total, the sum
    /// of the absolute differences.
    #[serde(rename = "c")]
    Count {
        s: String,
        a: i64,
        f: Option<i64>,
        n: i64,
        c: i64,
        b: i64,
        d: i64,
    },
    /// `display_index` and `display_check_index`: store, missing tags, failed standards,
    /// and when each checker last checked.
    #[serde(rename = "d")]
    Display {
        s: String,
        m: i64,
        f: i64,
        ch: Vec<(String, i64)>,
    },
}

impl SentRows {
    pub(crate) fn kind(&self) -> DocKind {
        match self {
            SentRows::Visit { .. } => DocKind::Visit,
            SentRows::Count { .. } => DocKind::InventoryCount,
            SentRows::Display { .. } => DocKind::ShelfDisplay,
        }
    }

    /// The retail store the document is about.
    pub(crate) fn store(&self) -> &str {
        match self {
            SentRows::Visit { s, .. } | SentRows::Count { s, .. } | SentRows::Display { s, .. } => {
                s
            }
        }
    }

    /// The rows of `doc` (a visit, count or display) as its index tables hold them, read
    /// as the phone's merge reads them: what the index holds only.
    fn read(doc: &Doc) -> crate::Result<Option<SentRows>> {
        Ok(Some(match doc.kind {
            DocKind::Visit => {
                let row = VisitRow::read(doc)?;
                SentRows::Visit {
                    s: row.store_id,
                    by: row.visitor,
                    k: row.kind,
                    i: row.check_in_at,
                    o: row.check_out_at,
                    r: row.in_range,
                }
            }
            DocKind::InventoryCount => {
                let (s, a, f, n, c, b, d) = CountRows::read(doc)?.index_row();
                SentRows::Count {
                    s,
                    a,
                    f,
                    n,
                    c,
                    b,
                    d,
                }
            }
            DocKind::ShelfDisplay => {
                let rows = DisplayRows::of(&crate::kinds::shelf_display::read(doc)?);
                let (m, f, ch) = rows.index_values();
                SentRows::Display {
                    s: rows.store_id,
                    m,
                    f,
                    ch,
                }
            }
            _ => return Ok(None),
        }))
    }
}

fn has_rows(kind: DocKind) -> bool {
    matches!(
        kind,
        DocKind::Visit | DocKind::InventoryCount | DocKind::ShelfDisplay
    )
}

/// The record of `doc` at `heads` (sorted) as it is sent, for the kinds whose rows a
/// phone keeps without the document (visits, counts, shelf displays); `None` for the
/// others. Called by the server's judge once the document passed, inside its
/// [`Doc::reading`]: the maps the judge read are not read again.
pub(crate) fn encode(doc: &Doc, heads: &[ChangeHash]) -> Option<Vec<u8>> {
    if !has_rows(doc.kind) {
        return None;
    }
    let (rows, conflicts) = doc.reading(|doc| (SentRows::read(doc), doc.conflicted_fields()));
    let index = FeedIndex {
        v: FEED_INDEX_VERSION,
        h: ByteBuf::from(heads_digest(heads).to_vec()),
        rows: rows.ok()??,
        conflicts,
    };
    let mut out = Vec::new();
    ciborium::into_writer(&index, &mut out).ok()?;
    Some(out)
}

/// What a record names of the heads it was derived at: the first 8 bytes of the SHA-256
/// of the sorted heads one after the other.
fn heads_digest(heads: &[ChangeHash]) -> [u8; 8] {
    let mut hasher = Sha256::new();
    for head in heads {
        hasher.update(head.0);
    }
    let digest: [u8; 32] = hasher.finalize().into();
    let mut out = [0u8; 8];
    out.copy_from_slice(&digest[..8]);
    out
}

impl FeedIndex {
    /// Whether the rows were derived at `heads` (sorted).
    pub(crate) fn derived_at(&self, heads: &[ChangeHash]) -> bool {
        self.h.as_slice() == heads_digest(heads)
    }
}

/// The record in `bytes`, if it is of this build's version and decodes.
pub(crate) fn decode(bytes: &[u8]) -> Option<FeedIndex> {
    let index: FeedIndex = ciborium::from_reader(bytes).ok()?;
    (index.v == FEED_INDEX_VERSION).then_some(index)
}

/// The heads of a whole document given as its changes, each an uncompressed Automerge
/// change chunk whose checksum holds: the changes no other one depends on. `None` when a
/// change is anything else or depends on one not given.
pub(crate) fn heads_of(changes: &[Vec<u8>]) -> Option<Vec<ChangeHash>> {
    let mut hashes = std::collections::HashSet::with_capacity(changes.len());
    let mut deps = std::collections::HashSet::new();
    for change in changes {
        let (hash, its_deps) = crate::doc::change_hash_and_deps(change)?;
        hashes.insert(hash);
        deps.extend(its_deps);
    }
    if !deps.iter().all(|d| hashes.contains(d)) {
        return None;
    }
    let mut heads: Vec<ChangeHash> = hashes.difference(&deps).copied().collect();
    heads.sort();
    Some(heads)
}

/// A record with any rows and conflicts that names the heads of `changes`: what a lying
/// server could send, for the tests of what the phone does with it.
#[cfg(test)]
pub(crate) fn forged(rows: SentRows, conflicts: Vec<String>, changes: &[Vec<u8>]) -> Vec<u8> {
    let heads = heads_of(changes).unwrap_or_default();
    let index = FeedIndex {
        v: FEED_INDEX_VERSION,
        h: ByteBuf::from(heads_digest(&heads).to_vec()),
        rows,
        conflicts,
    };
    let mut out = Vec::new();
    ciborium::into_writer(&index, &mut out).expect("a record encodes");
    out
}
