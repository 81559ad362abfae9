//! Documents that arrive and cannot be read: kept aside, reported, repaired by later changes.
//!
//! An older server, or a client with a bug, may hand the phone a document that no reader
//! of this build can read as its kind: a shelf display whose verdict is `"banana"`, a visit
//! without `check_in`. Failing the merge would fail every later sync of the phone, and
//! every other document with it. Instead the merge ([`super::feed_merge`]) asks
//! [`check_readable`] of every document it is about to store; one that fails is written to
//! the `damaged` table (migration 5) with the changes the phone received for it and does
//! not hold in `documents`, and the sync goes on. What `documents` holds of it is left as
//! it was: a document this device could read before keeps that readable state and the
//! device's own edits (reads, edits and the outbox go on as usual); one it never could
//! read has no row there and no index rows, so rule queries leave it out, and reading it
//! gives [`Error::Damaged`]. When more changes arrive for it (a repair), they are merged
//! with the held ones and judged again; once it reads, it is stored as usual and its row
//! here is dropped.
//!
//! Apps list these documents with [`LocalStore::damaged_documents`], and show
//! [`LocalStore::rules_cannot_judge`] beside every rule answer (ADR 0010).

use std::collections::HashSet;

use automerge::{AutoCommit, ReadDoc, Value};
use rusqlite::{Connection, OptionalExtension, params};

use super::index::Derived;
use super::{Inner, LocalStore};
use crate::doc::{DOC_ROOT, Doc};
use crate::error::{Error, Result};
use crate::ids::{DocId, DocKind};
use crate::time::Timestamp;

/// A document this device received and cannot read as its kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DamagedDocument {
    pub id: DocId,
    /// The kind it names itself, when it can say.
    pub kind: Option<DocKind>,
    /// The retail store it is about, when it can say.
    pub store_id: Option<DocId>,
    /// Why it cannot be read (``field `check_in` is missing or has the wrong type``).
    pub reason: String,
    /// When this device first found it damaged, and last found it so (device clock).
    pub found_at: Timestamp,
    pub checked_at: Timestamp,
    /// Whether this device keeps an earlier, readable state of it: reads, edits and rule
    /// queries see that state, without the changes that cannot be read.
    pub earlier_version_kept: bool,
}

/// Whether `doc` can be read as its kind: its header, the kind's reader and the derivation
/// of its index rows, exactly as every reader on the phone will use them. This is the one
/// place that decides, with the kind's definition (`crate::kinds`). Returns the index rows of the
/// kinds whose rows are kept with a loaded document, so the merge does not derive them twice.
pub(crate) fn check_readable(doc: &Doc) -> Result<Option<Derived>> {
    // One read of each map serves the field walk and the reader.
    doc.reading(|doc| {
        doc.check_header()?;
        // The kind's definition, as the server judges it: a value of the wrong type or out
        // of its set is damage even where a lenient reader would skip it.
        crate::kinds::check_fields(doc).map_err(|v| Error::corrupt(doc.id.as_str(), v.message))?;
        Ok(crate::kinds::readable(doc)?.map(|rows| match rows {
            crate::kinds::Rows::Count(r) => Derived::Count(r),
            crate::kinds::Rows::Display(r) => Derived::Display(r),
            crate::kinds::Rows::Visit(r) => Derived::Visit(r),
        }))
    })
}

/// What a merge keeps of a document it could not read.
#[derive(Debug)]
pub(crate) struct Damage {
    pub(crate) kind: Option<DocKind>,
    pub(crate) store: Option<String>,
    pub(crate) reason: String,
    /// Every received change `documents` does not hold, encoded.
    pub(crate) changes: Vec<Vec<u8>>,
}

impl Damage {
    /// `doc` (with every received change applied) does not read: `error` says why.
    pub(crate) fn of(doc: &mut Doc, error: &Error, since: &[automerge::ChangeHash]) -> Damage {
        Damage {
            kind: Some(doc.kind),
            store: crate::kinds::store_of(doc),
            reason: reason(error),
            changes: doc.changes_since(since),
        }
    }

    /// What `documents` holds of the document could not be loaded: the received changes
    /// are kept as they came (`held` first, each change once).
    pub(crate) fn unloadable(
        kind: DocKind,
        error: &Error,
        held: &[Vec<u8>],
        new: &[Vec<u8>],
    ) -> Damage {
        let mut seen = HashSet::new();
        let changes = held
            .iter()
            .chain(new)
            .filter(|c| seen.insert(c.as_slice()))
            .cloned()
            .collect();
        Damage {
            kind: Some(kind),
            store: None,
            reason: reason(error),
            changes,
        }
    }
}

/// A document this device did not have, built from received changes: the document, or
/// what to keep aside when its header names no kind this build knows. A header that does
/// not name `id` is not damage but changes of another document (or not its creation): the
/// caller refuses them, as before.
pub(crate) fn new_document(
    id: &DocId,
    changes: Vec<automerge::Change>,
    actor: &automerge::ActorId,
) -> Result<std::result::Result<Doc, Damage>> {
    let mut am = AutoCommit::new().with_actor(actor.clone());
    am.apply_changes(changes)?;
    if let Some(hash) = am.get_missing_deps(&[]).first() {
        return Err(Error::invalid(
            "changes",
            format!("they depend on change `{hash}` of `{id}`, which this device does not have"),
        ));
    }
    match root_str(&am, "id") {
        None => {
            return Err(Error::invalid(
                "changes",
                format!("they do not hold the creation of `{id}`"),
            ));
        }
        Some(header) if header != id.as_str() => {
            return Err(Error::invalid(
                "changes",
                format!("they belong to document `{header}`, not `{id}`"),
            ));
        }
        Some(_) => {}
    }
    let kind = root_str(&am, "kind");
    match kind.as_deref().map(DocKind::parse) {
        Some(Ok(kind)) => Ok(Ok(Doc::from_parts(id.clone(), kind, am))),
        other => {
            let reason = match (other, kind) {
                (Some(Err(e)), _) => e.to_string(),
                (_, _) => "field `kind` is missing or has the wrong type".to_owned(),
            };
            let store = root_str(&am, "store_id");
            let changes = am
                .get_changes(&[])
                .into_iter()
                .map(|mut c| c.bytes().into_owned())
                .collect();
            Ok(Err(Damage {
                kind: None,
                store,
                reason,
                changes,
            }))
        }
    }
}

fn root_str(am: &AutoCommit, key: &str) -> Option<String> {
    match am.get(&DOC_ROOT, key) {
        Ok(Some((Value::Scalar(s), _))) => s.as_str().map(str::to_owned),
        _ => None,
    }
}

/// The reason of a damage as a sentence, without the "document `…` is corrupt" wrapper
/// the id already names.
fn reason(error: &Error) -> String {
    match error {
        Error::Corrupt { reason, .. } | Error::Damaged { reason, .. } => reason.clone(),
        other => other.to_string(),
    }
}

impl Inner {
    /// The received changes kept aside for `id`, if it is damaged.
    pub(crate) fn held_changes(&self, id: &DocId) -> Result<Option<Vec<Vec<u8>>>> {
        let blob: Option<Vec<u8>> = self
            .conn
            .prepare_cached("SELECT changes FROM damaged WHERE doc_id = ?1")?
            .query_row([id.as_str()], |r| r.get(0))
            .optional()?;
        let Some(blob) = blob else {
            return Ok(None);
        };
        let parts = crate::doc::split_changes(&blob).ok_or_else(|| {
            Error::corrupt(id.as_str(), "the changes kept aside for it do not parse")
        })?;
        Ok(Some(parts.into_iter().map(<[u8]>::to_vec).collect()))
    }

    /// Why `id` is damaged, when it is.
    pub(crate) fn damage_of(&self, id: &DocId) -> Result<Option<Error>> {
        let row: Option<(Option<String>, String)> = self
            .conn
            .prepare_cached("SELECT kind, reason FROM damaged WHERE doc_id = ?1")?
            .query_row([id.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        Ok(row.map(|(kind, reason)| Error::Damaged {
            id: id.to_string(),
            kind: kind.and_then(|k| DocKind::parse(&k).ok()),
            reason,
        }))
    }
}

/// Keeps `damage` aside for `id` (replacing what was kept: it holds every change kept before).
pub(crate) fn record_damage(
    tx: &Connection,
    id: &DocId,
    damage: &Damage,
    now: Timestamp,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO damaged (doc_id, kind, store_id, reason, found_at, checked_at, changes)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)
         ON CONFLICT (doc_id) DO UPDATE SET kind = excluded.kind, store_id = excluded.store_id,
             reason = excluded.reason, checked_at = excluded.checked_at, changes = excluded.changes",
    )?
    .execute(params![
        id.as_str(),
        damage.kind.map(DocKind::as_str),
        damage.store,
        damage.reason,
        now.0,
        damage.changes.concat(),
    ])?;
    Ok(())
}

/// The document reads again: nothing is kept aside for it any more.
pub(crate) fn clear_damage(tx: &Connection, id: &DocId) -> Result<()> {
    tx.prepare_cached("DELETE FROM damaged WHERE doc_id = ?1")?
        .execute([id.as_str()])?;
    Ok(())
}

const DAMAGED_COLUMNS: &str = "d.doc_id, d.kind, d.store_id, d.reason, d.found_at, d.checked_at,
     EXISTS (SELECT 1 FROM documents WHERE id = d.doc_id)";

impl LocalStore {
    /// Every document this device received and cannot read, by id. See the module's notes
    /// for what becomes of them.
    pub fn damaged_documents(&self) -> Result<Vec<DamagedDocument>> {
        let sql = format!("SELECT {DAMAGED_COLUMNS} FROM damaged d ORDER BY d.doc_id");
        self.read(|conn| query_damaged(conn, &sql, &[]))
    }

    /// The damaged documents that the rule queries for `manager`'s territory cannot judge
    /// (ADR 0010): those about a store the territory holds or has held (its past weeks
    /// count the stores it held then: ADR 0029), and those whose store this device cannot
    /// tell (no store named, or a store it does not know, such as a damaged store).
    /// An app shows them beside every rule answer: the answers leave them out, or judge the
    /// earlier version of those that have one.
    pub fn rules_cannot_judge(&self, manager: &str) -> Result<Vec<DamagedDocument>> {
        let sql = format!(
            "SELECT {DAMAGED_COLUMNS} FROM damaged d LEFT JOIN store_index s ON s.id = d.store_id
             WHERE d.store_id IS NULL OR s.id IS NULL OR s.territory = ?1
                OR EXISTS (SELECT 1 FROM store_period a
                           WHERE a.store_id = s.id AND a.territory = ?1)
             ORDER BY d.doc_id"
        );
        self.read(|conn| query_damaged(conn, &sql, &[manager]))
    }
}

fn query_damaged(conn: &Connection, sql: &str, args: &[&str]) -> Result<Vec<DamagedDocument>> {
    type Row = (
        String,
        Option<String>,
        Option<String>,
        String,
        i64,
        i64,
        bool,
    );
    let rows: Vec<Row> = conn
        .prepare_cached(sql)?
        .query_map(rusqlite::params_from_iter(args), |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    rows.into_iter()
        .map(|(id, kind, store, reason, found, checked, kept)| {
            Ok(DamagedDocument {
                id: DocId::parse("id", &id)?,
                kind: kind.and_then(|k| DocKind::parse(&k).ok()),
                store_id: store.and_then(|s| DocId::parse("store_id", &s).ok()),
                reason,
                found_at: Timestamp(found),
                checked_at: Timestamp(checked),
                earlier_version_kept: kept,
            })
        })
        .collect()
}
