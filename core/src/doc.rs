//! The Automerge document underneath every field document, and the conventions they share.
//!
//! Every document's root holds `schema` (an integer), `kind` and `id`. Fields several
//! people may set at once are stored *stamped*: a small map `{v, by, at}` instead of a bare
//! value, so that when two devices set the field concurrently Automerge keeps both maps and
//! [`Versions`] can show every value with who wrote it and when. Each commit carries a
//! JSON message `{"by": user, "what": summary}` and the device time, which is the history
//! a reviewer reads ("who changed what, and when").
//!
//! No Automerge type leaves this crate: the kinds read and write through [`Doc`], and the
//! public API speaks in plain Rust types. This is the bottom layer of the crate's documents:
//! it knows no document kind, no SQLite and no sync (see `docs/architecture.md`, "Layers").
//!
//! - [`fields`]: stamped entries ([`Fields`]) and every value of a field ([`Versions`]);
//! - [`read`] and [`write`]: typed access to values, maps, text and stamped fields;
//! - [`cache`]: a document read many times over, each map read once;
//! - [`history`]: commits, who changed what and when, the document as of an instant;
//! - [`chunks`]: loading from and saving to bytes (snapshots, incremental chunks);
//! - [`derived`]: a slot for what a layer above derives from the document (index rows).

mod cache;
mod chunks;
mod conflicts;
mod derived;
mod fields;
mod history;
mod read;
mod write;

use std::collections::HashMap;

use automerge::hydrate;
use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ChangeHash, ObjId, ROOT, ReadDoc, ScalarValue};

use crate::error::{Error, Result};
use crate::ids::{DocId, DocKind};
use crate::time::Timestamp;

pub(crate) use cache::Item as MapItem;
pub(crate) use chunks::{
    CHANGE, COMPRESSED_CHANGE, change_hash_and_deps, checksum_holds, chunk_head, split_changes,
};
pub(crate) use fields::Fields;
pub use fields::{Versions, Written};
pub(crate) use history::CommitMessage;
pub use history::HistoryEntry;
pub(crate) use read::{scalar_f64, scalar_i64, scalar_str};
pub(crate) use write::{empty_map, entry_value, stamped_value, str_value, text_value};

/// The newest document schema this build reads and writes.
pub const DOC_SCHEMA_VERSION: i64 = 1;

/// Who makes an edit, and when by the device's clock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stamp {
    pub by: String,
    pub at: Timestamp,
}

/// An Automerge document of a known kind.
#[derive(Debug, Clone)]
pub(crate) struct Doc {
    pub(crate) id: DocId,
    pub(crate) kind: DocKind,
    pub(crate) am: AutoCommit,
    /// Heads of what SQLite holds: the next chunk is every change after them.
    saved: Vec<ChangeHash>,
    /// What a layer above last derived from this document (see [`derived`]).
    derived: derived::DerivedState,
    /// The maps read while [`Doc::reading`] runs (see [`cache`]).
    cache: cache::ReadCache,
}

impl Doc {
    pub(crate) fn from_parts(id: DocId, kind: DocKind, am: AutoCommit) -> Doc {
        Doc {
            id,
            kind,
            am,
            saved: Vec::new(),
            derived: derived::DerivedState::default(),
            cache: cache::ReadCache::default(),
        }
    }

    /// An empty document with no history (the server's starting point for a new one).
    pub(crate) fn empty(id: &DocId) -> Doc {
        Doc::from_parts(
            id.clone(),
            DocKind::Store,
            AutoCommit::new().with_actor(ActorId::random()),
        )
    }

    /// A new document whose root is `fields` plus the shared header, in one change.
    pub(crate) fn create(
        id: DocId,
        kind: DocKind,
        actor: &ActorId,
        mut fields: HashMap<&str, hydrate::Value>,
        stamp: &Stamp,
    ) -> Result<Doc> {
        fields.insert("schema", hydrate::Value::from(DOC_SCHEMA_VERSION));
        fields.insert("kind", str_value(kind.as_str()));
        fields.insert("id", str_value(id.as_str()));
        let mut am = AutoCommit::new().with_actor(actor.clone());
        am.init_root_from_hydrate(&hydrate::Map::from(fields))?;
        let mut doc = Doc::from_parts(id, kind, am);
        doc.commit(stamp, &format!("create {kind}"));
        Ok(doc)
    }

    pub(crate) fn check_header(&self) -> Result<()> {
        let kind = self.req_str(&ROOT, "kind")?;
        if kind != self.kind.as_str() {
            return Err(Error::corrupt(
                self.id.as_str(),
                format!("stored as {} but its kind is `{kind}`", self.kind),
            ));
        }
        let schema = self.req_i64(&ROOT, "schema")?;
        if schema > DOC_SCHEMA_VERSION {
            return Err(Error::SchemaTooNew {
                what: format!("{} `{}`", self.kind, self.id),
                found: schema,
                supported: DOC_SCHEMA_VERSION,
            });
        }
        Ok(())
    }

    /// Refuses a document whose identity was rewritten: changes of another document merged
    /// in would leave two different values under `id` (or `kind`), one of which may win
    /// silently.
    pub(crate) fn check_identity(&self) -> Result<()> {
        for key in ["id", "kind"] {
            let values = self.am.get_all(&ROOT, key)?;
            // Several equal values are fine: two phones may start the same derived document.
            let first = values.first().map(|(v, _)| v.to_string());
            if values.iter().any(|(v, _)| Some(v.to_string()) != first) {
                return Err(Error::invalid(
                    "changes",
                    format!(
                        "they rewrite the `{key}` of document `{}`: they belong to another document",
                        self.id
                    ),
                ));
            }
        }
        if self.str(&ROOT, "id").as_deref() != Some(self.id.as_str()) {
            return Err(Error::invalid(
                "changes",
                format!("they belong to another document than `{}`", self.id),
            ));
        }
        Ok(())
    }

    pub(crate) fn heads(&mut self) -> Vec<ChangeHash> {
        self.am.get_heads()
    }
}

pub(crate) use automerge::ROOT as DOC_ROOT;
pub(crate) type Obj = ObjId;
pub(crate) type Scalar = ScalarValue;
pub(crate) type HydrateValue = hydrate::Value;

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(by: &str, at: i64) -> Stamp {
        Stamp {
            by: by.into(),
            at: Timestamp(at),
        }
    }

    #[test]
    fn the_keys_with_a_prefix_are_those_a_walk_of_every_key_finds() -> Result<()> {
        let mut doc = Doc::empty(&DocId::new());
        let keys = [
            "photo",
            "photo.",
            "photo.a",
            "photo.sha256:ff",
            "photo/",
            "photoa",
            "phot",
            "standard.x",
            "standard",
            "standard/",
            "价签.1",
            "\u{10FFFF}",
        ];
        for key in keys {
            doc.put(&ROOT, key, 1_i64)?;
        }
        for prefix in ["photo.", "standard.", "价签.", "\u{10FFFF}", "p"] {
            let walked: Vec<String> = doc
                .keys(&ROOT)
                .into_iter()
                .filter(|k| k.starts_with(prefix))
                .collect();
            assert_eq!(doc.keys_with_prefix(&ROOT, prefix), walked, "{prefix}");
        }
        Ok(())
    }

    #[test]
    fn a_document_written_by_a_newer_schema_is_refused_on_load() -> Result<()> {
        let actor = ActorId::random();
        let id = DocId::new();
        let mut doc = Doc::create(
            id.clone(),
            DocKind::Visit,
            &actor,
            HashMap::new(),
            &stamp("u", 1),
        )?;
        doc.put(&ROOT, "schema", DOC_SCHEMA_VERSION + 1)?;
        doc.commit(&stamp("u", 2), "from the future");
        let bytes = doc.am.save();
        let err =
            Doc::load(&id, DocKind::Visit, &actor, Some(&bytes), []).expect_err("must refuse");
        assert!(
            matches!(
                err,
                Error::SchemaTooNew {
                    found: 2,
                    supported: 1,
                    ..
                }
            ),
            "{err}"
        );
        Ok(())
    }

    #[test]
    fn stored_bytes_of_one_kind_are_refused_as_another() -> Result<()> {
        let actor = ActorId::random();
        let id = DocId::new();
        let mut doc = Doc::create(
            id.clone(),
            DocKind::Store,
            &actor,
            HashMap::new(),
            &stamp("u", 1),
        )?;
        let bytes = doc.am.save();
        let err = Doc::load(&id, DocKind::Task, &actor, Some(&bytes), []).expect_err("must refuse");
        assert!(
            err.to_string()
                .contains("stored as task but its kind is `store`"),
            "{err}"
        );
        Ok(())
    }
}
