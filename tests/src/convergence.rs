//! The journal of every edit a multi-device property test made, and the end-of-test check
//! that the devices converged and that no edit was lost (used by
//! `tests/convergence_property.rs`).
//!
//! A stamped field (a shelf-display standard, a product's price tag, a counted quantity)
//! keeps every concurrent value; a value goes away only when a device that *showed* it
//! wrote the field again. So [`Journal::stamped`] is given what the writing device showed
//! just before the write, read from the device itself, and the journal marks those values
//! superseded. Every other value ever written must be among the field's versions
//! (`Versions::all`) on every device that has the document in scope at the end. Each
//! edit is told apart by its stamp: tests give every edit its own device time.
//!
//! [`check`] compares the devices with the server: the same documents in each device's
//! scope, each with the server's heads and the same typed value on every device, nothing
//! left in an outbox, and every journalled edit visible.

use std::collections::{BTreeMap, BTreeSet};

use fieldsync_core::{
    DisplayStandard, DocId, DocKind, LocalStore, Replica, Result, Timestamp, Verdict, Versions,
};
use fieldsync_server::storage::SyncStorage;

/// A field several devices may set at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Field {
    Standard {
        display: DocId,
        standard: DisplayStandard,
    },
    PriceTag {
        display: DocId,
        sku: String,
    },
    Counted {
        count: DocId,
        sku: String,
    },
}

impl Field {
    pub fn doc(&self) -> &DocId {
        match self {
            Field::Standard { display, .. } | Field::PriceTag { display, .. } => display,
            Field::Counted { count, .. } => count,
        }
    }
}

/// A value of a stamped field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Verdict { verdict: Verdict, note: String },
    Tag(bool),
    Counted(i64),
}

/// One version of a field: its value and stamp.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    pub value: Value,
    pub by: String,
    pub at: Timestamp,
}

fn from_versions<T: Clone>(v: &Versions<T>, f: impl Fn(T) -> Value) -> Vec<Version> {
    v.all()
        .map(|w| Version {
            value: f(w.value.clone()),
            by: w.by.clone(),
            at: w.at,
        })
        .collect()
}

/// Every version of `field` that `local` shows (none when it was never set).
pub fn versions(local: &LocalStore, field: &Field) -> Result<Vec<Version>> {
    Ok(match field {
        Field::Standard { display, standard } => local
            .shelf_display(display)?
            .standard(*standard)
            .map(|v| {
                from_versions(v, |c| Value::Verdict {
                    verdict: c.verdict,
                    note: c.note,
                })
            })
            .unwrap_or_default(),
        Field::PriceTag { display, sku } => local
            .shelf_display(display)?
            .products
            .iter()
            .find(|p| p.sku == *sku)
            .map(|p| from_versions(&p.price_tag, Value::Tag))
            .unwrap_or_default(),
        Field::Counted { count, sku } => local
            .inventory_count(count)?
            .lines
            .iter()
            .find(|l| l.sku == *sku)
            .and_then(|l| l.counted.as_ref())
            .map(|c| from_versions(c, Value::Counted))
            .unwrap_or_default(),
    })
}

#[derive(Clone, Debug)]
struct StampedEdit {
    field: Field,
    version: Version,
    device: String,
    superseded_by: Option<usize>,
}

/// Every edit made in a test, in order.
#[derive(Clone, Debug, Default)]
pub struct Journal {
    stamped: Vec<StampedEdit>,
    /// Visit, token written into its notes.
    notes: Vec<(DocId, String)>,
    /// Visit, comment text.
    comments: Vec<(DocId, String)>,
    /// Visit, its store, its visitor.
    visits: Vec<(DocId, DocId, String)>,
    /// Other documents created (displays, counts).
    created: Vec<DocId>,
}

impl Journal {
    /// Records that `device` wrote `written` to `field` while it showed `shown` there.
    pub fn stamped(&mut self, device: &str, field: Field, shown: &[Version], written: Version) {
        let index = self.stamped.len();
        for edit in self.stamped.iter_mut() {
            if edit.field == field && shown.contains(&edit.version) {
                edit.superseded_by.get_or_insert(index);
            }
        }
        self.stamped.push(StampedEdit {
            field,
            version: written,
            device: device.into(),
            superseded_by: None,
        });
    }

    pub fn note(&mut self, visit: &DocId, token: &str) {
        self.notes.push((visit.clone(), token.into()));
    }

    pub fn comment(&mut self, visit: &DocId, text: &str) {
        self.comments.push((visit.clone(), text.into()));
    }

    pub fn visit(&mut self, visit: &DocId, store: &DocId, visitor: &str) {
        self.visits
            .push((visit.clone(), store.clone(), visitor.into()));
    }

    pub fn created(&mut self, doc: &DocId) {
        self.created.push(doc.clone());
    }

    /// How many edits were recorded.
    pub fn len(&self) -> usize {
        self.stamped.len()
            + self.notes.len()
            + self.comments.len()
            + self.visits.len()
            + self.created.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A device as the check sees it: its store and the stores in its scope.
#[derive(Clone, Copy, Debug)]
pub struct Holder<'a> {
    pub name: &'a str,
    pub local: &'a LocalStore,
    pub scope: &'a BTreeSet<DocId>,
}

/// What [`check`] compared.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Checked {
    pub documents: usize,
    pub edits: usize,
    /// Stamped values legitimately overwritten by a device that showed them.
    pub superseded: usize,
    /// Stamped values that ended up beside a concurrent one (a conflict shown to users).
    pub concurrent: usize,
}

struct ServerDoc {
    kind: DocKind,
    store: DocId,
    heads: Vec<String>,
}

/// The typed reading of a document, as text, to compare devices.
fn typed(local: &LocalStore, id: &DocId, kind: DocKind) -> Result<String> {
    Ok(match kind {
        DocKind::Store => format!("{:?}", local.store(id)?),
        DocKind::Visit => format!("{:?}", local.visit(id)?),
        DocKind::ShelfDisplay => format!("{:?}", local.shelf_display(id)?),
        DocKind::InventoryCount => format!("{:?}", local.inventory_count(id)?),
        // Not written by the property test; their heads are compared.
        _ => String::new(),
    })
}

fn sorted(mut heads: Vec<String>) -> Vec<String> {
    heads.sort();
    heads
}

fn fail(what: &str, e: &dyn std::fmt::Display) -> String {
    format!("{what}: {e}")
}

/// The server's documents: kind, store and heads, from its stored changes.
fn server_documents(
    server: &dyn SyncStorage,
    problem: &mut dyn FnMut(String),
) -> std::result::Result<BTreeMap<DocId, ServerDoc>, String> {
    let mut universe = BTreeMap::new();
    for (doc, kind) in server
        .documents()
        .map_err(|e| fail("server documents", &e))?
    {
        let id = DocId::parse("doc", &doc).map_err(|e| fail("server doc id", &e))?;
        let kind = DocKind::parse(&kind).map_err(|e| fail("server doc kind", &e))?;
        let changes = server
            .document_changes(&doc)
            .map_err(|e| fail("server changes", &e))?;
        let mut replica = Replica::load(&id, changes.iter().map(Vec::as_slice))
            .map_err(|e| fail(&format!("server replica of `{doc}`"), &e))?;
        let store = replica
            .summary()
            .ok()
            .flatten()
            .and_then(|s| s.store_id)
            .and_then(|s| DocId::parse("store", &s).ok());
        let Some(store) = store else {
            problem(format!("server document `{doc}` names no store"));
            continue;
        };
        let heads = sorted(replica.heads());
        universe.insert(id, ServerDoc { kind, store, heads });
    }
    Ok(universe)
}

/// Checks that the devices converged with the server and that no journalled edit was
/// lost; every problem found (up to 40) is listed in the error.
pub fn check(
    server: &dyn SyncStorage,
    holders: &[Holder<'_>],
    journal: &Journal,
) -> std::result::Result<Checked, String> {
    let mut problems: Vec<String> = Vec::new();
    let mut problem = |p: String| {
        if problems.len() < 40 {
            problems.push(p);
        }
    };
    let universe = server_documents(server, &mut problem)?;
    let mut checked = Checked::default();
    let mut first_reading: BTreeMap<DocId, (String, String)> = BTreeMap::new();
    for h in holders {
        match h.local.pending_documents() {
            Ok(p) if p.is_empty() => {}
            Ok(p) => problem(format!("{}: documents still pending: {p:?}", h.name)),
            Err(e) => problem(fail(&format!("{}: pending", h.name), &e)),
        }
        let mut held = BTreeSet::new();
        for kind in DocKind::ALL {
            match h.local.document_ids(kind) {
                Ok(ids) => held.extend(ids),
                Err(e) => problem(fail(&format!("{}: {kind} ids", h.name), &e)),
            }
        }
        let expected: BTreeSet<DocId> = universe
            .iter()
            .filter(|(_, d)| h.scope.contains(&d.store))
            .map(|(id, _)| id.clone())
            .collect();
        for id in held.difference(&expected) {
            problem(format!(
                "{}: holds `{id}`, which the server lacks or is out of its scope",
                h.name
            ));
        }
        for id in expected.difference(&held) {
            problem(format!("{}: lacks `{id}` of its scope", h.name));
        }
        for id in expected.intersection(&held) {
            let Some(doc) = universe.get(id) else {
                continue;
            };
            checked.documents += 1;
            match h.local.heads(id) {
                Ok(heads) if sorted(heads.clone()) == doc.heads => {}
                Ok(heads) => problem(format!(
                    "{}: `{id}` at heads {heads:?}, the server at {:?}",
                    h.name, doc.heads
                )),
                Err(e) => problem(fail(&format!("{}: heads of `{id}`", h.name), &e)),
            }
            match typed(h.local, id, doc.kind) {
                Ok(text) => match first_reading.get(id) {
                    None => {
                        first_reading.insert(id.clone(), (h.name.to_owned(), text));
                    }
                    Some((other, seen)) if *seen != text => problem(format!(
                        "`{id}` reads differently on {other} and {}:\n  {seen}\n  {text}",
                        h.name
                    )),
                    Some(_) => {}
                },
                Err(e) => problem(fail(&format!("{}: reading `{id}`", h.name), &e)),
            }
        }
    }

    // Every edit, on every device that has its document in scope.
    let in_scope = |doc: &DocId, problem: &mut dyn FnMut(String)| -> Vec<Holder<'_>> {
        match universe.get(doc) {
            Some(d) => holders
                .iter()
                .filter(|h| h.scope.contains(&d.store))
                .copied()
                .collect(),
            None => {
                problem(format!("`{doc}` never reached the server"));
                Vec::new()
            }
        }
    };
    for edit in &journal.stamped {
        checked.edits += 1;
        if edit.superseded_by.is_some() {
            checked.superseded += 1;
            continue;
        }
        for h in in_scope(edit.field.doc(), &mut problem) {
            match versions(h.local, &edit.field) {
                Ok(v) if v.contains(&edit.version) => {
                    if v.len() > 1 && h.name == holders.first().map_or("", |f| f.name) {
                        checked.concurrent += 1;
                    }
                }
                Ok(v) => problem(format!(
                    "{}: lost write to {:?} by {}: {:?} is not among {v:?}",
                    h.name, edit.field, edit.device, edit.version
                )),
                Err(e) => problem(fail(&format!("{}: {:?}", h.name, edit.field), &e)),
            }
        }
    }
    for (visit, token) in &journal.notes {
        checked.edits += 1;
        for h in in_scope(visit, &mut problem) {
            match h.local.visit(visit) {
                Ok(v) if v.notes.contains(token.as_str()) => {}
                Ok(v) => problem(format!(
                    "{}: notes of `{visit}` lost `{token}`: {:?}",
                    h.name, v.notes
                )),
                Err(e) => problem(fail(&format!("{}: visit `{visit}`", h.name), &e)),
            }
        }
    }
    for (visit, text) in &journal.comments {
        checked.edits += 1;
        for h in in_scope(visit, &mut problem) {
            match h.local.visit(visit) {
                Ok(v) if v.comments.iter().any(|c| c.text == *text) => {}
                Ok(_) => problem(format!("{}: comment `{text}` on `{visit}` lost", h.name)),
                Err(e) => problem(fail(&format!("{}: visit `{visit}`", h.name), &e)),
            }
        }
    }
    for (visit, store, visitor) in &journal.visits {
        checked.edits += 1;
        for h in in_scope(visit, &mut problem) {
            match h.local.visit(visit) {
                Ok(v) if v.store_id == *store && v.visitor == *visitor => {}
                Ok(v) => problem(format!(
                    "{}: visit `{visit}` is of `{}` by `{}`",
                    h.name, v.store_id, v.visitor
                )),
                Err(e) => problem(fail(&format!("{}: visit `{visit}`", h.name), &e)),
            }
        }
    }
    for doc in &journal.created {
        checked.edits += 1;
        // Presence on each device in scope was checked against the server's documents.
        let _ = in_scope(doc, &mut problem);
    }
    if problems.is_empty() {
        Ok(checked)
    } else {
        Err(problems.join("\n"))
    }
}
