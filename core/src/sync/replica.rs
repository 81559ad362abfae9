//! A document as the sync server holds it: built from stored changes, grown by devices'
//! pushes after they pass the write rules.
//!
//! The server never edits documents; it parses what devices send, strictly, applies it to
//! its replica, judges the result whole as its kind ([`crate::kinds`]: the shape every
//! reader reads, the value rules, the authors, device times and state changes), and reads
//! what the changes did ([`Effect`]) and what the document is about ([`DocSummary`]) so
//! that [`crate::rules::write_rules::check`] can judge who may write it.

use std::collections::BTreeSet;
use std::io::Read;

use automerge::{PatchAction, Prop};

use crate::doc::{DOC_ROOT, Doc};
use crate::error::{Error, Result};
use crate::ids::{DocId, DocKind};
use crate::kinds::{RuleViolation, Sender, judge};
use crate::rules::write_rules::{DocSummary, Effect};

/// Who pushed changes, as the server authenticated them, and when it received them.
#[derive(Clone, Copy, Debug)]
pub struct Pusher<'a> {
    pub user: &'a str,
    /// The server's receive time, milliseconds since the Unix epoch.
    pub received_at: i64,
}

/// The most bytes one change may hold once inflated: far beyond any edit of the field's
/// documents (a 30-line count is about 3 KB), and a bound on what a compressed change a
/// few kilobytes long can make the server allocate.
pub const MAX_CHANGE_BYTES: u64 = 8 << 20;

/// The most operations and predecessors one change may list: a 20,000-character note
/// cleared in one edit lists 40,000; a field edit a few dozen.
pub const MAX_CHANGE_OPS: u64 = 100_000;

/// What [`IncomingChange::precheck`] found a change will cost to parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Precheck {
    /// Bytes it holds once inflated.
    pub inflated: u64,
    /// Operations and predecessors it lists.
    pub ops: u64,
}

/// One change a device sent, parsed and verified (its hash is checked on parsing).
#[derive(Clone, Debug)]
pub struct IncomingChange {
    change: automerge::Change,
}

impl IncomingChange {
    /// Parses one encoded change; refuses anything that is not exactly one valid change,
    /// and first whatever [`IncomingChange::precheck`] refuses.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        Self::precheck(bytes)?;
        let change = automerge::Change::try_from(bytes)
            .map_err(|e| Error::invalid("changes", format!("not an automerge change: {e}")))?;
        // Automerge takes the 4 bytes a chunk carries as its checksum without comparing
        // them with the hash of what it holds (of the inflated change, for a compressed
        // one). Relayed as they came, such bytes are refused by every reader that does
        // compare: Automerge's loader of stored bytes (a phone's first sync then builds
        // the document instead of storing it as it came), a strict client of another
        // language.
        if bytes.get(4..8) != Some(&change.hash().0[..4]) {
            return Err(Error::invalid(
                "changes",
                format!(
                    "change `{}` does not match its checksum: its bytes were altered on the way",
                    change.hash()
                ),
            ));
        }
        Ok(IncomingChange { change })
    }

    /// A change read back from the server's storage: parsed as Automerge reads it,
    /// without [`IncomingChange::parse`]'s checksum comparison, which servers before
    /// December 2026 did not make (a change stored then with a wrong checksum is read as
    /// `Replica::load` reads it, not refused at every start). Never for bytes from a
    /// device: it skips the bounds of [`IncomingChange::precheck`] too.
    pub fn stored(bytes: &[u8]) -> Result<Self> {
        automerge::Change::try_from(bytes)
            .map(|change| IncomingChange { change })
            .map_err(|e| Error::invalid("changes", format!("not an automerge change: {e}")))
    }

    /// What one change as sent will cost to parse, read before Automerge reads it: the bytes
    /// it holds once inflated, and the operations and predecessors it lists. Refuses a
    /// chunk that is not a change, a compressed change that inflates past
    /// [`MAX_CHANGE_BYTES`] (Automerge would inflate it without a bound), and a change that
    /// lists more than [`MAX_CHANGE_OPS`] operations and predecessors, or whose lists cannot
    /// be read (Automerge would walk them lazily, a few bytes of runs listing billions:
    /// `change_ops.rs`).
    pub fn precheck(bytes: &[u8]) -> Result<Precheck> {
        let invalid = |why: String| Error::invalid("changes", why);
        let head = crate::doc::chunk_head(bytes)
            .ok_or_else(|| invalid("not an automerge change: no whole chunk header".into()))?;
        let data = bytes
            .get(head.data_at..head.data_at + head.data_len)
            .unwrap_or_default();
        let inflated;
        let ops_in = match head.kind {
            crate::doc::CHANGE => data,
            crate::doc::COMPRESSED_CHANGE => {
                let mut out = Vec::new();
                flate2::bufread::DeflateDecoder::new(data)
                    .take(MAX_CHANGE_BYTES + 1)
                    .read_to_end(&mut out)
                    .map_err(|e| {
                        invalid(format!(
                            "not an automerge change: its compression is broken ({e})"
                        ))
                    })?;
                if out.len() as u64 > MAX_CHANGE_BYTES {
                    return Err(invalid(format!(
                        "a compressed change inflates past {} MiB, the most one change may hold",
                        MAX_CHANGE_BYTES >> 20
                    )));
                }
                inflated = out;
                &inflated
            }
            other => {
                return Err(invalid(format!(
                    "not an automerge change: chunk type {other} (1: a change, 2: a compressed change)"
                )));
            }
        };
        let ops = match super::change_ops::declared_ops(ops_in, MAX_CHANGE_OPS) {
            super::change_ops::Declared::Ops(n) => n,
            super::change_ops::Declared::Over => {
                return Err(invalid(format!(
                    "the change lists more than {MAX_CHANGE_OPS} operations and predecessors"
                )));
            }
            super::change_ops::Declared::Unreadable => {
                return Err(invalid(
                    "not an automerge change: its operations' columns cannot be read".into(),
                ));
            }
        };
        Ok(Precheck {
            inflated: ops_in.len() as u64,
            ops,
        })
    }

    /// The change's hash, hex.
    pub fn hash(&self) -> String {
        self.change.hash().to_string()
    }

    /// The actor that made it, hex.
    pub fn actor(&self) -> String {
        self.change.actor_id().to_hex_string()
    }

    /// The hashes it depends on, hex.
    pub fn deps(&self) -> Vec<String> {
        self.change.deps().iter().map(|h| h.to_string()).collect()
    }

    /// How many bytes the change holds as it is stored (uncompressed).
    pub fn byte_len(&self) -> usize {
        self.change.raw_bytes().len()
    }

    /// The encoded change, as it is stored and sent on: uncompressed. Compressing each
    /// change on its own cost the server's one writer about 5 ms per 500 changes, while
    /// every response that carries changes is compressed whole (and compresses them better
    /// than it compresses already compressed ones).
    pub fn bytes(&self) -> Vec<u8> {
        self.change.raw_bytes().to_vec()
    }

    /// Each value the change writes to a store field that visits and complaints copy
    /// (see [`crate::StoreCopy`]); meaningful for a store document's changes.
    pub fn store_values(&self) -> Vec<crate::HeldValue> {
        crate::kinds::store_copy::values_written(&self.change)
    }

    /// Automerge's own encoding of the change on its own, compressed when that pays: how
    /// the benchmarks size "the change itself".
    pub fn compact(&mut self) -> Vec<u8> {
        self.change.bytes().into_owned()
    }
}

/// The server's copy of one document.
#[derive(Debug, Clone)]
pub struct Replica {
    doc: Doc,
    /// The index rows the last accepted [`apply`](Self::apply)'s judge read, at the heads
    /// it left (see [`feed_index`](Self::feed_index)).
    index: Option<Vec<u8>>,
}

impl Replica {
    /// A document the server does not have yet.
    pub fn empty(id: &DocId) -> Replica {
        Replica {
            doc: Doc::empty(id),
            index: None,
        }
    }

    /// Rebuilds a replica from the changes the server stored for it.
    pub fn load<'a>(id: &DocId, stored: impl IntoIterator<Item = &'a [u8]>) -> Result<Replica> {
        let mut changes = Vec::new();
        for bytes in stored {
            changes.push(
                automerge::Change::try_from(bytes)
                    .map_err(|e| Error::corrupt(id.as_str(), e.to_string()))?,
            );
        }
        let mut doc = Doc::empty(id);
        doc.am.apply_changes(changes)?;
        doc.kind = doc_kind(&doc)?.unwrap_or(DocKind::Store);
        Ok(Replica { doc, index: None })
    }

    pub fn is_empty(&self) -> bool {
        self.doc.am.is_empty()
    }

    /// Whether the replica holds this change (hex hash).
    pub fn has_change(&mut self, hash: &str) -> bool {
        hash.parse::<automerge::ChangeHash>()
            .is_ok_and(|h| self.doc.am.get_change_by_hash(&h).is_some())
    }

    pub fn heads(&mut self) -> Vec<String> {
        self.doc.heads().iter().map(|h| h.to_string()).collect()
    }

    /// Every change, oldest first, encoded.
    pub fn all_changes(&mut self) -> Vec<Vec<u8>> {
        self.doc
            .am
            .get_changes(&[])
            .into_iter()
            .map(|mut c| c.bytes().into_owned())
            .collect()
    }

    /// Every photo and thumbnail hash the document references (what a device in its
    /// scope may read or upload).
    pub fn photo_hashes(&self) -> std::collections::BTreeSet<String> {
        crate::kinds::photo_refs::photo_hashes(&self.doc)
    }

    /// Every photo and thumbnail hash the document references, each with the users whose
    /// entries reference it (a blob is read through a document only where its uploader
    /// is one of them).
    pub fn photo_authors(
        &self,
    ) -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
        crate::kinds::photo_refs::photo_authors(&self.doc)
    }

    /// The photo references of the document, oldest first (for reports: who added which
    /// hash when).
    pub fn photo_refs(&self) -> Vec<crate::kinds::visit::PhotoRef> {
        crate::kinds::visit::read_photos(&self.doc, "photos")
    }

    /// What a visit or complaint copied from its store; `None` for the other kinds.
    pub fn store_copy(&self) -> Option<crate::StoreCopy> {
        crate::kinds::store_copy::copy_of(&self.doc)
    }

    /// The index rows a new phone may store instead of building the document (see
    /// `feed_index.rs`), as the last [`apply`](Self::apply)'s judge read them once it
    /// accepted the document (taken: `None` the second time); `None` for kinds without
    /// them, and when no apply was accepted.
    pub fn feed_index(&mut self) -> Option<Vec<u8>> {
        self.index.take()
    }

    /// What the document is about; `None` while it is empty.
    pub fn summary(&self) -> Result<Option<DocSummary>> {
        self.doc.reading(summarize)
    }

    /// Applies changes (already parsed, none of them held yet) sent by `pusher`, judges the
    /// document whole and says what they did. `Err`: the changes cannot be applied (a
    /// missing dependency); `Ok(Err)`: the document they make is refused, with the field
    /// and the reason. On either the replica is unusable and must be dropped.
    pub fn apply(
        &mut self,
        changes: &[IncomingChange],
        pusher: &Pusher<'_>,
    ) -> Result<Result<Effect, RuleViolation>> {
        self.apply_working_out(changes, pusher, true)
    }

    /// As [`apply`](Self::apply) for a document that was `before`, working out
    /// [`Effect::touched`] only where the write rules read it
    /// ([`reads_touched`](crate::rules::write_rules::reads_touched)); elsewhere it is left empty.
    pub fn apply_for_rules(
        &mut self,
        changes: &[IncomingChange],
        before: Option<&DocSummary>,
        pusher: &Pusher<'_>,
    ) -> Result<Result<Effect, RuleViolation>> {
        self.apply_working_out(
            changes,
            pusher,
            crate::rules::write_rules::reads_touched(before),
        )
    }

    fn apply_working_out(
        &mut self,
        changes: &[IncomingChange],
        pusher: &Pusher<'_>,
        touched: bool,
    ) -> Result<Result<Effect, RuleViolation>> {
        self.index = None;
        let before = self.doc.heads();
        let raw: Vec<automerge::Change> = changes.iter().map(|c| c.change.clone()).collect();
        self.doc.am.apply_changes(raw.iter().cloned())?;
        if let Some(missing) = self.doc.am.get_missing_deps(&[]).first() {
            return Err(Error::invalid(
                "changes",
                format!("they depend on change `{missing}`, which the server does not have"),
            ));
        }
        let after = self.doc.heads();
        let kind = match doc_kind(&self.doc) {
            Ok(Some(kind)) => kind,
            Ok(None) => {
                return Ok(Err(RuleViolation::at(
                    "schema",
                    "kind",
                    format!(
                        "is required: the changes do not create document `{}`",
                        self.doc.id
                    ),
                )));
            }
            Err(e) => return Ok(Err(RuleViolation::at("schema", "kind", e.to_string()))),
        };
        if let Err(e) = self.doc.check_identity() {
            return Ok(Err(RuleViolation::unreadable(&e)));
        }
        self.doc.kind = kind;
        let sender = Sender {
            user: pusher.user,
            now: pusher.received_at,
        };
        match judge(&mut self.doc, &raw, &before, &sender) {
            Ok(index) => self.index = index,
            Err(v) => return Ok(Err(v)),
        }
        let mut touched_keys = BTreeSet::new();
        let patches = if touched {
            self.doc.am.diff(&before, &after)
        } else {
            Vec::new()
        };
        for patch in patches {
            let key = match (patch.path.first(), &patch.action) {
                (Some((_, Prop::Map(key))), _) => Some(key.clone()),
                (None, PatchAction::PutMap { key, .. } | PatchAction::DeleteMap { key }) => {
                    Some(key.clone())
                }
                (
                    None,
                    PatchAction::Conflict {
                        prop: Prop::Map(key),
                    },
                ) => Some(key.clone()),
                (
                    None,
                    PatchAction::Increment {
                        prop: Prop::Map(key),
                        ..
                    },
                ) => Some(key.clone()),
                _ => None,
            };
            touched_keys.extend(key);
        }
        Ok(Ok(Effect {
            touched: touched_keys,
        }))
    }
}

/// What the document is about; `None` while it is empty.
fn summarize(doc: &Doc) -> Result<Option<DocSummary>> {
    let Some(kind) = doc_kind(doc)? else {
        return Ok(None);
    };
    let mut summary = DocSummary {
        kind,
        store_id: crate::kinds::store_of(doc),
        territory: None,
        demo_street: None,
        visitor: None,
        visit_kind: None,
        manager: None,
        happened_at: None,
    };
    match kind {
        DocKind::Store => {
            let store = crate::kinds::store::read(doc)?;
            summary.territory = Some(store.territory);
            summary.demo_street = Some(store.demo_street);
        }
        DocKind::Visit => {
            summary.visitor = doc.str(&DOC_ROOT, "visitor");
            // A kind no reader knows (a document an older server accepted) summarises as
            // none: new writes are held to the kinds by the shape check.
            summary.visit_kind = doc
                .str(&DOC_ROOT, "visit_kind")
                .and_then(|k| crate::kinds::visit::VisitKind::parse(&k).ok());
            summary.happened_at = doc
                .obj(&DOC_ROOT, "check_in")
                .and_then(|check_in| doc.time(&check_in, "at"))
                .map(|at| at.0);
        }
        DocKind::InventoryCount => {
            summary.happened_at = doc.time(&DOC_ROOT, "started_at").map(|at| at.0);
        }
        DocKind::Scorecard => summary.manager = doc.str(&DOC_ROOT, "manager"),
        _ => {}
    }
    Ok(Some(summary))
}

fn doc_kind(doc: &Doc) -> Result<Option<DocKind>> {
    doc.str(&DOC_ROOT, "kind")
        .map(|k| DocKind::parse(&k))
        .transpose()
}

#[cfg(test)]
#[path = "replica_parse_tests.rs"]
mod parse_tests;
