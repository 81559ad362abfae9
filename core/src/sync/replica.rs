//! A document as the sync server holds it: built from stored changes, grown by devices'
//! pushes after they pass the write rules.
//!
//! The server never edits documents; it parses what devices send, strictly, applies it to
//! its replica, judges the result whole as its kind ([`crate::kinds`]: the shape every
//! reader reads, the value rules, the authors, device times and state changes), and reads
//! what the changes did ([`Effect`]) and what the document is about ([`DocSummary`]) so
//! that [`crate::rules::write_rules::check`] can judge who may write it.

use std::collections::BTreeSet;

use automerge::{PatchAction, Prop};

use crate::doc::{DOC_ROOT, Doc};
use crate::error::{Error, Result};
use crate::ids::{DocId, DocKind};
use crate::kinds::{RuleViolation, Sender, judge};
use crate::rules::write_rules::{DocSummary, Effect};

pub use super::incoming_change::{
    IncomingChange, MAX_CHANGE_BYTES, MAX_CHANGE_OPS, MAX_DOCUMENT_OPS, Precheck,
};

/// Who pushed changes, as the server authenticated them, and when it received them.
#[derive(Clone, Copy, Debug)]
pub struct Pusher<'a> {
    pub user: &'a str,
    /// The server's receive time, milliseconds since the Unix epoch.
    pub received_at: i64,
}

/// The server's copy of one document.
#[derive(Debug, Clone)]
pub struct Replica {
    doc: Doc,
    /// The index rows the last accepted [`apply`](Self::apply)'s judge read, at the heads
    /// it left (see [`feed_index`](Self::feed_index)).
    index: Option<Vec<u8>>,
    /// The operations and predecessors its changes list ([`MAX_DOCUMENT_OPS`]).
    listed: u64,
}

impl Replica {
    /// A document the server does not have yet.
    pub fn empty(id: &DocId) -> Replica {
        Replica {
            doc: Doc::empty(id),
            index: None,
            listed: 0,
        }
    }

    /// Rebuilds a replica from the changes the server stored for it.
    pub fn load<'a>(id: &DocId, stored: impl IntoIterator<Item = &'a [u8]>) -> Result<Replica> {
        let mut changes = Vec::new();
        let mut listed: u64 = 0;
        for bytes in stored {
            let change = automerge::Change::try_from(bytes)
                .map_err(|e| Error::corrupt(id.as_str(), e.to_string()))?;
            // Counted on the change as Automerge holds it, uncompressed: older servers
            // stored some changes compressed.
            listed = listed.saturating_add(
                super::incoming_change::listed(change.raw_bytes()).unwrap_or(change.len() as u64),
            );
            changes.push(change);
        }
        let mut doc = Doc::empty(id);
        doc.am.apply_changes(changes)?;
        doc.kind = doc_kind(&doc)?.unwrap_or(DocKind::Store);
        Ok(Replica {
            doc,
            index: None,
            listed,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.doc.am.is_empty()
    }

    /// The operations and predecessors its changes list ([`MAX_DOCUMENT_OPS`]).
    pub fn listed(&self) -> u64 {
        self.listed
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
        guarded(|| self.apply_working_out(changes, pusher, true))
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
        guarded(|| {
            self.apply_working_out(
                changes,
                pusher,
                crate::rules::write_rules::reads_touched(before),
            )
        })
    }

    fn apply_working_out(
        &mut self,
        changes: &[IncomingChange],
        pusher: &Pusher<'_>,
        touched: bool,
    ) -> Result<Result<Effect, RuleViolation>> {
        self.index = None;
        let adding = changes
            .iter()
            .map(|c| c.listed)
            .fold(0u64, u64::saturating_add);
        let listed = self.listed.saturating_add(adding);
        if listed > MAX_DOCUMENT_OPS {
            // Before Automerge applies them: applying is the cost this bounds.
            return Ok(Err(RuleViolation::at(
                "quota",
                "",
                format!(
                    "the document's changes would list `{listed}` operations and predecessors, over the `{MAX_DOCUMENT_OPS}` one document may hold"
                ),
            )));
        }
        self.listed = listed;
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
        if let Some(refused) = header_object(&self.doc) {
            return Ok(Err(refused));
        }
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

/// A header field (`kind`, `id`) that holds an object where a plain string belongs, refused
/// as the shape check refuses every other field. JavaScript Automerge 3 writes a plain
/// JavaScript string as Text: read as a missing kind or another document's changes, the
/// refusal would not say what to fix.
fn header_object(doc: &Doc) -> Option<RuleViolation> {
    use automerge::ReadDoc;
    ["kind", "id"]
        .into_iter()
        .find_map(|key| match doc.am.get(&DOC_ROOT, key).ok()?? {
            (automerge::Value::Object(found), _) => Some(RuleViolation::at(
                "schema",
                key,
                format!("must be a plain string, not an automerge {found}"),
            )),
            (automerge::Value::Scalar(_), _) => None,
        })
}

/// Runs `apply` with Automerge's own assertions answered as a refusal of the changes:
/// crafted changes can trip them (an actor's changes applied out of their order, an
/// author on a later change), and a panic would answer the push `500` and poison the
/// lock of the server's writer. The replica is then unusable, as after any refusal.
fn guarded<T>(apply: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(apply)).unwrap_or_else(|panic| {
        let why = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(Error::invalid(
            "changes",
            format!("Automerge cannot apply or read them: {why}"),
        ))
    })
}

fn doc_kind(doc: &Doc) -> Result<Option<DocKind>> {
    doc.str(&DOC_ROOT, "kind")
        .map(|k| DocKind::parse(&k))
        .transpose()
}
