//! A document as the sync server holds it: built from stored changes, grown by devices'
//! pushes after they pass the write rules.
//!
//! The server never edits documents; it parses what devices send, strictly, applies it to
//! its replica and reads what the changes did ([`Effect`]) and what the document is about
//! ([`DocSummary`]) so that [`crate::write_rules::check`] can judge the write.

use std::collections::BTreeSet;

use automerge::{ActorId, PatchAction, Prop, ScalarValue};

use crate::doc::{DOC_ROOT, Doc};
use crate::error::{Error, Result};
use crate::ids::{DocId, DocKind};
use crate::write_rules::{DocSummary, Effect};

/// Fields whose string value names an author; they must name the sender (as must the
/// `by` of every stamped entry).
const AUTHOR_KEYS: [&str; 3] = ["visitor", "started_by", "supervisor"];

/// One change a device sent, parsed and verified (its hash is checked on parsing).
#[derive(Clone, Debug)]
pub struct IncomingChange {
    change: automerge::Change,
}

impl IncomingChange {
    /// Parses one encoded change; refuses anything that is not exactly one valid change.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        automerge::Change::try_from(bytes)
            .map(|change| IncomingChange { change })
            .map_err(|e| Error::invalid("changes", format!("not an automerge change: {e}")))
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

    /// The encoded change, as it is stored and sent on: uncompressed. Compressing each
    /// change on its own cost the server's one writer about 5 ms per 500 changes, while
    /// every response that carries changes is compressed whole (and compresses them better
    /// than it compresses already compressed ones).
    pub fn bytes(&self) -> Vec<u8> {
        self.change.raw_bytes().to_vec()
    }

    /// Automerge's own encoding of the change on its own, compressed when that pays: how
    /// the benchmarks size "the change itself".
    pub fn compact(&mut self) -> Vec<u8> {
        self.change.bytes().into_owned()
    }

    /// Author names the change writes: the `by` of every stamped entry, and the fields in
    /// `AUTHOR_KEYS`.
    fn authors(&self) -> impl Iterator<Item = String> {
        self.change
            .decode()
            .operations
            .into_iter()
            .filter_map(|op| match (&op.key, &op.action) {
                (
                    automerge::legacy::Key::Map(key),
                    automerge::legacy::OpType::Put(ScalarValue::Str(text)),
                ) => {
                    if AUTHOR_KEYS.contains(&key.as_str()) {
                        Some(text.to_string())
                    } else if text.starts_with('{') {
                        crate::doc::Fields::parse(text).and_then(|f| f.str("by"))
                    } else {
                        None
                    }
                }
                _ => None,
            })
    }
}

/// The server's copy of one document.
#[derive(Debug, Clone)]
pub struct Replica {
    doc: Doc,
}

impl Replica {
    /// A document the server does not have yet.
    pub fn empty(id: &DocId) -> Replica {
        Replica {
            doc: Doc::empty(id),
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
        Ok(Replica { doc })
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

    /// What the document is about; `None` while it is empty.
    pub fn summary(&self) -> Result<Option<DocSummary>> {
        let Some(kind) = doc_kind(&self.doc)? else {
            return Ok(None);
        };
        let doc = &self.doc;
        let mut summary = DocSummary {
            kind,
            store_id: crate::local_store::index::store_of(doc),
            territory: None,
            demo_street: None,
            visitor: None,
            manager: None,
        };
        match kind {
            DocKind::Store => {
                let store = crate::retail_store::read(doc)?;
                summary.territory = Some(store.territory);
                summary.demo_street = Some(store.demo_street);
            }
            DocKind::Visit => summary.visitor = doc.str(&DOC_ROOT, "visitor"),
            DocKind::Scorecard => summary.manager = doc.str(&DOC_ROOT, "manager"),
            _ => {}
        }
        Ok(Some(summary))
    }

    /// Applies changes (already parsed, none of them held yet) and says what they did.
    /// Refuses changes whose dependencies the replica lacks, and a document whose content
    /// does not read as its kind; on any error the replica is unusable and must be dropped.
    pub fn apply(&mut self, changes: &[IncomingChange]) -> Result<Effect> {
        self.apply_working_out(changes, true)
    }

    /// As [`apply`](Self::apply) for a document that was `before`, working out
    /// [`Effect::touched`] only where the write rules read it
    /// ([`reads_touched`](crate::write_rules::reads_touched)); elsewhere it is left empty.
    pub fn apply_for_rules(
        &mut self,
        changes: &[IncomingChange],
        before: Option<&DocSummary>,
    ) -> Result<Effect> {
        self.apply_working_out(changes, crate::write_rules::reads_touched(before))
    }

    fn apply_working_out(&mut self, changes: &[IncomingChange], touched: bool) -> Result<Effect> {
        let before = self.doc.heads();
        let mut stamped_by = BTreeSet::new();
        for c in changes {
            stamped_by.extend(c.authors());
        }
        self.doc
            .am
            .apply_changes(changes.iter().map(|c| c.change.clone()))?;
        if let Some(missing) = self.doc.am.get_missing_deps(&[]).first() {
            return Err(Error::invalid(
                "changes",
                format!("they depend on change `{missing}`, which the server does not have"),
            ));
        }
        let after = self.doc.heads();
        let kind = doc_kind(&self.doc)?.ok_or_else(|| {
            Error::invalid(
                "changes",
                format!("they do not create document `{}`", self.doc.id),
            )
        })?;
        self.doc.check_identity()?;
        self.doc.kind = kind;
        self.doc.check_header()?;
        // Reading the document as its kind proves it has the shape the apps expect.
        self.summary()?;
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
        Ok(Effect {
            touched: touched_keys,
            stamped_by,
        })
    }
}

fn doc_kind(doc: &Doc) -> Result<Option<DocKind>> {
    doc.str(&DOC_ROOT, "kind")
        .map(|k| DocKind::parse(&k))
        .transpose()
}

impl Doc {
    /// An empty document with no history (the server's starting point for a new one).
    pub(crate) fn empty(id: &DocId) -> Doc {
        Doc::from_parts(
            id.clone(),
            DocKind::Store,
            automerge::AutoCommit::new().with_actor(ActorId::random()),
        )
    }
}
