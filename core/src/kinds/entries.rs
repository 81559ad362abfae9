//! The entries of a document's container maps (a visit's comments and photos, a count's
//! lines, a task's photos, a complaint's events, a scorecard's scores and evidence:
//! [`super::fixed`]'s containers that are maps) are added to, never taken away: an entry
//! is never removed, and an entry of what one person did (a comment, a photo) is
//! rewritten only by that person.
//!
//! Judged for every operation of a device's new changes, so that what a push does in one
//! change and undoes in the next (a photo that let a task be submitted, then removed)
//! is judged too, and a delete, which names no author, is still someone's.

use std::collections::HashMap;

use automerge::legacy::{Key, ObjectId, OpType};
use automerge::{ActorId, ChangeHash, ObjId, ObjType, ReadDoc, ScalarValue, Value};

use super::RuleViolation;
use crate::doc::{Doc, Fields};
use crate::ids::DocKind;

/// The container maps of one document, by the id an operation names them with.
pub(crate) struct Entries {
    /// By the id's counter: (its actor, the container's name, its id).
    maps: HashMap<u64, Vec<(ActorId, &'static str, ObjId)>>,
}

impl Entries {
    /// The container maps `doc` holds (every value at each container key: a concurrent
    /// replacement is refused by [`super::fixed`], and its entries are judged alike).
    pub(crate) fn of(doc: &Doc) -> Entries {
        let mut maps: HashMap<u64, Vec<(ActorId, &'static str, ObjId)>> = HashMap::new();
        for key in super::fixed::containers(doc.kind) {
            for (kind, id) in super::fixed::root_objects(doc, key) {
                if let (ObjType::Map, ObjId::Id(counter, actor, _)) = (kind, &id) {
                    let (counter, actor) = (*counter, actor.clone());
                    maps.entry(counter).or_default().push((actor, *key, id));
                }
            }
        }
        Entries { maps }
    }

    /// Refuses `op`, sent by `sender` in a change that found the document at `found`, if
    /// it removes an entry of a container map, or writes at the key of a personal entry
    /// another user stamped: one the change found there, or one held there beside it in
    /// the merged document (a value written concurrently, which may win the conflict).
    pub(crate) fn check(
        &self,
        doc: &Doc,
        found: &[ChangeHash],
        op: &automerge::legacy::Op,
        sender: &str,
    ) -> Result<(), RuleViolation> {
        let (ObjectId::Id(id), Key::Map(key)) = (&op.obj, &op.key) else {
            return Ok(());
        };
        let Some((_, container, obj)) = self
            .maps
            .get(&id.counter())
            .and_then(|maps| maps.iter().find(|(actor, _, _)| actor == id.actor()))
        else {
            return Ok(());
        };
        let field = format!("{container}.{key}");
        match &op.action {
            OpType::Delete => Err(RuleViolation::at(
                "transition",
                field,
                format!(
                    "is an entry of `{container}`, which edits add to: entries are never removed"
                ),
            )),
            OpType::Put(_) | OpType::Make(_) if personal(doc.kind, container) => {
                let mut held = doc.am.get_all(obj, key.as_str()).unwrap_or_default();
                // What it writes over (a put with no predecessor overwrites nothing).
                if !found.is_empty() && !op.pred.is_empty() {
                    held.extend(
                        doc.am
                            .get_all_at(obj, key.as_str(), found)
                            .unwrap_or_default(),
                    );
                }
                for (value, _) in held {
                    let Value::Scalar(scalar) = value else {
                        continue;
                    };
                    let ScalarValue::Str(text) = scalar.as_ref() else {
                        continue;
                    };
                    if let Some(by) = Fields::parse(text).and_then(|f| f.str("by"))
                        && by != sender
                    {
                        return Err(RuleViolation::at(
                            "stamp_author",
                            field,
                            format!(
                                "is `{}`'s entry: only they rewrite it, and `{sender}` sent this",
                                super::shape::quote(&by)
                            ),
                        ));
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// Containers whose entries each say what one person did (a comment, a photo taken):
/// written over by that person only. A count's line, by contrast, is counted again by
/// whoever counts the shelf next, and a complaint's step (`events.on_site`) is recorded
/// again by whoever handles it next.
fn personal(kind: DocKind, container: &str) -> bool {
    matches!(
        (kind, container),
        (DocKind::Visit, "comments" | "photos") | (DocKind::Task, "photos")
    )
}
