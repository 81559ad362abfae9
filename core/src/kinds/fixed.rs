//! Fields fixed once a document exists: who made it and when, what it is about, the terms
//! it was made with (a task's assignee and deadline, a scorecard's weights), and the
//! containers (maps and texts) that later edits add to. A push may not rewrite, delete or
//! replace any of them; a scorecard's acknowledgement, once given, is never removed.
//!
//! Judged by comparing the document before the push with the document as the sender made
//! it, at the root, read at each version's heads (no copy of the document is made).

use std::collections::{BTreeSet, HashMap};

use automerge::{ActorId, ChangeHash, ObjId, ReadDoc, Value, hydrate};

use super::RuleViolation;
use crate::doc::Doc;
use crate::ids::DocKind;

/// Root fields whose value (a scalar, or a small map read whole) never changes.
fn fixed_values(kind: DocKind) -> &'static [&'static str] {
    match kind {
        DocKind::Store => &[],
        DocKind::Visit => &[
            "store_id",
            "visitor",
            "visit_kind",
            "store_lat",
            "store_lng",
            "geofence_m",
            "store_datum",
            "check_in",
            "complaint_id",
        ],
        DocKind::ShelfDisplay => &["store_id"],
        DocKind::InventoryCount => &["store_id", "started_by", "started_at"],
        DocKind::Scorecard => &["manager", "month", "supervisor", "weights"],
        DocKind::Task => &[
            "store_id",
            "assignee",
            "deadline",
            "created_by",
            "created_at",
            "origin_kind",
            "origin_id",
            "answers_rating_at",
        ],
        DocKind::Complaint => &[
            "store_id",
            "complaint_kind",
            "received_at",
            "received_by",
            "urban",
            "on_site_applies",
            "refund_due",
        ],
    }
}

/// Root maps and texts that edits add to: never replaced by another object, never deleted
/// (and the entries of the maps never removed: [`super::entries`]).
pub(crate) fn containers(kind: DocKind) -> &'static [&'static str] {
    match kind {
        DocKind::Store | DocKind::ShelfDisplay => &[],
        DocKind::Visit => &["photos", "comments", "training", "notes", "brand_promotion"],
        DocKind::InventoryCount => &["book", "names", "counted"],
        DocKind::Scorecard => &["scores", "evidence"],
        DocKind::Task => &["photos", "description"],
        DocKind::Complaint => &["events", "description"],
    }
}

/// Where a push's operations wrote: the root keys, and the other objects (by id).
#[derive(Debug, Default)]
pub(crate) struct Touched {
    root: BTreeSet<String>,
    /// By the id's counter and actor (a legacy operation's object and an object's id
    /// name an object alike).
    objects: std::collections::HashSet<(u64, automerge::ActorId)>,
}

impl Touched {
    pub(crate) fn op(&mut self, op: &automerge::legacy::Op) {
        match (&op.obj, &op.key) {
            (automerge::legacy::ObjectId::Root, automerge::legacy::Key::Map(key)) => {
                if !self.root.contains(key.as_str()) {
                    self.root.insert(key.to_string());
                }
            }
            (automerge::legacy::ObjectId::Root, _) => {}
            (automerge::legacy::ObjectId::Id(id), _) => {
                let key = (id.counter(), id.actor().clone());
                if !self.objects.contains(&key) {
                    self.objects.insert(key);
                }
            }
        }
    }

    /// Adds what `other` touched.
    pub(crate) fn absorb(&mut self, other: Touched) {
        self.root.extend(other.root);
        self.objects.extend(other.objects);
    }

    /// Whether an operation wrote at the root `key`, or inside an object held there now.
    fn reached(&self, held: &FixedObjects, key: &str) -> bool {
        self.root.contains(key)
            || (!held.0.is_empty()
                && self.objects.iter().any(|(counter, actor)| {
                    held.0
                        .get(counter)
                        .is_some_and(|at| at.iter().any(|(a, k)| a == actor && *k == key))
                }))
    }
}

/// The objects a document holds at its fixed keys now (a visit's `check_in`, a
/// scorecard's `weights`), by the id an operation names them with: read once for all the
/// changes of a push.
pub(crate) struct FixedObjects(HashMap<u64, Vec<(ActorId, &'static str)>>);

impl FixedObjects {
    pub(crate) fn of(doc: &Doc) -> FixedObjects {
        let mut held: HashMap<u64, Vec<(ActorId, &'static str)>> = HashMap::new();
        for key in fixed_values(doc.kind) {
            for (_, id) in root_objects(doc, key) {
                if let ObjId::Id(counter, actor, _) = id {
                    held.entry(counter).or_default().push((actor, *key));
                }
            }
        }
        FixedObjects(held)
    }
}

/// The objects (and their types) the root `key` holds: every one of a conflict. Read from
/// the read cache's root map ([`Doc::reading`]), which the shape check has read already;
/// Automerge is asked for all values only where the key has several.
pub(crate) fn root_objects(doc: &Doc, key: &str) -> Vec<(automerge::ObjType, ObjId)> {
    let root = doc.map(&crate::doc::DOC_ROOT);
    match root.get(key) {
        None => Vec::new(),
        Some(item) if !item.conflict => match (&item.value, &item.id) {
            (Value::Object(t), Some(id)) => vec![(*t, id.clone())],
            _ => Vec::new(),
        },
        Some(_) => doc
            .am
            .get_all(&automerge::ROOT, key)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(value, id)| match value {
                Value::Object(t) => Some((t, id)),
                Value::Scalar(_) => None,
            })
            .collect(),
    }
}

/// Refuses a push that changes a fixed field between `before` (the server's heads) and
/// `after` (the sender's). Only the fields the push's operations reached are read.
pub(crate) fn unchanged(
    doc: &Doc,
    before: &[ChangeHash],
    after: &[ChangeHash],
    touched: &Touched,
    held: &FixedObjects,
) -> Result<(), RuleViolation> {
    let fixed = |key: &str| {
        RuleViolation::at(
            "transition",
            key,
            "is fixed once the document exists: a later change may not rewrite, replace or delete it",
        )
    };
    for key in fixed_values(doc.kind)
        .iter()
        .filter(|k| touched.reached(held, k))
    {
        let was = values_at(doc, key, before);
        if !was.is_empty() && !same(&was, &values_at(doc, key, after)) {
            return Err(fixed(key));
        }
    }
    for key in containers(doc.kind)
        .iter()
        .filter(|k| touched.root.contains(**k))
    {
        let was = objects_at(doc, key, before);
        if !was.is_empty() && was != objects_at(doc, key, after) {
            return Err(fixed(key));
        }
    }
    if doc.kind == DocKind::Scorecard
        && touched.root.contains("acknowledgement")
        && !values_at(doc, "acknowledgement", before).is_empty()
        && values_at(doc, "acknowledgement", after).is_empty()
    {
        return Err(RuleViolation::at(
            "transition",
            "acknowledgement",
            "an acknowledgement, once given, is never removed",
        ));
    }
    Ok(())
}

/// The values at the root `key` at `heads`, objects read whole.
fn values_at(doc: &Doc, key: &str, heads: &[ChangeHash]) -> Vec<Option<hydrate::Value>> {
    let am = &doc.am;
    am.get_all_at(&automerge::ROOT, key, heads)
        .unwrap_or_default()
        .into_iter()
        .map(|(value, id)| match value {
            Value::Scalar(s) => Some(hydrate::Value::Scalar(s.into_owned())),
            Value::Object(_) => am.hydrate(&id, Some(heads)).ok(),
        })
        .collect()
}

/// The same values, whatever their order and however often each is held (two devices that
/// start the same derived document both write its `store_id`: one value, not a change).
fn same(a: &[Option<hydrate::Value>], b: &[Option<hydrate::Value>]) -> bool {
    a.iter().all(|v| b.contains(v)) && b.iter().all(|v| a.contains(v))
}

/// The objects at the root `key` at `heads`.
fn objects_at(doc: &Doc, key: &str, heads: &[ChangeHash]) -> BTreeSet<ObjId> {
    doc.am
        .get_all_at(&automerge::ROOT, key, heads)
        .unwrap_or_default()
        .into_iter()
        .filter(|(value, _)| value.is_object())
        .map(|(_, id)| id)
        .collect()
}
